"""Customer memory in the dialogue: who the customer is on this message, and what their conversation leaves.

On every message (`begin`) the customer is proven by the signed token in the message's metadata, else by
the email an action verified in this session (`verified_email`), else not at all: a sender id alone
never links a conversation to anyone, and a new session starts anonymous. A proven customer's remembered
shop is put in the `customer_shop` slot for the actions (hours and appointments use it).

After the message (`finish`): a proven customer who was never asked gets the question once, when the
message showed a preference ("Shall I remember Berlin as your shop for next time?"); with their yes, new
preferences are remembered as they come (each shown as a "remembered" note on the reply), and the session
leaves a short record (date, topics, outcome) and the products seen. The answers to the question and to
"shall I forget …?" are read first on the next message (`answer_pending`). The intents "remember that …",
"what do you know about me?" and "forget …" are answered by `bot.dialogue.memory_talk`.

A proven customer who greets (the widget's start payload `/greet`, or "hello") is greeted by the shop's
`action_greet_known_customer` (`greet_known`), which mentions an open order, appointment or return and
offers its next step; it is handed the customer in `latest_message.metadata` only while it runs. When it
says nothing (nothing open), the usual greeting follows. Anonymous customers always get the usual one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot import intent_names
from bot.customers.identity import (
    CUSTOMER_SHOP_SLOT,
    KNOWN_CUSTOMER_METADATA_KEY,
    TOKEN_METADATA_KEY,
    VERIFIED_EMAIL_SLOT,
    Identity,
    check_customer_token,
    normalise_email,
)
from bot.customers.preferences import shop_of, sizes_of
from bot.customers.profile import Consent, ConversationRecord, CustomerProfile, Outcome, ProductSeen, Relation
from bot.customers.store import CustomerStore
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.errors import BackendError
from bot.products.ranking import ShopperPreferences
from bot.types import Reply

if TYPE_CHECKING:
    from bot.dialogue.engine import DialogueEngine
    from bot.dialogue.memory_talk import MemoryTalk

log = logging.getLogger("supportbot.customers")

REMEMBER = "remember_preference"
ASK = "ask_what_you_know"
FORGET = "forget_preference"
MEMORY_INTENTS = frozenset({REMEMBER, ASK, FORGET})
GREET_KNOWN_CUSTOMER = "action_greet_known_customer"
"""The shop's action that greets a proven customer with what they have open (`bot.actions.greeting`)."""
NOTE = "utter_memory_note"
"""Renders one remembered thing as a short text ("Berlin as your shop"): the reply's `remembered` note."""
NOT_TOPICS = frozenset(
    {*intent_names.ABSTENTIONS, *intent_names.FORM_FILLING, intent_names.STOP, intent_names.ASK_WHY}
    | {intent_names.GREET, intent_names.THANKS, intent_names.GOODBYE, "bot_challenge", "restart", ""}
    | MEMORY_INTENTS
)
"""Intents that say nothing about what a conversation was about."""
SIGNED_IN_NOTE = "signed_in"
"""The session note naming the shop's customer id a signed token proved on the latest message."""


@dataclass(frozen=True)
class MemoryConfig:
    """What customer memory needs: the store (None: off), the token secret (None: no token accepted)."""

    store: CustomerStore | None = None
    token_secret: str | None = None
    enabled: bool = True
    write_behind: bool = False
    """Write the session's record and the products seen on a background thread, after the reply (the
    server's wiring); False: during the message (tests, the fake store)."""


@dataclass(frozen=True)
class KnownCustomer:
    identity: Identity
    profile: CustomerProfile | None

    @property
    def consented(self) -> CustomerProfile | None:
        """The profile, when the customer said yes to being remembered."""
        return self.profile if self.profile is not None and self.profile.consent is Consent.GIVEN else None


def stored_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The message's metadata as it is kept in the conversation: never the customer token (a credential),
    nor a client's claim of who the customer is (only the dialogue hands that to the greeting action)."""
    return {k: v for k, v in metadata.items() if k not in (TOKEN_METADATA_KEY, KNOWN_CUSTOMER_METADATA_KEY)}


def proven_identities(state: ConversationState) -> tuple[Identity, ...]:
    """Who the conversation's customer proved to be in this session, read from the memory's notes (for staff
    tools such as the console inbox): the shop's customer id when the latest message the dialogue handled
    carried a valid signed token, and the email an action verified. Empty when anonymous."""
    notes = state.customer
    if notes.get("session") != state.session_id:
        return ()
    found: list[Identity] = []
    signed_in, verified = notes.get(SIGNED_IN_NOTE), notes.get("verified")
    if isinstance(signed_in, str) and signed_in:
        found.append(Identity("shop", signed_in))
    if isinstance(verified, str) and verified:
        found.append(Identity.email(verified))
    return tuple(found)


class CustomerMemory:
    def __init__(
        self, engine: DialogueEngine, config: MemoryConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        from bot.dialogue.memory_talk import MemoryTalk

        self.engine = engine
        config = config or MemoryConfig()
        self.store = config.store
        self.token_secret = config.token_secret
        self.enabled = config.enabled and config.store is not None
        self.clock = clock
        self.talk: MemoryTalk = MemoryTalk(self)
        self.later = ThreadPoolExecutor(1, thread_name_prefix="customer-records") if config.write_behind else None
        forms = engine.domain.forms
        self.task_actions = frozenset(a for form in forms for a in engine.domain.submit_actions(form))

    # -- the customer of this message ------------------------------------------------------------
    def notes(self, state: ConversationState) -> dict[str, Any]:
        """This session's notes (`ConversationState.customer`), started afresh with every session."""
        if state.customer.get("session") != state.session_id:
            state.customer = {"session": state.session_id}
        return state.customer

    def begin(self, state: ConversationState, turn: Turn) -> None:
        state.known_customer = None
        if not self.enabled:
            return
        notes = self.notes(state)
        identity = self._token_identity(turn)
        if identity is not None:  # kept for staff (`proven_identities`): the shop's id, never the token
            notes[SIGNED_IN_NOTE] = identity.value
        else:
            notes.pop(SIGNED_IN_NOTE, None)
        if identity is None and notes.get("verified"):
            identity = Identity.email(str(notes["verified"]))
        if identity is not None:
            state.known_customer = KnownCustomer(identity, self.find(identity, brief=True))
        self.sync_shop(state)

    def _token_identity(self, turn: Turn) -> Identity | None:
        token = turn.metadata.get(TOKEN_METADATA_KEY) if turn.metadata else None
        if token is None:
            return None
        check = check_customer_token(token, self.token_secret, self.clock())
        if check.problem is not None:
            log.warning(
                "a customer token was refused (%s) on channel %s: the message is handled as anonymous",
                check.problem.value,
                turn.input_channel or "unknown",
            )
        return check.identity

    def find(self, identity: Identity, *, brief: bool = False) -> CustomerProfile | None:
        """The customer's profile (`brief`: preferences only, what every message reads); None when there is
        none or the store fails (logged: memory is a comfort, the conversation goes on without it)."""
        if self.store is None:
            return None
        self.flush()  # this customer's records written behind the previous message land first
        try:
            return self.store.find_brief(identity) if brief else self.store.find(identity)
        except BackendError:
            log.exception("customer memory: reading a profile failed; answering without it")
            return None

    def completed(self, state: ConversationState) -> KnownCustomer | None:
        """The proven customer with their whole profile (products and conversation records too), read
        when a memory question needs it."""
        known: KnownCustomer | None = state.known_customer
        if known is not None and known.profile is not None and not known.profile.complete:
            known = KnownCustomer(known.identity, self.find(known.identity))
            state.known_customer = known
        return known

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the records written behind earlier messages are stored (tests, shutdown)."""
        if self.later is not None:
            try:
                self.later.submit(lambda: None).result(timeout)
            except TimeoutError:
                log.warning("customer memory: records written behind are still pending after %.0f s", timeout)

    def _write(self, write: Callable[..., None], *args: Any) -> None:
        """A record write: behind the reply when configured (a failure is logged), else now."""
        if self.later is None:
            write(*args)
            return

        def run() -> None:
            try:
                write(*args)
            except BackendError:
                log.exception("customer memory: a record written after the reply failed; it is dropped")

        self.later.submit(run)

    def sync_shop(self, state: ConversationState) -> None:
        """`customer_shop` = the proven, consenting customer's shop (unset otherwise), when the domain has it."""
        if CUSTOMER_SHOP_SLOT not in self.engine.domain.slots:
            return
        known = state.known_customer
        profile = known.consented if known is not None else None
        shop = profile.preferences.get("shop") if profile is not None else None
        if state.slots.get(CUSTOMER_SHOP_SLOT) != shop:
            state.set_slot(CUSTOMER_SHOP_SLOT, shop)

    def preferences(self, state: ConversationState) -> ShopperPreferences | None:
        """What product search may use: the consenting customer's sizes and shop."""
        known = state.known_customer
        profile = known.consented if known is not None else None
        if profile is None or not (profile.sizes or profile.preferences.get("shop")):
            return None
        return ShopperPreferences(sizes=profile.sizes, shop=profile.preferences.get("shop"))

    # -- answers to the bot's yes/no questions ---------------------------------------------------
    def answer_pending(self, state: ConversationState, turn: Turn) -> bool:
        """A yes or no to "shall I remember …?" or "shall I forget …?", asked in the previous turn: done
        and answered (True). Anything else drops the question and is handled as usual (False)."""
        if not self.enabled:
            return False
        if self.greet_known(state, turn):
            return True
        notes = self.notes(state)
        pending = notes.pop("pending", None)
        intent = turn.parse.intent.name
        if not isinstance(pending, dict) or intent not in (intent_names.AFFIRM, intent_names.DENY):
            return False
        known = state.known_customer
        if known is None or self.store is None:
            return False
        yes = intent == intent_names.AFFIRM
        try:
            if pending.get("kind") == "offer":
                self.talk.answer_offer(state, turn, known, pending, yes=yes)
            else:
                self.talk.answer_forget(state, turn, known, pending, yes=yes)
        except BackendError:
            log.exception("customer memory: storing the customer's answer failed")
            self.engine.speech.utter(state, turn, "utter_internal_error")
        return True

    def greet_known(self, state: ConversationState, turn: Turn) -> bool:
        """A proven customer's greeting, outside a task: the shop's greeting action with what they have
        open (True when it said something; False: the usual greeting follows)."""
        known = state.known_customer
        if known is None or turn.parse.intent.name != intent_names.GREET or state.active_loop:
            return False
        if GREET_KNOWN_CUSTOMER not in self.engine.runner_actions():
            return False
        message = state.latest_message
        had, kept = "metadata" in message, message.get("metadata")
        message["metadata"] = {
            **(kept if isinstance(kept, dict) else {}),
            KNOWN_CUSTOMER_METADATA_KEY: {"kind": known.identity.kind, "id": known.identity.value},
        }
        said = len(turn.replies)
        try:
            ran = self.engine.run_action(state, turn, GREET_KNOWN_CUSTOMER)
        finally:
            if had:
                message["metadata"] = kept
            else:
                message.pop("metadata", None)
        return ran and len(turn.replies) > said

    def answer(self, state: ConversationState, turn: Turn, *, in_task: bool = False) -> bool:
        """Answer a memory intent (True when answered)."""
        if turn.parse.intent.name not in MEMORY_INTENTS:
            return False
        if not self.enabled:
            return self.engine.speech.utter(state, turn, "utter_memory_off")
        try:
            self.talk.answer(state, turn, in_task=in_task)
        except BackendError:
            log.exception("customer memory: answering %s failed", turn.parse.intent.name)
            self.engine.speech.utter(state, turn, "utter_internal_error")
        return True

    def forget_that(self, state: ConversationState, turn: Turn) -> bool:
        """ "forget that" (read as `stop`, like "forget it") right after something was remembered: the
        forget question for it (True); otherwise False, and it stays a "never mind"."""
        if not self.enabled or not self.notes(state).get("remembered") or state.known_customer is None:
            return False
        from bot.customers.preferences import says_forget_that

        if not says_forget_that(turn.parse.text):
            return False
        self.talk.forget(state, turn, state.known_customer)
        return True

    # -- after the message -----------------------------------------------------------------------
    def finish(self, state: ConversationState, turn: Turn) -> None:
        if not self.enabled or state.paused:
            return
        try:
            self._link_verification(state)
            known = state.known_customer
            if known is None:
                return
            if known.consented is not None:
                self._learn(state, turn, known)
                self._record(state, turn, known)
            elif known.profile is None:
                self._offer(state, turn)
        except BackendError:
            log.exception("customer memory: updating the profile failed; the conversation goes on")

    def _link_verification(self, state: ConversationState) -> None:
        """An email an action verified in this message proves the customer for the rest of the session."""
        email = state.slots.get(VERIFIED_EMAIL_SLOT)
        notes = self.notes(state)
        if not isinstance(email, str) or not email.strip() or notes.get("verified") == normalise_email(email):
            return
        notes["verified"] = normalise_email(email)
        known = state.known_customer
        if known is None or known.identity.kind == "email":
            identity = Identity.email(email)
            state.known_customer = KnownCustomer(identity, self.find(identity, brief=True))
            self.sync_shop(state)
        elif known.consented is not None and not known.consented.email and self.store is not None:
            self.store.attach_email(known.consented.id, email)  # the signed-in customer verified their email

    def observed(self, state: ConversationState, turn: Turn) -> dict[str, str]:
        """Preferences the message showed: a shop it named, sizes of a product question."""
        parse = turn.parse
        if parse.intent.name in MEMORY_INTENTS:
            return {}
        found: dict[str, str] = {}
        shop = shop_of(parse)
        if shop:
            found["shop"] = shop
        shopping = parse.intent.name in intent_names.PRODUCTS or str(state.latest_action_name).startswith(
            "utter_product_"
        )
        if shopping:
            found.update(sizes_of(parse))
        return found

    def _offer(self, state: ConversationState, turn: Turn) -> None:
        """The one question to a customer who was never asked, about the first preference this message showed."""
        notes = self.notes(state)
        if notes.get("asked") or notes.get("pending") or state.active_loop:
            return
        observed = self.observed(state, turn)
        if not observed:
            return
        item, value = next(iter(observed.items()))
        notes["asked"] = True
        notes["pending"] = {"kind": "offer", "item": item, "value": value}
        self.say(state, turn, "utter_memory_offer", {"note": self.note(state, turn, item, value)})

    def _learn(self, state: ConversationState, turn: Turn, known: KnownCustomer) -> None:
        """With consent: a preference shown for the first time is remembered, and the reply says so."""
        profile = known.consented
        assert profile is not None and self.store is not None
        observed = self.observed(state, turn)
        language = turn.parse.language
        if language and self.engine.languages and language not in self.engine.languages:
            observed.setdefault("language", language)
        new = {k: v for k, v in observed.items() if k not in profile.preferences}
        if not new:
            return
        profile = self.store.remember(profile.id, new)
        state.known_customer = KnownCustomer(known.identity, profile)
        self.notes(state)["remembered"] = list(new)
        self.sync_shop(state)
        self.attach_notes(state, turn, [self.note(state, turn, k, v) for k, v in new.items()])

    def _record(self, state: ConversationState, turn: Turn, known: KnownCustomer) -> None:
        """With consent: the session's record (topics, outcome) and the products seen in this message."""
        profile = known.consented
        assert profile is not None and self.store is not None
        notes = self.notes(state)
        now = self.clock()
        topics, outcome = self.summary(state)
        if notes.get("recorded") != [list(topics), outcome.value] and (topics or outcome is not Outcome.ANSWERED):
            started = float(notes.setdefault("started", now))
            record = ConversationRecord(state.sender_id, state.session_id, started, now, topics, outcome)
            self._write(self.store.record_conversation, profile.id, record)
            notes["recorded"] = [list(topics), outcome.value]
        seen = [ProductSeen(c.id, c.title, Relation.RECOMMENDED, now) for r in turn.replies for c in r.cards]
        focus = (state.shopping or {}).get("focus")
        if isinstance(focus, str) and focus and focus != notes.get("focus"):
            notes["focus"] = focus
            names = {c.id: c.title for r in turn.replies for c in r.cards}
            seen.insert(0, ProductSeen(focus, names.get(focus, focus), Relation.VIEWED, now))
        if seen:
            self._write(self.store.record_products, profile.id, seen)

    def summary(self, state: ConversationState) -> tuple[tuple[str, ...], Outcome]:
        """The session's topics (intents that say what it was about, in order) and how it ended."""
        topics: list[str] = []
        outcome = Outcome.ANSWERED
        for item in state.events:
            kind = item.get("event")
            if kind == "user":
                name = str(((item.get("parse_data") or {}).get("intent") or {}).get("name") or "")
                if name not in NOT_TOPICS and name not in topics:
                    topics.append(name)
            elif kind == "action" and item.get("name") in self.task_actions and outcome is Outcome.ANSWERED:
                outcome = Outcome.TASK_DONE
            elif kind == "pause":
                outcome = Outcome.HANDED_OFF
        return tuple(topics), outcome

    # -- saying ----------------------------------------------------------------------------------
    def note(self, state: ConversationState, turn: Turn, item: str, value: str | None) -> str:
        """The short text of one remembered thing ("Berlin as your shop")."""
        reply = self.engine.speech.render(NOTE, state, turn, {"item": item, "value": value}, "response")
        return " ".join(reply.text.split()) if reply is not None else f"{item}: {value}"

    def say(
        self,
        state: ConversationState,
        turn: Turn,
        name: str,
        values: Mapping[str, Any] | None = None,
        remembered: Sequence[str] = (),
    ) -> bool:
        """Say the response `name`, carrying the `remembered` notes."""
        reply = self.engine.speech.render(name, state, turn, values, "response")
        if reply is None:
            return False
        state.run_action(name)
        self.engine.speech.emit(state, turn, replace(reply, remembered=tuple(remembered)), values)
        return True

    def attach_notes(self, state: ConversationState, turn: Turn, notes: Sequence[str]) -> None:
        """Add remembered notes to the last reply of this message (and to its recorded bot event)."""
        if not turn.replies or not notes:
            return
        last: Reply = turn.replies[-1]
        turn.replies[-1] = replace(last, remembered=(*last.remembered, *notes))
        for item in reversed(state.events):
            if item.get("event") == "bot":
                data = item.setdefault("data", {})
                data["remembered"] = [*data.get("remembered", []), *notes]
                break
