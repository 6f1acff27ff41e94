"""Each group's best suggestion, decided over fake views of the knowledge base and the intents, and the
merging of groups that ask for the same change."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bot.faq.entry import KnowledgeEntry
from bot.learning.signals import Signal
from bot.learning.suggestions import SuggestConfig, Suggestion, draft_question, merge_same_change, suggest

CONFIG = SuggestConfig(alternate_min_score=0.45, alternate_min_margin=0.05, new_entry_file="knowledge/more.md")


class Knowledge:
    """Scores by text; `answered` texts are answered now."""

    def __init__(self, scores: Mapping[str, Mapping[str, float]], answered: Mapping[str, str] | None = None) -> None:
        self.scores = scores
        self.answered = answered or {}
        self.entries = {
            e: KnowledgeEntry(e, e, "answer", f"knowledge/{e.split('-')[0]}.md", 1, ("existing phrasing",))
            for s in scores.values()
            for e in s
        }

    def rank(self, embedding: np.ndarray, text: str, k: int) -> list[tuple[str, float]]:
        return sorted(self.scores.get(text, {}).items(), key=lambda x: -x[1])[:k]

    def answers(self, embedding: np.ndarray, text: str) -> str | None:
        return self.answered.get(text)

    def entry(self, entry_id: str) -> KnowledgeEntry | None:
        return self.entries.get(entry_id)

    def has_phrasing(self, text: str) -> bool:
        return text == "existing phrasing"


class Intents:
    intents = frozenset({"order_status", "greet", "faq", "out_of_scope"})

    def __init__(self, confident: Mapping[str, str] | None = None) -> None:
        self._confident = confident or {}

    def has_example(self, text: str) -> bool:
        return text == "where is my order"

    def confident(self, text: str) -> str | None:
        return self._confident.get(text)


def sig(text: str, *kinds: str, at: float = 1000.0, **values: object) -> Signal:
    return Signal(key=f"k-{text}-{at}", text=text, at=at, kinds=frozenset(kinds or ("abstention",)), **values)  # type: ignore[arg-type]


def run(signals: list[Signal], knowledge: Knowledge | None, intents: Intents | None = None) -> Suggestion | None:
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (len(signals), 1))
    return suggest(signals, vectors, knowledge, intents or Intents(), CONFIG)


def test_close_to_one_entry_is_an_alternate_of_it() -> None:
    kb = Knowledge({"cost to ship to berlin": {"shipping-germany": 0.62, "shipping-france": 0.41},
                    "shipping price berlin": {"shipping-germany": 0.58, "shipping-france": 0.40}})  # fmt: skip
    s = run([sig("cost to ship to berlin", at=10), sig("shipping price berlin", at=20)], kb)
    assert s is not None
    assert (s.kind, s.target, s.file, s.key) == ("alternate", "shipping-germany", "knowledge/shipping.md",
                                                  "alternate:shipping-germany")  # fmt: skip
    assert set(s.phrasings) == {"cost to ship to berlin", "shipping price berlin"}
    assert (s.count, s.first_seen, s.last_seen, s.signals) == (2, 10, 20, {"abstention": 2})
    assert s.examples == ("shipping price berlin", "cost to ship to berlin")  # most recent first
    assert s.candidates[0] == ("shipping-germany", 0.6) and "close to entry" in s.reason


def test_two_entries_too_close_to_call_ask_for_a_new_entry() -> None:
    kb = Knowledge({"gift card for berlin shop": {"gift-cards": 0.50, "stores-berlin": 0.48}})
    s = run([sig("gift card for berlin shop")], kb)
    assert s is not None and s.kind == "new_entry"
    assert s.question == "Gift card for berlin shop" and s.file == "knowledge/gift.md"


def test_far_from_every_entry_is_a_new_entry_in_the_default_file() -> None:
    kb = Knowledge({"do you sell perfume": {"returns": 0.12}})
    s = run([sig("do you sell perfume")], kb)
    assert s is not None and (s.kind, s.question, s.file) == ("new_entry", "Do you sell perfume?", "knowledge/more.md")
    assert "write the answer" in s.reason


def test_the_entry_customers_picked_wins_over_scores() -> None:
    kb = Knowledge({"parcel to munich": {"shipping-germany": 0.40, "shipping-austria": 0.39}})
    s = run([sig("parcel to munich", chosen_entry="shipping-germany")], kb)
    assert s is not None and (s.kind, s.target) == ("alternate", "shipping-germany") and "picked" in s.reason


def test_an_entry_found_wanting_is_not_suggested_for_its_message() -> None:
    kb = Knowledge({"return worn shoes": {"exchanges": 0.9, "returns": 0.6, "repairs": 0.2}})
    s = run([sig("return worn shoes", "thumbs_down", answered_entry="exchanges")], kb)
    assert s is not None and (s.kind, s.target) == ("alternate", "returns")


def test_a_task_intent_at_low_confidence_gets_examples() -> None:
    signals = [sig("wheres my stuff", "low_confidence", intent="order_status", confidence=0.4),
               sig("where is my order", "low_confidence", intent="order_status", confidence=0.45)]  # fmt: skip
    s = run(signals, Knowledge({}))
    assert s is not None and (s.kind, s.target, s.key) == ("intent_example", "order_status", "intent:order_status")
    assert s.phrasings == ("wheres my stuff",)  # the other one is an example already


def test_a_confirmed_intent_wins() -> None:
    s = run([sig("yo", "low_confidence", intent="order_status", confidence=0.2, chosen_intent="greet")], None)
    assert s is not None and (s.kind, s.target) == ("intent_example", "greet") and "confirmed" in s.reason


def test_noise_and_off_topic_are_ignored() -> None:
    noise = run([sig("👍👍"), sig("??")], Knowledge({}))
    assert noise is not None and noise.kind == "ignore" and "emoji-only" in noise.reason
    oos = run([sig("what is the meaning of life", intent="out_of_scope", confidence=0.9)], Knowledge({}))
    assert oos is not None and oos.kind == "ignore" and "out of scope" in oos.reason


def test_every_phrasing_known_already_is_ignored() -> None:
    s = run([sig("existing phrasing")], Knowledge({"existing phrasing": {"returns": 0.9}}))
    assert s is not None and s.kind == "ignore" and "in the knowledge base now" in s.reason


def test_a_group_handled_well_now_gets_no_suggestion() -> None:
    kb = Knowledge({"track parcel": {"tracking": 0.9}}, answered={"track parcel": "tracking"})
    assert run([sig("track parcel")], kb) is None
    # ... unless the knowledge base still answers with the entry the customer turned down
    assert run([sig("track parcel", "thumbs_down", answered_entry="tracking")], kb) is not None
    # a low-confidence message the model is sure of now
    low = sig("hiya", "low_confidence", intent="greet", confidence=0.3)
    assert run([low], Knowledge({}), Intents({"hiya": "greet"})) is None


def test_groups_asking_for_the_same_change_merge() -> None:
    base = Suggestion(key="alternate:returns", kind="alternate", reason="r1", count=2, examples=("a", "b"),
                      first_seen=5, last_seen=50, signals={"abstention": 2}, signal_keys=("1", "2"),
                      target="returns", phrasings=("a", "b"))  # fmt: skip
    other = Suggestion(key="alternate:returns", kind="alternate", reason="r2", count=1, examples=("c",),
                       first_seen=1, last_seen=60, signals={"thumbs_down": 1}, signal_keys=("3",),
                       target="returns", phrasings=("c",))  # fmt: skip
    lone = Suggestion(key="group:x", kind="new_entry", reason="r3", count=1, examples=("d",), first_seen=1,
                      last_seen=1, signals={"abstention": 1}, signal_keys=("4",))  # fmt: skip
    merged, single = merge_same_change([base, lone, other], CONFIG)
    assert single == lone
    assert (merged.count, merged.first_seen, merged.last_seen, merged.reason) == (3, 1, 60, "r1")
    assert merged.phrasings == ("a", "b", "c") and merged.signal_keys == ("1", "2", "3")
    assert merged.signals == {"abstention": 2, "thumbs_down": 1}


def test_draft_question() -> None:
    assert draft_question("  how do i   pay  ") == "How do i pay?"
    assert draft_question("gift wrapping.") == "Gift wrapping"
    assert draft_question("Can I pay later!") == "Can I pay later!"
