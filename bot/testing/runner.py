"""Runs YAML test cases against an assistant and explains failures at a glance.

`run_case(assistant, case)` returns `None` when the case passes and a `CaseFailure` (whose text is
what pytest prints) when it does not. The assistant is anything with `parse`, `handle_full` and a
`tracker_store` — the real `bot.assistant.Assistant` or a fake.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot import intent_names
from bot.testing.cases import ANY_VALUE, ConversationCase, Expectation, MessageCase, Step

OUT_OF_SCOPE_INTENTS = intent_names.ABSTENTIONS
FALLBACK_ACTIONS = frozenset(
    {
        "utter_default",
        "utter_default_again",
        "utter_why_default",
        "utter_ask_rephrase",
        "utter_out_of_scope",
        "utter_internal_error",
        "action_two_stage_fallback",
        "action_knowledge_unknown",
        "action_knowledge_suggest",
    }
)
"""Actions that mean the bot did not handle the message: fallbacks, "did you mean", errors."""
_SHOWN_RANKING = 5
_SKIPPED_ACTIONS = frozenset({"action_listen", "action_session_start"})


class _State(Protocol):
    slots: dict[str, Any]
    events: list[dict[str, Any]]
    active_loop: str | None


class _TrackerStore(Protocol):
    def load(self, sender_id: str) -> Any: ...


class AssistantLike(Protocol):
    """What the runner needs of an assistant (`bot.assistant.Assistant` has all of it)."""

    @property
    def tracker_store(self) -> Any: ...

    def parse(self, text: str) -> Any: ...

    def handle_full(self, message: Any) -> Any: ...


@dataclass
class TurnResult:
    """What the bot did with one user message."""

    text: str
    parse: Any  # bot.types.Parse | None
    replies: list[Any] = field(default_factory=list)  # bot.types.Reply
    actions: list[str] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    form: str | None = None
    dialogue: bool = False  # False: only NLU ran
    clicked: str | None = None  # the title of the button pressed, for a click step

    @property
    def fallback_actions(self) -> list[str]:
        return [a for a in self.actions if a in FALLBACK_ACTIONS]

    @property
    def buttons(self) -> list[Any]:
        return [b for r in self.replies for b in getattr(r, "buttons", ())]

    @property
    def said(self) -> str:
        return "\n".join(str(r.text) for r in self.replies)


@dataclass(frozen=True)
class Mismatch:
    what: str
    expected: str
    actual: str


class CaseFailure(Exception):
    """A YAML case whose expectations were not met; `str()` is the full explanation."""

    def __init__(self, text: str, mismatches: Sequence[Mismatch], turn: TurnResult) -> None:
        super().__init__(text)
        self.text = text
        self.mismatches = tuple(mismatches)
        self.turn = turn


# -- running ---------------------------------------------------------------------------------------
class NoSuchButton(LookupError):
    """A `click` step named a button the bot did not offer in its previous turn."""


class ConversationDriver:
    """Talks to an assistant as one customer and records what each turn did."""

    def __init__(self, assistant: AssistantLike, sender_id: str | None = None) -> None:
        self.assistant = assistant
        self.sender_id = sender_id or f"test-{uuid.uuid4().hex[:12]}"
        self.transcript: list[TurnResult] = []

    def button(self, which: int | str) -> Any:
        """A button of the bot's previous turn: the N-th (1-based), or the first whose title contains
        the text (any case). Raises `NoSuchButton` listing what was offered."""
        offered = self.transcript[-1].buttons if self.transcript else []
        if isinstance(which, int):
            if 1 <= which <= len(offered):
                return offered[which - 1]
        else:
            wanted = which.lower()
            found = next((b for b in offered if wanted in str(b.title).lower()), None)
            if found is not None:
                return found
        titles = "; ".join(f"{i}. {b.title}" for i, b in enumerate(offered, 1)) or "no buttons"
        raise NoSuchButton(f"no button {which!r} in the bot's previous turn (offered: {titles})")

    def click(self, which: int | str) -> TurnResult:
        """Press a button of the previous turn: its payload is sent exactly as the web widget sends it."""
        button = self.button(which)
        turn = self.say(str(button.payload))
        turn.clicked = str(button.title)
        return turn

    def say(self, text: str) -> TurnResult:
        from bot.types import Message

        before = self._state()
        seen = len(before.events) if before is not None else 0
        result = self.assistant.handle_full(Message(self.sender_id, text, input_channel="test"))
        state = self._state()
        events = list(state.events) if state is not None else []
        if len(events) < seen:  # a new session started: every event is new
            seen = 0
        actions = [
            str(e.get("name"))
            for e in events[seen:]
            if e.get("event") == "action" and e.get("name") not in _SKIPPED_ACTIONS
        ]
        turn = TurnResult(
            text=text,
            parse=result.parse,
            replies=list(result.replies),
            actions=actions,
            slots=dict(state.slots) if state is not None else {},
            form=state.active_loop if state is not None else None,
            dialogue=True,
        )
        self.transcript.append(turn)
        return turn

    def _state(self) -> _State | None:
        state: _State | None = self.assistant.tracker_store.load(self.sender_id)
        return state


def run_step(assistant: AssistantLike, step: Step, driver: ConversationDriver | None = None) -> TurnResult:
    if driver is None and not step.expect.needs_dialogue and step.click is None:
        return TurnResult(step.user, assistant.parse(step.user))
    driver = driver or ConversationDriver(assistant)
    return driver.click(step.click) if step.click is not None else driver.say(step.user)


def run_case(
    assistant: AssistantLike,
    case: MessageCase | ConversationCase,
    *,
    before_conversation: Callable[[], None] | None = None,
) -> CaseFailure | None:
    """Run one case; `before_conversation` runs first for a conversation (e.g. re-seed the shop data)."""
    if isinstance(case, MessageCase):
        turn = run_step(assistant, case.step)
        mismatches = check(case.step.expect, turn)
        if not mismatches:
            return None
        header = f"{summarise(mismatches)}\n  at {case.file}:{case.line}"
        return CaseFailure(explain(header, case.step, turn, mismatches, assistant), mismatches, turn)
    if before_conversation is not None:
        before_conversation()
    driver = ConversationDriver(assistant)
    for number, step in enumerate(case.steps, 1):
        previous = driver.transcript[-1] if driver.transcript else None
        try:
            turn = run_step(assistant, step, driver)
        except NoSuchButton as e:
            turn = TurnResult(step.shown, None, dialogue=True)
            mismatches = [Mismatch("button", str(step.click), str(e))]
        else:
            mismatches = check(step.expect, turn, previous)
        if mismatches:
            header = (
                f"step {number} of {len(case.steps)}: {summarise(mismatches)}\n"
                f"  at {case.file}:{step.line} (conversation '{case.name}')"
            )
            earlier = (
                driver.transcript[:-1] if driver.transcript and driver.transcript[-1] is turn else driver.transcript
            )
            text = explain(header, step, turn, mismatches, assistant, transcript=earlier)
            return CaseFailure(text, mismatches, turn)
    return None


# -- checking --------------------------------------------------------------------------------------
def _same(expected: Any, actual: Any) -> bool:
    if expected == ANY_VALUE:
        return actual is not None
    if expected == actual:
        return True
    if isinstance(expected, (str, int, float)) and isinstance(actual, (str, int, float)):
        return str(expected).strip().lower() == str(actual).strip().lower()
    return False


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    return value if isinstance(value, str) else repr(value)


def _intent_of(parse: Any) -> str:
    if parse is None:
        return "(no NLU result: the message was handled before the classifier)"
    return f"{parse.intent.name} ({parse.intent.confidence:.2f})"


def is_abstention(parse: Any) -> bool:
    return parse is not None and (bool(parse.abstained) or parse.intent.name in OUT_OF_SCOPE_INTENTS)


def _entity_mismatch(expected: Sequence[tuple[str, Any]], parse: Any) -> Mismatch | None:
    actual = [(e.entity, e.value) for e in (parse.entities if parse is not None else ())]
    unmatched = list(actual)
    missing = []
    for name, value in expected:
        hit = next((a for a in unmatched if a[0] == name and _same(value, a[1])), None)
        if hit is None:
            missing.append((name, value))
        else:
            unmatched.remove(hit)
    if not missing and not unmatched:
        return None
    return Mismatch("entities", _pairs(expected), _pairs(actual))


def _pairs(pairs: Sequence[tuple[str, Any]]) -> str:
    return ", ".join(f"{n}={_show(v)}" for n, v in pairs) or "(none)"


def _knowledge_reply(turn: TurnResult) -> Any:
    return next((r for r in turn.replies if getattr(r, "kind", "") == "knowledge"), None)


def answered_entry(turn: TurnResult) -> str | None:
    reply = _knowledge_reply(turn)
    if reply is not None and reply.sources:
        return str(reply.sources[0].id)
    return None


def _describe_answer(turn: TurnResult) -> str:
    entry = answered_entry(turn)
    if entry:
        return entry
    reply = _knowledge_reply(turn)
    if reply is not None:
        offered = [b.title for b in reply.buttons if not str(b.payload).startswith("/")]
        return f"no answer (knowledge base offered: {'; '.join(offered)})" if offered else "no answer ('I don't know')"
    return "no knowledge answer"


def is_repeat(turn: TurnResult, previous: TurnResult | None) -> bool:
    """The bot said exactly what it said the turn before (a loop)."""
    return previous is not None and bool(turn.replies) and turn.said.strip() == previous.said.strip()


def check(expect: Expectation, turn: TurnResult, previous: TurnResult | None = None) -> list[Mismatch]:
    """Every expectation the turn did not meet (`previous`: the turn before, for `understood`)."""
    found: list[Mismatch] = []
    parse = turn.parse
    if expect.intent is not None:
        if expect.intent == "nlu_fallback":
            ok = parse is not None and bool(parse.abstained)
        else:
            ok = parse is not None and parse.intent.name == expect.intent and not parse.abstained
        if not ok:
            found.append(Mismatch("intent", expect.intent, _intent_of(parse)))
    if expect.abstain is not None and is_abstention(parse) != expect.abstain:
        wanted = "abstain (nlu_fallback or out_of_scope)" if expect.abstain else "an in-scope intent"
        found.append(Mismatch("abstain", wanted, _intent_of(parse)))
    if expect.entities is not None:
        mismatch = _entity_mismatch(expect.entities, parse)
        if mismatch:
            found.append(mismatch)
    if expect.entry is not None and answered_entry(turn) != expect.entry:
        found.append(Mismatch("knowledge entry", expect.entry, _describe_answer(turn)))
    for action in expect.actions_include:
        if action not in turn.actions:
            found.append(Mismatch("action", action, ", ".join(turn.actions) or "(no action)"))
    if expect.actions_exact is not None and tuple(turn.actions) != expect.actions_exact:
        found.append(
            Mismatch("actions", ", ".join(expect.actions_exact) or "(none)", ", ".join(turn.actions) or "(none)")
        )
    for name, value in expect.slots.items():
        actual = turn.slots.get(name)
        ok = actual is None if value is None else _same(value, actual)
        if not ok:
            found.append(Mismatch(f"slot {name}", _show(value), _show(actual)))
    if expect.checks_form and turn.form != expect.form:
        found.append(Mismatch("active form", _show(expect.form), _show(turn.form)))
    said = turn.said.lower()
    quoted = _quote_replies(turn) or "(no reply)"
    for fragment in expect.reply_contains:
        if fragment.lower() not in said:
            found.append(Mismatch("reply contains", repr(fragment), quoted))
    if expect.reply_contains_any and not any(f.lower() in said for f in expect.reply_contains_any):
        found.append(Mismatch("reply contains one of", ", ".join(map(repr, expect.reply_contains_any)), quoted))
    for fragment in expect.reply_not_contains:
        if fragment.lower() in said:
            found.append(Mismatch("reply does not contain", repr(fragment), quoted))
    if expect.buttons is not None:
        titles = [str(b.title) for b in turn.buttons]
        shown = "; ".join(titles) or "(no buttons)"
        if expect.buttons is True and not titles:
            found.append(Mismatch("buttons", "some buttons", shown))
        elif expect.buttons is False and titles:
            found.append(Mismatch("buttons", "no buttons", shown))
        elif isinstance(expect.buttons, tuple):
            for fragment in expect.buttons:
                if not any(fragment.lower() in t.lower() for t in titles):
                    found.append(Mismatch("button", repr(fragment), shown))
    if expect.understood is not None:
        fallbacks = turn.fallback_actions
        repeat = is_repeat(turn, previous)
        if expect.understood and (fallbacks or repeat):
            why = f"fallback ({', '.join(fallbacks)})" if fallbacks else "the same replies as the turn before"
            found.append(Mismatch("understood", "handled (no fallback, no repeat)", f"{why}: {quoted}"))
        elif expect.understood is False and not fallbacks:
            found.append(Mismatch("understood", "a fallback or 'I don't know'", quoted))
    return found


# -- explaining ------------------------------------------------------------------------------------
def _quote_replies(turn: TurnResult) -> str:
    return " | ".join(_one_line(r.text) for r in turn.replies)


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _ranking_lines(parse: Any, expected: str | None) -> list[str]:
    ranking = [s for s in parse.intent_ranking if s.name != "nlu_fallback"] if parse is not None else []
    if not ranking:
        return []
    width = max(len(s.name) for s in ranking[:_SHOWN_RANKING])
    width = max(width, len(expected or ""), 6)
    lines = ["  intent ranking:"]
    shown = ranking[:_SHOWN_RANKING]
    for score in shown:
        mark = "  <- expected" if score.name == expected else ""
        lines.append(f"    {score.name:<{width}}  {score.confidence:.3f}{mark}")
    if expected and expected not in {s.name for s in shown}:
        rank = next((i for i, s in enumerate(ranking, 1) if s.name == expected), None)
        where = f"rank {rank}, {ranking[rank - 1].confidence:.3f}" if rank else f"not in the top {len(ranking)}"
        lines.append(f"    {expected:<{width}}  ({where})  <- expected")
    if parse.abstained:
        threshold = next((s.confidence for s in parse.intent_ranking if s.name == "nlu_fallback"), None)
        at = f" (threshold {threshold:.2f})" if threshold is not None else ""
        lines.append(f"    -> abstained: nlu_fallback{at}")
    return lines


def _knowledge_lines(assistant: AssistantLike, turn: TurnResult, expected: str | None) -> list[str]:
    """The knowledge base's own ranking for the message (best effort: diagnostics only)."""
    engine = getattr(assistant, "engine", None)
    answer = getattr(engine, "knowledge", None)
    encoder = getattr(assistant, "encoder", None)
    if answer is None or encoder is None:
        return []
    try:
        from bot.types import KnowledgeQuery

        query = KnowledgeQuery.from_parse(turn.parse, encoder.encode([turn.text])[0], record=False)
        outcome = answer(query) if turn.parse is not None else None
    except Exception as e:  # diagnostics must never hide the real failure
        return [f"  knowledge ranking unavailable: {type(e).__name__}: {e}"]
    hits = list(getattr(outcome, "hits", ()) or ())
    if not hits:
        return []
    lines = [
        f"  knowledge ranking (decision: {getattr(outcome, 'decision', '?')}, "
        f"confidence {float(getattr(outcome, 'confidence', 0.0)):.3f}):"
    ]
    ids = [h.entry.id for h in hits]
    width = max(len(i) for i in [*ids[:_SHOWN_RANKING], expected or ""])
    for hit in hits[:_SHOWN_RANKING]:
        mark = "  <- expected" if hit.entry.id == expected else ""
        lines.append(f"    {hit.entry.id:<{width}}  {hit.score:.3f}{mark}")
    if expected and expected not in ids[:_SHOWN_RANKING]:
        rank = ids.index(expected) + 1 if expected in ids else None
        where = f"rank {rank}, {hits[rank - 1].score:.3f}" if rank else f"not in the top {len(hits)}"
        lines.append(f"    {expected:<{width}}  ({where})  <- expected")
    return lines


def explain(
    header: str,
    step: Step,
    turn: TurnResult,
    mismatches: Sequence[Mismatch],
    assistant: AssistantLike,
    transcript: Sequence[TurnResult] = (),
) -> str:
    width = max(len(m.what) for m in mismatches) + len("expected ")
    lines = [header, f"  user: {step.shown}", ""]
    for m in mismatches:
        lines.append(f"  {'expected ' + m.what:<{width}}  {m.expected}")
        lines.append(f"  {'actual ' + m.what:<{width}}  {m.actual}")
    lines.append("")
    parse = turn.parse
    lines.extend(_ranking_lines(parse, step.expect.intent))
    if parse is not None:
        entities = ", ".join(f"{e.entity}={_show(e.value)} ({e.extractor})" for e in parse.entities)
        lines.append(f"  entities: {entities or '(none)'}")
    if step.expect.entry is not None or _knowledge_reply(turn) is not None:
        lines.append(f"  answered by: {_describe_answer(turn)}")
        lines.extend(_knowledge_lines(assistant, turn, step.expect.entry))
    if turn.dialogue:
        lines.append(f"  actions this turn: {', '.join(turn.actions) or '(none)'}")
        if turn.form:
            lines.append(f"  active form: {turn.form}")
        slots = {k: v for k, v in turn.slots.items() if v is not None}
        if slots:
            lines.append(f"  slots: {', '.join(f'{k}={_show(v)}' for k, v in sorted(slots.items()))}")
        for reply in turn.replies:
            lines.append(f"  bot: {_one_line(reply.text)}{_buttons_line(reply)}")
    if transcript:
        lines.extend(["", "  conversation so far:"])
        for earlier in transcript:
            said = earlier.text if earlier.clicked is None else f'[clicks "{earlier.clicked}"] {earlier.text}'
            lines.append(f"    user: {said}")
            for reply in earlier.replies:
                lines.append(f"      bot: {_one_line(reply.text, 100)}{_buttons_line(reply)}")
    return "\n".join(lines).rstrip()


def _buttons_line(reply: Any) -> str:
    titles = [str(b.title) for b in getattr(reply, "buttons", ())]
    return f"  [buttons: {' | '.join(titles)}]" if titles else ""


def summarise(mismatches: Sequence[Mismatch]) -> str:
    """One line for the short test summary (`-ra`) and junit's failure message."""
    return "; ".join(
        f"{m.what}: expected {_one_line(m.expected, 80)}, got {_one_line(m.actual, 80)}" for m in mismatches
    )
