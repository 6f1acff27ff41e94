"""Fixtures of the learning tests: a small project (knowledge + intents) on disk, conversations as the
dialogue engine stores them, and a learner over fakes (the hashing encoder, in-memory stores)."""

from __future__ import annotations

import itertools
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.encoding import FakeEncoder
from bot.faq.index import NumpyIndex
from bot.faq.loader import load_knowledge
from bot.faq.service import KnowledgeService
from bot.faq.thresholds import Thresholds
from bot.faq.unanswered import MemoryUnansweredStore
from bot.feedback import InMemoryFeedbackStore
from bot.intents_loader import load_intents
from bot.learning.changes import ProjectPaths
from bot.learning.learner import Learner, LearningConfig, Views
from bot.learning.sources import InMemoryConversationLog, SignalSources
from bot.learning.store import InMemorySuggestionStore
from bot.learning.views import SnapshotKnowledge, TrainingIntents
from bot.learning.wiring import knowledge_problems

PAYMENTS = """\
---
title: Payments
---
# Payments

<!-- Staff: keep the card list in sync with the checkout. -->

## Which payment methods do you accept? {#payment-methods}
Also asked:
- how can I pay
- do you take PayPal

We take cards and PayPal.

## Can I pay in instalments? {#instalments}
Country: France, Germany

Yes, with Klarna in three instalments.
"""

SHIPPING = """\
# Shipping

## How long does delivery to Germany take? {#delivery-germany}
Also asked:
* shipping time to germany

Two to four business days.
"""

NLU = """\
version: "3.1"

# Task intents of the test shop.
nlu:
- intent: order_status
  examples: |
    - where is my order
    - track my parcel
    - has my order shipped

# Greetings: keep them short.

- intent: greet
  examples: |
    - hi
    - hello
    - good morning
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@dataclass
class Project:
    root: Path
    paths: ProjectPaths

    @property
    def knowledge(self) -> Path:
        return self.paths.knowledge_path

    @property
    def intents(self) -> Path:
        return self.paths.intents_path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "shop"
    write(root / "knowledge" / "payments.md", PAYMENTS)
    write(root / "knowledge" / "shipping.md", SHIPPING)
    write(root / "intents" / "nlu.yml", NLU)
    return Project(root, ProjectPaths(root, root / "knowledge", root / "intents"))


@dataclass
class Chat:
    """Writes conversation events the way the dialogue engine stores them."""

    log: InMemoryConversationLog = field(default_factory=InMemoryConversationLog)
    now: float = field(default_factory=lambda: time.time() - 3600)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def _at(self) -> float:
        self.now += 5
        return self.now

    def start(self, sender: str) -> None:
        self.log.add(sender, {"event": "session_started", "timestamp": self._at()})

    def user(self, sender: str, text: str, intent: str = "faq", confidence: float = 0.95, **parse: Any) -> None:
        ranking = [{"name": intent, "confidence": confidence}]
        if intent == "nlu_fallback":
            ranking.append({"name": parse.pop("top", "greet"), "confidence": parse.pop("top_confidence", 0.3)})
        data = {"text": text, "intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranking, **parse}
        number = next(self.ids)
        self.log.add(
            sender,
            {"event": "user", "timestamp": self._at(), "text": text, "parse_data": data, "message_id": f"m{number}"},
        )

    def bot(self, sender: str, text: str, *, kind: str = "response", reply_id: str = "", sources: tuple[str, ...] = (),
            buttons: tuple[str, ...] = (), response: str = "", action: str | None = None) -> str:  # fmt: skip
        reply_id = reply_id or f"r{next(self.ids)}"
        if action:
            self.log.add(sender, {"event": "action", "timestamp": self._at(), "name": action})
        data: dict[str, Any] = {"buttons": [{"title": b, "payload": b} for b in buttons], "id": reply_id}
        if sources:
            data["sources"] = [{"id": s, "title": "t", "file": "f"} for s in sources]
        metadata: dict[str, Any] = {"kind": kind}
        if response:
            metadata["response"] = response
        self.log.add(
            sender, {"event": "bot", "timestamp": self._at(), "text": text, "data": data, "metadata": metadata}
        )
        return reply_id

    def answer(self, sender: str, entry: str) -> str:
        return self.bot(
            sender, f"answer of {entry}", kind="knowledge", sources=(entry,), action="action_knowledge_answer"
        )

    def dont_know(self, sender: str) -> str:
        return self.bot(sender, "I don't know", kind="knowledge", buttons=("/human_handoff",),
                        action="action_knowledge_unknown")  # fmt: skip

    def did_you_mean(self, sender: str, *questions: str) -> str:
        return self.bot(sender, "Did you mean", kind="knowledge", buttons=questions, action="action_knowledge_suggest")


@pytest.fixture
def chat() -> Chat:
    return Chat()


@dataclass
class Kit:
    """A learner over the project with fakes, and what it reads from."""

    project: Project
    chat: Chat
    unanswered: MemoryUnansweredStore
    feedback: InMemoryFeedbackStore
    store: InMemorySuggestionStore
    encoder: FakeEncoder
    knowledge: KnowledgeService
    changes: list[Any]
    learner: Learner


def knowledge_service(folder: Path, encoder: FakeEncoder) -> KnowledgeService:
    service = KnowledgeService(
        folder, encoder, thresholds=Thresholds(answer=0.9, suggest=0.5), index_factory=NumpyIndex
    )
    service.load()
    return service


@pytest.fixture
def make_kit(project: Project, chat: Chat) -> Callable[..., Kit]:
    def make(config: LearningConfig | None = None, parser: Any = None) -> Kit:
        encoder = FakeEncoder(dim=256)
        service = knowledge_service(project.knowledge, encoder)
        unanswered = MemoryUnansweredStore()
        feedback = InMemoryFeedbackStore()
        store = InMemorySuggestionStore()
        changes: list[Any] = []

        def training() -> Any:
            return load_intents(project.intents, root=project.root).data

        def views() -> Views:
            snapshot = service.snapshot
            return Views(SnapshotKnowledge(snapshot.entries, snapshot.responder), TrainingIntents(training(), parser))

        def on_change(change: Any) -> None:
            changes.append(change)
            if change.area == "knowledge":
                service.reload()

        learner = Learner(
            store=store,
            sources=SignalSources(chat.log, lambda: unanswered.questions, feedback),
            encoder=encoder,
            views=views,
            paths=project.paths,
            entries=lambda: load_knowledge(project.knowledge, project.root).entries,
            training=training,
            validators={
                "knowledge": lambda: _knowledge_problems(project),
                "intents": lambda: load_intents(project.intents, root=project.root).problems,
            },
            config=config or LearningConfig(),
            on_change=on_change,
        )
        return Kit(project, chat, unanswered, feedback, store, encoder, service, changes, learner)

    return make


def _knowledge_problems(project: Project) -> list[Any]:
    from bot.config import Settings

    return knowledge_problems(Settings(project_dir=project.root))
