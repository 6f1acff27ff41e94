"""What the bot says about its memory: "remember that …", "what do you know about me?", "forget …", and the
customer's yes or no to "shall I remember …?" and "shall I forget …?". Wording: `utter_memory_*` in
`intents/responses.yml`; the decisions are here, the store is `bot.customers`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.customers.preferences import forget_scope, ordered, preferences_of
from bot.customers.profile import PREFERENCES, Consent, CustomerProfile
from bot.dialogue.memory import ASK, FORGET, REMEMBER, KnownCustomer
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn

if TYPE_CHECKING:
    from bot.dialogue.memory import CustomerMemory

SHOWN_PRODUCTS = 5
"""Products listed in "what do you know about me?" (the most recent)."""
CONFIRM_BUTTONS = "utter_memory_confirm_forget"


def holds(profile: CustomerProfile, name: str) -> bool:
    """Does the profile hold `name` (a preference, `products` or `conversations`)?"""
    if name == "products":
        return bool(profile.products)
    if name == "conversations":
        return bool(profile.conversations)
    return name in profile.preferences


class MemoryTalk:
    def __init__(self, memory: CustomerMemory) -> None:
        self.memory = memory

    def answer(self, state: ConversationState, turn: Turn, *, in_task: bool) -> None:
        memory = self.memory
        known = state.known_customer
        intent = turn.parse.intent.name
        if known is None:
            name = "utter_memory_unknown_customer" if intent != REMEMBER else "utter_memory_needs_identity"
            memory.say(state, turn, name)
        elif intent == ASK:
            self.tell(state, turn, known)
        elif intent == FORGET and in_task:
            memory.say(state, turn, "utter_memory_forget_later")  # a yes/no now would answer the task's question
        elif intent == FORGET:
            self.forget(state, turn, known)
        else:
            self.remember(state, turn, known)

    # -- "what do you know about me?" ------------------------------------------------------------
    def tell(self, state: ConversationState, turn: Turn, known: KnownCustomer) -> None:
        known = self.memory.completed(state) or known
        profile = known.profile
        if profile is None or not profile.remembers:
            refused = profile is not None and profile.consent is Consent.REFUSED
            self.memory.say(state, turn, "utter_memory_nothing_refused" if refused else "utter_memory_nothing")
            return
        self.memory.say(state, turn, "utter_memory_profile", self.profile_values(profile))

    def profile_values(self, profile: CustomerProfile) -> dict[str, Any]:
        """What `utter_memory_profile` is filled with."""
        names = list(dict.fromkeys(p.name for p in profile.products))[:SHOWN_PRODUCTS]
        last = profile.conversations[0] if profile.conversations else None
        titles = self.memory.engine.domain.intent_titles
        return {
            "preferences": {name: profile.preferences[name] for name in PREFERENCES if name in profile.preferences},
            "products": names,
            "conversations": len(profile.conversations),
            "last_date": datetime.fromtimestamp(last.updated_at, UTC).date().isoformat() if last else None,
            "last_topics": [titles.get(t, t) for t in last.topics] if last else [],
            "last_outcome": last.outcome.value if last else None,
        }

    # -- "remember that I'm an M" ----------------------------------------------------------------
    def remember(self, state: ConversationState, turn: Turn, known: KnownCustomer) -> None:
        """An explicit yes: the named preferences are remembered (and consent recorded)."""
        memory = self.memory
        store = memory.store
        assert store is not None
        items = preferences_of(turn.parse)
        if not items:
            memory.say(state, turn, "utter_memory_remember_what")
            return
        profile = known.profile
        if profile is None or profile.consent is not Consent.GIVEN:
            profile = store.set_consent(known.identity, Consent.GIVEN, items)
        else:
            profile = store.remember(profile.id, items)
        state.known_customer = KnownCustomer(known.identity, profile)
        memory.notes(state)["remembered"] = list(items)
        memory.sync_shop(state)
        notes = [memory.note(state, turn, k, v) for k, v in items.items()]
        memory.say(state, turn, "utter_memory_remembered", {"notes": notes}, remembered=notes)

    # -- "forget …" ------------------------------------------------------------------------------
    def forget(self, state: ConversationState, turn: Turn, known: KnownCustomer) -> None:
        """Ask before forgetting: everything ("forget me"), the things named, or the last one remembered."""
        memory = self.memory
        known = memory.completed(state) or known
        profile = known.profile
        if profile is None or not profile.remembers:
            memory.say(state, turn, "utter_memory_nothing_to_forget")
            return
        scope = forget_scope(turn.parse)
        notes = memory.notes(state)
        if scope.kind == "all":
            notes["pending"] = {"kind": "forget", "all": True}
            memory.say(state, turn, "utter_memory_confirm_forget_all")
            return
        wanted = scope.items if scope.kind == "items" else tuple(notes.get("remembered") or ())
        if not wanted:
            memory.say(state, turn, "utter_memory_forget_what")
            return
        names = ordered([n for n in wanted if holds(profile, n)])
        if not names:
            memory.say(state, turn, "utter_memory_nothing_to_forget")
            return
        notes["pending"] = {"kind": "forget", "items": names}
        memory.say(state, turn, CONFIRM_BUTTONS, {"notes": self._notes(state, turn, profile, names)})

    def _notes(self, state: ConversationState, turn: Turn, profile: CustomerProfile, names: list[str]) -> list[str]:
        return [self.memory.note(state, turn, n, profile.preferences.get(n)) for n in names]

    # -- yes / no --------------------------------------------------------------------------------
    def answer_offer(
        self, state: ConversationState, turn: Turn, known: KnownCustomer, pending: dict[str, Any], *, yes: bool
    ) -> None:
        memory = self.memory
        store = memory.store
        assert store is not None
        if not yes:
            profile = store.set_consent(known.identity, Consent.REFUSED)
            state.known_customer = KnownCustomer(known.identity, profile)
            memory.say(state, turn, "utter_memory_offer_refused")
            return
        item, value = str(pending.get("item")), str(pending.get("value"))
        profile = store.set_consent(known.identity, Consent.GIVEN, {item: value})
        state.known_customer = KnownCustomer(known.identity, profile)
        memory.notes(state)["remembered"] = [item]
        memory.sync_shop(state)
        note = memory.note(state, turn, item, value)
        memory.say(state, turn, "utter_memory_offer_accepted", {"note": note}, remembered=[note])

    def answer_forget(
        self, state: ConversationState, turn: Turn, known: KnownCustomer, pending: dict[str, Any], *, yes: bool
    ) -> None:
        memory = self.memory
        store = memory.store
        profile = known.profile
        if not yes or profile is None or store is None:
            memory.say(state, turn, "utter_memory_kept")
            return
        if pending.get("all"):
            store.delete(profile.id)
            state.known_customer = KnownCustomer(known.identity, None)
            memory.notes(state).pop("remembered", None)
            memory.notes(state)["asked"] = True  # not asked again in this conversation
            memory.sync_shop(state)
            memory.say(state, turn, "utter_memory_forgotten_all")
            return
        names = [str(n) for n in pending.get("items") or ()]
        forgotten = self._notes(state, turn, profile, names)
        profile = store.forget(profile.id, names)
        state.known_customer = KnownCustomer(known.identity, profile)
        memory.notes(state)["remembered"] = [n for n in memory.notes(state).get("remembered") or () if n not in names]
        memory.sync_shop(state)
        memory.say(state, turn, "utter_memory_forgotten", {"notes": forgotten})
