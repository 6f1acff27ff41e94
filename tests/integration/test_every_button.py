"""Walks every button of every response in the domain and asserts the next turn is not a fallback or a repeat.

Button payloads are part of the protocol: the widget, the Rasa REST channel and rasa-webchat send a pressed
button's payload as the message text, so every button the bot offers, sent back exactly like that, must do
what its title says. For each route in `ROUTES` (customer messages that lead to a reply with buttons) the
conversation is replayed fresh, on freshly seeded demo shop data, once per button of the reply it reaches;
the button is pressed and the turn after it must have no fallback action, must not repeat the turn before
and must not be an error.

The buttons come from three places, all covered:

- `responses:` with `buttons:` in the domain files (`intents/responses.yml`, `intents/domain/tasks.yml`);
  `test_every_domain_response_with_buttons_has_a_route` fails when one has no route here;
- handlers in `bot/actions/` that build buttons (days and times of appointments, return items, the
  "someone just took that time" alternatives) and the domain confirmations they send (yes/no);
- the knowledge base ("related question" buttons under an answer, "did you mean" suggestions with
  "None of these", "Talk to a person" when it does not know), keyed here by the action that answered.

The two-stage fallback's "did you mean" (`utter_ask_affirmation`, one button per intent title, built by the
dialogue engine) only appears for an ambiguous abstention; `test_clarification_buttons` sends each payload
that reply can carry right after a fallback.
"""

from __future__ import annotations

import ast
import functools
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.testing.fixtures import session_bots
from bot.testing.runner import ConversationDriver, TurnResult, answered_entry, is_repeat

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INTENTS = ROOT / "intents"
ACTIONS = ROOT / "bot" / "actions"

KNOWLEDGE_SOURCES = {
    "action_knowledge_answer": "an answer's related-question buttons",
    "action_knowledge_suggest": "'did you mean' suggestions and 'None of these'",
    "action_knowledge_unknown": "'Talk to a person' when the knowledge base does not know",
}
"""Knowledge-base replies have no domain response name; they are recognised by the action that answered."""

DYNAMIC_SOURCES = {
    "utter_ask_return_items": "returns.py: one button per returnable item, plus 'All of them'",
    "utter_ask_appointment_time": "appointments.py: the next free days of the chosen shop",
    "utter_ask_appointment_time_on_day": "appointments.py: the free times of the chosen day",
    "utter_ask_appointment_time_on_day_part": "appointments.py: the chosen day's times in the part asked for",
    "utter_appointment_slot_just_taken": "appointments.py: the times still free when the chosen one was just taken",
    **KNOWLEDGE_SOURCES,
}
"""Replies whose buttons are built in code rather than written in a domain response."""

SENT_WITHOUT_BUTTONS = {
    "utter_appointment_slot_just_taken_day_full": "the slot-taken message when no time is left that day (no buttons)",
}
"""Responses a handler sends through `utter_buttons` with an empty list of buttons."""

_FRUSTRATION = "no message route: the frustration policy offers it (tests/dialogue/test_sentiment_engine.py)"
_FEEDBACK = "sent on a thumbs down, not a message (tests/integration/test_http_chat.py presses nothing yet)"
NOT_REACHED_BY_MESSAGES = {
    "utter_greet_known_order_on_its_way": "needs a signed customer token (tests/customers/test_greeting.py)",
    "utter_greet_known_order": "needs a signed customer token (tests/customers/test_greeting.py)",
    "utter_greet_known_appointment": "needs a signed customer token (tests/customers/test_greeting.py)",
    "utter_greet_known_return": "needs a signed customer token (tests/customers/test_greeting.py)",
    "utter_order_shipped": "an event from the shop (tests/proactive/test_events_http.py)",
    "utter_order_shipped_no_date": "an event from the shop (tests/proactive/test_events_http.py)",
    "utter_return_received": "an event from the shop (tests/proactive/test_events_http.py)",
    "utter_appointment_reminder": "a reminder firing (tests/proactive/test_reminders_and_outbox.py)",
    "utter_appointment_reminder_offer": "after a booking (intents/tests/test_proactive.yml)",
    "utter_memory_offer": "needs a proven customer (intents/tests/test_memory.yml presses yes and no)",
    "utter_memory_confirm_forget": "needs a stored profile (intents/tests/test_memory.yml)",
    "utter_memory_confirm_forget_all": "needs a stored profile (intents/tests/test_memory.yml)",
    "utter_frustration_offer_person": _FRUSTRATION,
    "utter_frustration_offer_person_fr": _FRUSTRATION,
    "utter_frustration_offer_person_de": _FRUSTRATION,
    "utter_frustration_offer_person_es": _FRUSTRATION,
    "utter_frustration_offer_person_it": _FRUSTRATION,
    "utter_feedback_down": _FEEDBACK,
    "utter_feedback_down_fr": _FEEDBACK,
    "utter_feedback_down_de": _FEEDBACK,
}
"""Responses with buttons that no customer message leads to in a fresh conversation (a token, an event, a
reminder, a stored profile, a frustration score or a vote comes first): where their buttons are tested instead.
The walk of this file does not press them yet."""

MAX_ATTEMPTS = 12
"""Replays of a route before giving up on seeing a button (a response may pick a variation without buttons)."""


# -- route steps -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Click:
    """Press the N-th button (1-based) or the first whose title contains the text, like a customer would."""

    which: int | str

    def __str__(self) -> str:
        return f"[click {self.which}]"


@dataclass(frozen=True)
class Do:
    """Something that happens outside the conversation between two messages."""

    name: str
    run: Callable[[ConversationDriver], None]

    def __str__(self) -> str:
        return f"[{self.name}]"


def _someone_else_takes_the_chosen_time(chat: ConversationDriver) -> None:
    from bot.actions.backend import get_backend

    slots = chat.transcript[-1].slots
    moment = datetime.fromisoformat(str(slots["appointment_time"]))
    get_backend().book_appointment(str(slots["appointment_shop"]), moment, "someone.else@example.com")


SOMEONE_TAKES_THE_TIME = Do("another customer books that time", _someone_else_takes_the_chosen_time)

Step = str | Click | Do

# -- the routes ------------------------------------------------------------------------------------
RETURN = ("I want to return something", "AN-10002", "anna@example.com")
BOOK_PARIS = ("book a fitting in Paris",)
BOOK_PARIS_TIME = (*BOOK_PARIS, Click(2), Click(2))  # the 2nd day offered (not today), then its 2nd time
RESCHEDULE = ("I want to move my appointment", "FT-DEMO1", "anna@example.com")

CARD_SOURCES = frozenset({"utter_product_card", "utter_product_card_shop"})
"""Responses whose buttons every product card carries (intents/domain/products.yml)."""

ROUTES: dict[str, list[tuple[Step, ...]]] = {
    # intents/domain/products.yml (the buttons of a product card)
    "utter_product_card": [("show me wool coats",)],
    "utter_product_card_shop": [("sweaters in stock in Berlin",)],
    # intents/responses.yml
    "utter_greet": [("hi",)],
    "utter_bot_challenge": [("are you a bot?",)],
    "utter_out_of_scope": [("who won the football last night",)],
    "utter_default": [("it's a blue one",)],
    "utter_default_again": [("blorp", "zzkx qwv", "xyzzy plugh")],
    "utter_why_knowledge": [("how long does delivery to Germany take", "why?")],
    "utter_why_default": [("why?",)],
    # intents/domain/tasks.yml (sent by the handlers)
    "utter_ask_cancel_order_confirmed": [
        ("cancel my order", "AN-10004", "ben@example.com"),
        ("cancel my order", "AN-10005", "chloe@example.com"),
    ],
    "utter_ask_return_reason": [(*RETURN, "cashmere sweater")],
    "utter_ask_return_confirmed": [(*RETURN, "cashmere sweater", "too small")],
    "utter_ask_exchange_confirmed": [(*RETURN, "swap the cashmere sweater for a smaller size", "too large", "S")],
    "utter_ask_appointment_shop": [("book a fitting",)],
    "utter_ask_appointment_confirmed": [(*BOOK_PARIS_TIME, "ben@example.com")],
    "utter_ask_reschedule_confirmed": [(*RESCHEDULE, Click(2), Click(2))],
    "utter_ask_reschedule_confirmed_other_shop": [
        ("I need to move my fitting FT-DEMO2 (ben@example.com) to your Berlin shop instead, next wednesday at 15:00",)
    ],
    "utter_ask_cancel_appointment_confirmed": [
        ("cancel my appointment", "FT-DEMO1", "anna@example.com"),
        ("cancel my appointment", "FT-DEMO2", "ben@example.com"),
    ],
    # buttons built by the handlers
    "utter_ask_return_items": [RETURN, ("return", "AN-10009", "elena@example.com")],
    "utter_ask_appointment_time": [BOOK_PARIS, ("book a fitting", "London"), RESCHEDULE],
    "utter_ask_appointment_time_on_day": [(*BOOK_PARIS, Click(2)), (*RESCHEDULE, Click(2))],
    "utter_ask_appointment_time_on_day_part": [(*BOOK_PARIS, Click(2), "afternoon please")],
    "utter_appointment_slot_just_taken": [(*BOOK_PARIS_TIME, "ben@example.com", SOMEONE_TAKES_THE_TIME, "yes")],
    # buttons added by the knowledge base (bot/faq/responder.py, knowledge/templates/)
    "action_knowledge_answer": [("how long is a gift card valid",), ("how do I wash cashmere",)],
    "action_knowledge_suggest": [("do you ship to the US",), ("payment",)],
    "action_knowledge_unknown": [("do you sell furniture",)],
}


def _route_id(key: str, steps: tuple[Step, ...]) -> str:
    return f"{key}: " + " > ".join(map(str, steps))


ROUTE_CASES = [pytest.param(key, steps, id=_route_id(key, steps)) for key, routes in ROUTES.items() for steps in routes]


# -- the domain ------------------------------------------------------------------------------------
def domain_files() -> list[Path]:
    """The YAML files the bot reads its domain from: every file under intents/ except tests/."""
    return [
        p
        for p in sorted(INTENTS.rglob("*"))
        if p.suffix in (".yml", ".yaml") and p.is_file() and "tests" not in p.relative_to(INTENTS).parts[:-1]
    ]


def domain_responses_with_buttons() -> dict[str, Path]:
    """Every domain response with buttons in at least one variation, and the file defining it."""
    found: dict[str, Path] = {}
    for path in domain_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        responses = data.get("responses") if isinstance(data, dict) else None
        for name, variations in (responses or {}).items():
            if any(isinstance(v, dict) and v.get("buttons") for v in variations or []):
                found[str(name)] = path.relative_to(ROOT)
    return found


def handler_responses_with_buttons() -> dict[str, str]:
    """Responses the handlers in bot/actions/ send with buttons they build: `utter_buttons(dispatcher,
    "utter_x", ...)` with a literal name, or a name assigned from literals just before."""
    found: dict[str, str] = {}
    for path in sorted(ACTIONS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assigned: dict[str, list[str]] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    literals = [
                        c.value
                        for c in ast.walk(node.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value.startswith("utter_")
                    ]
                    if literals:
                        assigned.setdefault(node.targets[0].id, []).extend(literals)
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and _called(node) == "utter_buttons" and len(node.args) >= 2):
                    continue
                argument = node.args[1]
                names: list[str] = []
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    names = [argument.value]
                elif isinstance(argument, ast.Name):
                    names = assigned.get(argument.id, [])
                for name in names:
                    found[name] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


# -- replaying a route -----------------------------------------------------------------------------
@dataclass
class Reached:
    chat: ConversationDriver
    turn: TurnResult
    buttons: list[Any]  # the buttons of the reply the route was written for
    responses: list[str]  # what the bot event metadata says the reached turn said


def _turn_events(chat: ConversationDriver) -> list[dict[str, Any]]:
    state = chat.assistant.tracker_store.load(chat.sender_id)
    events = list(state.events) if state is not None else []
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return events[last_user + 1 :]


def _responses_said(chat: ConversationDriver) -> list[str]:
    return [
        str((e.get("metadata") or {}).get("response") or f"({(e.get('metadata') or {}).get('kind', '?')})")
        for e in _turn_events(chat)
        if e.get("event") == "bot"
    ]


def replay(new_chat: Callable[[], ConversationDriver], key: str, steps: tuple[Step, ...]) -> Reached:
    """Play the route in a fresh conversation on freshly seeded shop data (`new_chat` restores it); fail if it
    does not reach `key`."""
    chat = new_chat()
    turn: TurnResult | None = None
    for step in steps:
        if isinstance(step, Do):
            step.run(chat)
        elif isinstance(step, Click):
            turn = chat.click(step.which)
        else:
            turn = chat.say(step)
    assert turn is not None, f"route for {key} has no message"
    said = _responses_said(chat)
    if key in CARD_SOURCES:  # product cards carry these responses' buttons: the first card's
        reached = bool(turn.cards)
        buttons = list(turn.cards[0].buttons) if turn.cards else []
    elif key in KNOWLEDGE_SOURCES:
        reached = key in turn.actions
        buttons = [b for r in turn.replies if getattr(r, "kind", "") == "knowledge" for b in r.buttons]
    else:
        reached = key in said
        buttons = [b for r in turn.replies if getattr(r, "response", "") == key for b in r.buttons]
    assert reached, (
        f"the route {_route_id(key, steps)} no longer reaches {key}: the last turn said {said}, "
        f"actions {turn.actions}\n{_transcript(chat)}"
    )
    return Reached(chat, turn, buttons, said)


def reach_with_buttons(
    new_chat: Callable[[], ConversationDriver], key: str, steps: tuple[Step, ...], wanted: Any = None
) -> Reached | None:
    """Replay until the reached reply offers buttons (`wanted`: this title and payload); None if it never does."""
    for _ in range(MAX_ATTEMPTS):
        reached = replay(new_chat, key, steps)
        if wanted is None and reached.buttons:
            return reached
        if wanted is not None and any(_same_button(b, wanted) for b in reached.buttons):
            return reached
    return None


def _same_button(a: Any, b: Any) -> bool:
    return str(a.title) == str(b.title) and str(a.payload) == str(b.payload)


# -- checking the turn after a click ---------------------------------------------------------------
_PAYLOAD_INTENT = re.compile(r"^/([A-Za-z0-9_]+)")


@functools.cache
def knowledge_questions() -> dict[str, str]:
    """The entry id of each knowledge question (the payload of "related" and "did you mean" buttons)."""
    from bot.faq.loader import load_knowledge

    return {str(e.question): str(e.id) for e in load_knowledge(ROOT / "knowledge", ROOT).entries}


def problems_after_click(turn: TurnResult, previous: TurnResult, payload: str) -> list[str]:
    """What is wrong with the turn after a button press (empty: the button worked)."""
    problems = []
    sent_intent = _PAYLOAD_INTENT.match(payload)
    if sent_intent and turn.parse is not None and turn.parse.intent.name != sent_intent.group(1):
        problems.append(f"payload read as intent {turn.parse.intent.name}, not {sent_intent.group(1)}")
    entry = knowledge_questions().get(payload)
    if entry is not None and answered_entry(turn) != entry:
        problems.append(f"the question {payload!r} was answered by {answered_entry(turn)}, not its entry {entry}")
    if turn.fallback_actions:
        problems.append(f"fallback: {', '.join(turn.fallback_actions)}")
    if is_repeat(turn, previous):
        problems.append("repeat: the bot said exactly what it said before the click")
    errors = [r for r in turn.replies if getattr(r, "response", "") == "utter_internal_error"]
    if errors or "utter_internal_error" in turn.actions:
        problems.append("error: utter_internal_error")
    if not turn.replies:
        problems.append("no reply at all")
    return problems


def click_each(chat: ConversationDriver, button: Any, previous: TurnResult) -> tuple[TurnResult | None, list[str]]:
    offered = [*previous.buttons, *(b for c in previous.cards for b in c.buttons)]  # as the driver numbers them
    index = next(i for i, b in enumerate(offered, 1) if b is button)
    try:
        turn = chat.click(index)
    except Exception:
        return None, [f"error: the bot raised\n{traceback.format_exc()}"]
    return turn, problems_after_click(turn, previous, str(button.payload))


def _transcript(chat: ConversationDriver) -> str:
    lines = []
    for turn in chat.transcript:
        shown = f"[button {turn.clicked!r}] {turn.text}" if turn.clicked else turn.text
        intent = f"{turn.parse.intent.name} {turn.parse.intent.confidence:.2f}" if turn.parse is not None else "-"
        lines.append(f"    user: {shown}   ({intent}; actions: {', '.join(turn.actions) or '-'})")
        for reply in turn.replies:
            name = getattr(reply, "response", "") or getattr(reply, "kind", "")
            lines.append(f"      bot [{name}]: {_one_line(reply.text)}")
            for b in reply.buttons:
                lines.append(f"        - {b.title} -> {b.payload}")
    return "\n".join(lines)


def _one_line(text: str, limit: int = 220) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _describe(button: Any, number: int, problems: list[str], chat: ConversationDriver) -> str:
    return (
        f"button {number} {str(button.title)!r} (payload {str(button.payload)!r}): {'; '.join(problems)}\n"
        f"{_transcript(chat)}"
    )


# -- the tests -------------------------------------------------------------------------------------
@pytest.fixture
def new_chat(
    supportbot_conversation: Callable[[], ConversationDriver], pytestconfig: pytest.Config
) -> Iterator[Callable[[], ConversationDriver]]:
    """A fresh conversation on fresh demo data: the session's seeded snapshot restored (milliseconds), as before
    each YAML conversation, instead of seeding again (half a second) for each of the many replays."""
    bots = session_bots(pytestconfig)

    def fresh() -> ConversationDriver:
        bots.reset_data()
        return supportbot_conversation()

    yield fresh
    bots.reset_data()  # leave the session's demo data as the next test expects it


@pytest.mark.parametrize(("key", "steps"), ROUTE_CASES)
def test_every_button_of_the_reply_works(
    new_chat: Callable[[], ConversationDriver], key: str, steps: tuple[Step, ...]
) -> None:
    first = reach_with_buttons(new_chat, key, steps)
    assert first is not None, f"{_route_id(key, steps)} reached {key} without any button in {MAX_ATTEMPTS} replays"
    offered = list(first.buttons)
    failures = []
    for number, wanted in enumerate(offered, 1):
        reached = reach_with_buttons(new_chat, key, steps, wanted)
        if reached is None:
            failures.append(f"button {number} {wanted.title!r} ({wanted.payload!r}) was not offered again")
            continue
        button = next(b for b in reached.buttons if _same_button(b, wanted))
        _, problems = click_each(reached.chat, button, reached.turn)
        if problems:
            failures.append(_describe(button, number, problems, reached.chat))
    assert not failures, f"{len(failures)} of {len(offered)} buttons of {key} failed:\n\n" + "\n\n".join(failures)


def test_clarification_buttons(new_chat: Callable[[], ConversationDriver], supportbot_assistant: Any) -> None:
    """`utter_ask_affirmation` offers `/<intent>` for the two top intents that have a title; press each
    possible one right after a message the bot could not handle."""
    titles = dict(supportbot_assistant.engine.domain.intent_titles)
    assert titles, "the domain has no intent_titles"
    failures = []
    for intent, title in titles.items():
        chat = new_chat()
        previous = chat.say("blorp")
        assert previous.fallback_actions, f"'blorp' was handled: {previous.said}"
        try:
            turn = chat.say(f"/{intent}")
        except Exception:
            failures.append(f"/{intent} ({title!r}): error: the bot raised\n{traceback.format_exc()}")
            continue
        turn.clicked = title
        problems = problems_after_click(turn, previous, f"/{intent}")
        if problems:
            failures.append(f"/{intent} ({title!r}): {'; '.join(problems)}\n{_transcript(chat)}")
    assert not failures, "\n\n".join(failures)


def test_every_domain_response_with_buttons_has_a_route() -> None:
    with_buttons = domain_responses_with_buttons()
    assert "utter_greet" in with_buttons, "the domain loader found no responses with buttons"
    missing = {
        name: str(path)
        for name, path in with_buttons.items()
        if name not in ROUTES and name not in NOT_REACHED_BY_MESSAGES
    }
    assert not missing, f"responses with buttons but no route in ROUTES (add the messages that lead to them): {missing}"


def test_every_handler_built_button_source_has_a_route() -> None:
    built = handler_responses_with_buttons()
    assert "utter_ask_return_items" in built, "the scan of bot/actions/ found no utter_buttons call"
    skipped = set(SENT_WITHOUT_BUTTONS) | set(NOT_REACHED_BY_MESSAGES)
    missing = {name: where for name, where in built.items() if name not in ROUTES and name not in skipped}
    assert not missing, f"handlers build buttons for these responses but ROUTES has no route: {missing}"
    assert set(DYNAMIC_SOURCES) <= set(ROUTES)


def test_routes_name_real_button_sources() -> None:
    known = set(domain_responses_with_buttons()) | set(DYNAMIC_SOURCES)
    stale = sorted(set(ROUTES) - known)
    assert not stale, f"ROUTES has entries that are no longer sources of buttons: {stale}"
