"""`ScriptedAssistant`: a stand-in for `bot.assistant.Assistant` in tests of channels and servers.

    app = create_app(settings)
    app.state.assistant = ScriptedAssistant({"hi": [Reply("Hello!")]}, fallback=lambda text: [Reply(text)])

No model and no dialogue: the test decides what the bot says, and checks what the server did with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.assistant import HandleResult
from bot.dialogue.tracker_store import InMemoryTrackerStore, TrackerStore
from bot.encoding import Encoded, Encoder, FakeEncoder
from bot.types import IntentScore, Message, Parse, Reply

RESTART_REPLY = "Let's start again."


@dataclass
class ScriptedNlu:
    """What `/readyz` reads of the assistant's NLU."""

    intents: list[str]


class ScriptedAssistant:
    """Answers from a script, keeps what it was sent and the history `Assistant.history` would return.

    - `script[text]` is the reply list for that exact text; other texts get `fallback(text)` (default:
      no replies). `/restart` starts the conversation over (`RESTART_REPLY`). A text starting with
      "boom" raises RuntimeError quoting the message, as a failing turn would.
    - Every reply gets an id (r1, r2, …); the parse is `intent` at 0.9.
    - `messages` records the messages the channels handed over; the events (session start, user and bot
      messages with their reply data, restarts) feed `history`, so history and feedback endpoints work.
    - `encoder`, `nlu.intents` and `tracker_store` are there for `/readyz`; nothing is encoded before a
      turn (`encoding_request` is None).
    """

    def __init__(
        self,
        script: Mapping[str, Sequence[Reply]] | None = None,
        *,
        fallback: Callable[[str], Sequence[Reply]] | None = None,
        intent: str = "greet",
        intents: Sequence[str] = ("greet",),
    ) -> None:
        self.script = dict(script or {})
        self.fallback = fallback or _no_replies
        self.intent = intent
        self.encoder: Encoder = FakeEncoder(dim=8)
        self.nlu = ScriptedNlu(list(intents))
        self.tracker_store: TrackerStore = InMemoryTrackerStore()
        self.messages: list[Message] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self._replies = 0

    def encoding_request(self, message: Message) -> None:
        return None  # nothing to encode before the turn

    def handle_full(self, message: Message, encoded: Encoded | None = None) -> HandleResult:
        return HandleResult(Parse(message.text, IntentScore(self.intent, 0.9)), self.handle(message))

    def handle(self, message: Message) -> list[Reply]:
        self.messages.append(message)
        if message.text.startswith("boom"):
            raise RuntimeError(f"could not handle {message.text!r}")
        sender = message.sender_id
        if sender not in self.events:
            self._add(sender, "session_started")
        if message.text == "/restart":
            self._add(sender, "restart")
            self._add(sender, "session_started")
            replies: Sequence[Reply] = [Reply(RESTART_REPLY)]
        else:
            self._add(sender, "user", text=message.text, metadata=dict(message.metadata))
            replies = self.script[message.text] if message.text in self.script else self.fallback(message.text)
        return [self._say(sender, reply) for reply in replies]

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return self.events.get(sender_id, [])[-limit:]

    def on_feedback(self, sender_id: str, reply_id: str, value: str) -> list[Reply]:
        """A thumbs down is answered with `script["/feedback_down"]` (if scripted), said in the conversation."""
        if value != "down" or "/feedback_down" not in self.script:
            return []
        return [self._say(sender_id, reply) for reply in self.script["/feedback_down"]]

    def _say(self, sender: str, reply: Reply) -> Reply:
        self._replies += 1
        said = replace(reply, id=f"r{self._replies}")
        data = said.as_dict()
        data.pop("text")
        self._add(sender, "bot", text=said.text, data=data)
        return said

    def _add(self, sender: str, kind: str, **values: Any) -> None:
        self.events.setdefault(sender, []).append({"event": kind, "timestamp": time.time(), **values})


def _no_replies(text: str) -> Sequence[Reply]:
    return []
