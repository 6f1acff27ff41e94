"""Learning end to end on a real server (loopback), the real encoder, real training and the SQL database, for a
small shop (three intents, one knowledge file) so that a training takes seconds:

- a question the bot could not answer is suggested, accepted by a person over HTTP, and answered afterwards;
- an accepted intent example retrains in the background and the server swaps models under live traffic
  without one failed request, conversations carrying on across the swap;
- a retrain that fails keeps the last good model serving, and says why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import bootstrap
from bot.config import Settings
from bot.learning.changes import content_hash
from bot.learning.store import SqlSuggestionStore
from bot.learning.suggestions import Suggestion
from server.app import create_app
from server.testing import ServerThread
from tests.learning.conftest import write

pytestmark = pytest.mark.integration

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello there
    - good morning
    - hey, anyone around?

- intent: goodbye
  examples: |
    - bye
    - see you later
    - that's all, goodbye
    - have a nice day

- intent: order_status
  examples: |
    - where is my order
    - track my parcel
    - has my order shipped yet
    - when will my package arrive
"""

RESPONSES = """\
version: "3.1"
responses:
""" + "".join(
    f'  {name}:\n  - text: "{text}"\n'
    for name, text in {
        "utter_greet": "Hello! How can I help?",
        "utter_goodbye": "Goodbye!",
        "utter_order_status": "Let me look up your order.",
        "utter_default": "Sorry, I didn't get that.",
        "utter_default_again": "Sorry, I still didn't get that.",
        "utter_ask_rephrase": "Could you say that in other words?",
        "utter_out_of_scope": "That's outside what I can help with.",
        "utter_ask_affirmation": "Did you mean {intent_1_title} or {intent_2_title}?",
        "utter_empty_message": "You sent an empty message.",
        "utter_message_too_long": "That message is too long.",
        "utter_internal_error": "Something went wrong on our side.",
        "utter_restart": "Let's start again.",
    }.items()
)

PAYMENTS = """\
---
title: Payments
---

## Which payment methods do you accept? {#payment-methods}
Also asked:
- how can I pay
- do you take PayPal
- can I pay by card

We take cards and PayPal.

## When will I be charged? {#when-charged}
Also asked:
- when do you take the money

When your order ships.
"""


@dataclass
class Shop:
    url: str
    app: Any
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def chat(self, sender: str, text: str, client: httpx.Client | None = None) -> httpx.Response:
        headers = {"X-Conversation-Token": self.tokens[sender]} if sender in self.tokens else {}
        post = client.post if client is not None else httpx.post
        response = post(f"{self.url}/chat", json={"sender": sender, "message": text}, headers=headers, timeout=60)
        if response.status_code == 200 and response.json().get("token"):
            self.tokens[sender] = response.json()["token"]
        return response

    def model(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/admin/learn/model").json()
        return body

    def wait_model(self, condition: Any, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.model()
            if condition(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"the retraining did not get there in {timeout:.0f} s: {self.model()}")

    def suggest_examples(self, intent: str, *examples: str) -> int:
        """An open suggestion of intent examples, as a refresh would store it."""
        nlu = self.settings.intents_path / "nlu.yml"
        now = time.time()
        draft = Suggestion(
            key=f"intent:{intent}",
            kind="intent_example",
            reason="test",
            count=len(examples),
            examples=examples,
            first_seen=now,
            last_seen=now,
            signals={"low_confidence": len(examples)},
            signal_keys=examples,
            target=intent,
            phrasings=examples,
            file="intents/nlu.yml",
            base_hash=content_hash(nlu.read_text()),
        )
        [stored] = SqlSuggestionStore.from_url(self.settings.resolved_database_url).sync_open([draft], time.time())
        return stored.id or 0


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    root: Path = tmp_path_factory.mktemp("learning-shop")
    write(root / "intents" / "nlu.yml", NLU)
    write(root / "intents" / "responses.yml", RESPONSES)
    write(root / "knowledge" / "payments.md", PAYMENTS)
    settings = Settings(
        project_dir=root,
        state_dir=root / ".state",
        nlu_layer_features=[],  # the embedding alone: a training takes seconds
        detect_languages=[],
        catalogue_provider="",
        rate_limit_per_minute=0,
        rate_limit_per_ip_per_minute=0,
        learning_retrain=True,
    )
    app = create_app(settings)
    with ServerThread(app, timeout=240) as url:
        yield Shop(url, app, settings)


def test_an_accepted_suggestion_answers_the_same_question_afterwards(shop: Shop) -> None:
    question = "do you offer gift wrapping"
    before = shop.chat("c1", question).json()["replies"]
    assert not any(r.get("sources") for r in before)  # the bot does not know yet
    refreshed = httpx.post(f"{shop.url}/admin/learn/refresh", timeout=60).json()
    [suggestion] = [s for s in refreshed["suggestions"] if question in s["examples"]]
    assert suggestion["kind"] == "new_entry" and suggestion["question"] == "Do you offer gift wrapping?"
    accepted = httpx.post(
        f"{shop.url}/admin/learn/suggestions/{suggestion['id']}/accept",
        json={"by": "anna", "answer": "Yes, every order can be gift wrapped for €3."},
        timeout=60,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["knowledge"]["ok"] is True
    after = shop.chat("c2", question).json()["replies"]
    assert after[0]["sources"][0]["id"] == "do-you-offer-gift-wrapping"
    assert "gift wrapped for €3" in after[0]["text"]


def test_retraining_swaps_the_model_under_live_traffic_without_a_failed_request(shop: Shop) -> None:
    serving = shop.app.state.assistant
    model = shop.model()["model"]
    results: list[int | str] = []
    stop = threading.Event()

    def customers(worker: int) -> None:
        with httpx.Client() as client:
            n = 0
            while not stop.is_set():
                sender = f"w{worker}-{n // 4}"  # four messages per conversation: many conversations span the swap
                text = ["hello there", "where is my order", "how can I pay", "bye"][n % 4]
                try:
                    results.append(shop.chat(sender, text, client).status_code)
                except httpx.HTTPError as e:
                    results.append(type(e).__name__)
                n += 1

    workers = [threading.Thread(target=customers, args=(w,)) for w in range(3)]
    for w in workers:
        w.start()
    try:
        number = shop.suggest_examples("order_status", "wheres my stuff at", "any news on my delivery")
        accepted = httpx.post(f"{shop.url}/admin/learn/suggestions/{number}/accept", json={"by": "dev"}, timeout=60)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["retrain"]["state"] in ("waiting", "training")
        status = shop.wait_model(lambda s: s["swaps"] >= 1 and s["state"] == "idle")
        time.sleep(0.5)  # traffic on the new model too
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    assert status["last_outcome"] == "swapped" and status["model"] != model
    assert shop.app.state.assistant is not serving
    new = shop.app.state.assistant
    current = bootstrap.model_is_current(shop.settings, new.encoder, bootstrap.load_project(shop.settings))
    assert current is not None and current.name == status["model"]  # the model of the data with the new examples
    assert new.nlu.meta["n_examples"] >= serving.nlu.meta["n_examples"] + 2
    assert new.tracker_store is serving.tracker_store  # conversations carry on
    assert len(results) > 20 and set(results) == {200}, [r for r in results if r != 200][:5]


def test_a_failing_retrain_keeps_the_last_good_model(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    serving = shop.app.state.assistant
    before = shop.model()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("No space left on device")

    monkeypatch.setattr(bootstrap, "train", broken)
    number = shop.suggest_examples("greet", "good evening to you")
    accepted = httpx.post(f"{shop.url}/admin/learn/suggestions/{number}/accept", json={"by": "dev"}, timeout=60)
    assert accepted.status_code == 200  # the accepted change is kept in the file: nothing is lost
    assert "- good evening to you" in (shop.settings.intents_path / "nlu.yml").read_text()
    status = shop.wait_model(lambda s: s["last_outcome"] == "failed", timeout=60)
    assert "No space left on device" in status["last_message"] and "the serving model stays" in status["last_message"]
    assert status["model"] == before["model"] and shop.app.state.assistant is serving
    assert shop.chat("f1", "where is my order").status_code == 200
