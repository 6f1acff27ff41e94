"""`Assistant.handle(message) -> replies`: the one entry point every channel calls.

text ─► encode once ─► NLU (intent ranking + abstention, entities) ─► dialogue engine
     ─► rasa-sdk actions / responses / knowledge base ─► [Reply] ─► state saved (one transaction)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.coordination.locks import SenderLocks, StoreSenderLocks
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.requests import split_requests
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import InMemoryTrackerStore, TrackerStore
from bot.encoding import Encoded, Encoder, EncodingRequest, encode_with_layers
from bot.nlu.model import NluModel, parse_intent_payload
from bot.responses import ResponseRenderer
from bot.sentiment import Sentiment, SentimentModel
from bot.types import IntentScore, Message, Parse, Reply, Source

log = logging.getLogger(__name__)

RESTART_COMMANDS = frozenset({"/restart", "/session_start"})
_NO_INTENT = IntentScore("", 0.0)


@dataclass(frozen=True)
class HandleResult:
    parse: Parse | None
    replies: list[Reply]
    sentiment: Sentiment | None = None  # the message's sentiment (None: no sentiment model, or not a message)

    def as_json(self, text: str) -> dict[str, Any]:
        """Rasa's parse shape (with `"sentiment": {"label", "score"}` when known) plus the replies."""
        data: dict[str, Any] = (
            self.parse.as_dict() if self.parse else {"text": text, "intent": None, "entities": [], "intent_ranking": []}
        )
        if self.sentiment is not None:
            data["sentiment"] = self.sentiment.to_json()
        data["replies"] = [r.as_dict() for r in self.replies]
        return data


@dataclass
class AssistantOptions:
    max_message_chars: int = 2000
    session_expiration_minutes: int = 60
    carry_over_slots: bool = False
    slots_defaults: dict[str, Any] = field(default_factory=dict)


class Assistant:
    """Holds the loaded model, domain and stores; stateless between calls except through the store."""

    def __init__(
        self,
        *,
        encoder: Encoder,
        nlu: NluModel,
        engine: DialogueEngine,
        renderer: ResponseRenderer,
        tracker_store: TrackerStore | None = None,
        options: AssistantOptions | None = None,
        clock: Callable[[], float] = time.time,
        sentiment: SentimentModel | None = None,
        sender_locks: SenderLocks | None = None,
    ) -> None:
        self.encoder = encoder
        self.nlu = nlu
        self.engine = engine
        self.renderer = renderer
        self.tracker_store: TrackerStore = tracker_store or InMemoryTrackerStore()
        # one turn per conversation at a time: the store's lock, or a cluster's (bot/coordination/locks.py)
        self.sender_locks: SenderLocks = sender_locks or StoreSenderLocks(self.tracker_store)
        self.options = options or AssistantOptions()
        self.clock = clock
        self.sentiment = sentiment

    def warm_up(self) -> None:
        """Load the model and extractors now, so the first customer does not wait."""
        self.parse("hello")
        self.nlu.entities.warm_up()
        for part in (self.nlu.language, self.sentiment):
            warm = getattr(part, "warm_up", None)
            if warm is not None:
                warm()

    # -- NLU -------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> Encoded:
        """One encoder pass: the embeddings (for the knowledge base and NLU) and the layer features NLU uses."""
        return encode_with_layers(self.encoder, list(texts), self.layer_names)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layer features one encoder pass computes: NLU's and the sentiment model's."""
        extra = self.sentiment.layer_names if self.sentiment is not None else ()
        return tuple(dict.fromkeys((*self.nlu.layer_names, *extra)))

    def parse(self, text: str, encoded: Encoded | None = None) -> Parse:
        """NLU for one message; `encoded` is its one-row `encode([text])`, when already computed."""
        payload = parse_intent_payload(text, [*self.nlu.intents, "nlu_fallback", "restart"])
        if payload is not None:
            return payload
        if encoded is None:
            encoded = self.encode([text])
        return self.nlu.parse(text, encoded.vectors[0], encoded.layers)

    def parse_many(self, texts: Sequence[str]) -> list[Parse]:
        encoded = self.encode(texts)
        return [self.parse(t, encoded.rows([i])) for i, t in enumerate(texts)]

    # -- dialogue --------------------------------------------------------------------------------
    def handle(self, message: Message) -> list[Reply]:
        """Answer one customer message. Never raises for bad input; errors become polite replies."""
        return self.handle_full(message).replies

    def texts_to_encode(self, text: str) -> list[str]:
        """The texts `handle` sends through the encoder, in one batch: the message, then its parts when
        it may hold several requests (`split_requests`); empty for an empty or too long message, a
        command or a button payload."""
        text = text.strip()
        if not text or len(text) > self.options.max_message_chars or text.startswith("/"):
            return []
        parts = split_requests(text)
        return [text, *parts] if len(parts) > 1 else [text]

    def encoding_request(self, message: Message) -> EncodingRequest | None:
        """What `handle_full` would encode for `message`: its `texts_to_encode` with the layer features
        NLU reads; None when nothing is encoded (an empty or too long message, a command, a button
        payload). A server encodes it before the turn and passes the `Encoded` to `handle_full`."""
        texts = self.texts_to_encode(message.text)
        if not texts:
            return None
        return EncodingRequest(tuple(texts), self.layer_names)

    def handle_full(self, message: Message, encoded: Encoded | None = None) -> HandleResult:
        """Like `handle`, also returning the NLU result (for `supportbot ask --json` and tests).
        `encoded` is the encoding of `encoding_request(message)`, when already computed."""
        with self.sender_locks.hold(message.sender_id):
            state = self._load_state(message.sender_id)
            result = self._handle_locked(state, message, encoded)
            state.last_activity = self.clock()
            self.tracker_store.save(state)
            return result

    def _handle_locked(self, state: ConversationState, message: Message, encoded: Encoded | None) -> HandleResult:
        text = message.text.strip()
        if not text:
            return HandleResult(None, self._say(state, "utter_empty_message", message))
        if len(text) > self.options.max_message_chars:
            values = {"max_chars": self.options.max_message_chars}
            return HandleResult(None, self._say(state, "utter_message_too_long", message, values))
        if text in RESTART_COMMANDS:
            self._restart(state)
            return HandleResult(None, self._say(state, "utter_restart", message))
        texts = self.texts_to_encode(text)
        try:
            if encoded is None and texts:
                encoded = self.encode(texts)
            parse = self.parse(text, encoded.rows([0]) if encoded is not None else None)
            parts = [
                Turn(self.parse(part, encoded.rows([i])), encoded.vectors[i], message.input_channel, message.metadata)
                for i, part in enumerate(texts[1:], 1)
                if encoded is not None and len(encoded.vectors) == len(texts)
            ]
        except Exception:  # the model failing must not lose the conversation
            log.exception("NLU failed")
            return HandleResult(None, self._say(state, "utter_internal_error", message))
        embedding = encoded.vectors[0] if encoded is not None else None
        sentiment = self.predict_sentiment(text, encoded)
        turn = Turn(parse, embedding, message.input_channel, message.metadata, sentiment=sentiment)
        try:
            return HandleResult(parse, self.engine.handle(state, turn, parts), sentiment)
        except Exception:
            log.exception("dialogue failed for sender %s", state.sender_id)
            return HandleResult(parse, turn.replies + self._say(state, "utter_internal_error", message), sentiment)

    def predict_sentiment(self, text: str, encoded: Encoded | None) -> Sentiment | None:
        """The message's sentiment from its one encoding (row 0); neutral for a button payload; None
        without a sentiment model, or when it fails (the turn goes on without)."""
        if self.sentiment is None:
            return None
        if encoded is None:
            return Sentiment.neutral()
        try:
            return self.sentiment.predict(text, encoded.vectors[0], encoded.rows([0]).layers)
        except Exception:  # the sentiment model must never cost the customer their answer
            log.exception("sentiment failed")
            return None

    def on_feedback(self, sender_id: str, reply_id: str, value: str) -> list[Reply]:
        """A customer's vote on the reply `reply_id`. A thumbs down ("down") on a reply of this conversation
        gets an apology with other knowledge answers to the same question and a person as quick replies
        (docs/sentiment.md), recorded in the conversation; anything else gets nothing ([])."""
        if value != "down":
            return []
        with self.sender_locks.hold(sender_id):
            state = self.tracker_store.load(sender_id)
            if state is None:
                return []
            found = voted_reply(state.events, reply_id)
            if found is None:
                return []
            question, voted = found
            turn = Turn(question, None, None, {})
            self.engine.tone.thumbs_down(state, turn, voted)
            self.tracker_store.save(state)
            return turn.replies

    def _say(
        self, state: ConversationState, name: str, message: Message, values: dict[str, Any] | None = None
    ) -> list[Reply]:
        turn = Turn(Parse(message.text, _NO_INTENT), None, message.input_channel, message.metadata)
        self.engine.utter(state, turn, name, values)
        return turn.replies

    # -- state -----------------------------------------------------------------------------------
    def _load_state(self, sender_id: str) -> ConversationState:
        state = self.tracker_store.load(sender_id)
        now = self.clock()
        if state is None:
            state = ConversationState(sender_id)
            self._start_session(state, carry_over={})
            return state
        expiry = self.options.session_expiration_minutes * 60
        if expiry and state.last_activity and now - state.last_activity > expiry:
            carry = dict(state.slots) if self.options.carry_over_slots else {}
            carry.pop("requested_slot", None)
            self._start_session(state, carry_over=carry)
        return state

    def _start_session(self, state: ConversationState, carry_over: dict[str, Any]) -> None:
        state.session_id += 1
        state.events = []
        state.active_loop = None
        state.paused = False
        state.fallback_count = 0
        state.slots = dict(self.options.slots_defaults)
        state.add(event("action", name="action_session_start", policy=None, confidence=1.0))
        state.add(event("session_started"))
        for name, value in carry_over.items():
            state.set_slot(name, value)
        state.add(event("action", name="action_listen", policy=None, confidence=None))

    def _restart(self, state: ConversationState) -> None:
        state.add(event("restart"))
        self._start_session(state, carry_over={})

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return self.tracker_store.history(sender_id, limit)


def voted_reply(events: Sequence[dict[str, Any]], reply_id: str) -> tuple[Parse, Reply] | None:
    """The customer's message a bot reply answered and the reply (with its sources), by the reply's id."""
    question: dict[str, Any] | None = None
    for item in events:
        if item.get("event") == "user":
            question = item.get("parse_data") or {"text": item.get("text") or ""}
        elif item.get("event") == "bot" and (item.get("data") or {}).get("id") == reply_id and question is not None:
            data = item.get("data") or {}
            sources = tuple(
                Source(str(s.get("id", "")), str(s.get("title", "")), str(s.get("file", "")), s.get("url"))
                for s in data.get("sources") or []
            )
            intent = question.get("intent") or {}
            parse = Parse(
                str(question.get("text") or ""),
                IntentScore(str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)),
                language=question.get("language"),
            )
            kind = "knowledge" if sources else "response"
            return parse, Reply(str(item.get("text") or ""), sources=sources, kind=kind)
    return None
