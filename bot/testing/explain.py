"""Explaining a failed case at a glance: expected against actual, the intent and knowledge
rankings, what the bot did this turn, and the conversation so far."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.testing.case_types import Step
from bot.testing.checks import Mismatch
from bot.testing.turn import TurnResult, describe_answer, knowledge_reply, one_line, show

_SHOWN_RANKING = 5


def explain(
    header: str,
    step: Step,
    turn: TurnResult,
    mismatches: Sequence[Mismatch],
    assistant: Any,
    transcript: Sequence[TurnResult] = (),
) -> str:
    """The failure text pytest prints. `assistant` is the one under test: when it has `engine.knowledge`
    and `encoder`, the knowledge base's ranking for the message is shown too."""
    width = max(len(m.what) for m in mismatches) + len("expected ")
    lines = [header, f"  user: {step.shown}", ""]
    for m in mismatches:
        lines.append(f"  {'expected ' + m.what:<{width}}  {m.expected}")
        lines.append(f"  {'actual ' + m.what:<{width}}  {m.actual}")
    lines.append("")
    parse = turn.parse
    lines.extend(_ranking_lines(parse, step.expect.intent))
    if parse is not None:
        entities = ", ".join(f"{e.entity}={show(e.value)} ({e.extractor})" for e in parse.entities)
        lines.append(f"  entities: {entities or '(none)'}")
    if step.expect.entry is not None or knowledge_reply(turn) is not None:
        lines.append(f"  answered by: {describe_answer(turn)}")
        lines.extend(_knowledge_lines(assistant, turn, step.expect.entry))
    if turn.dialogue:
        lines.extend(_turn_lines(turn))
    if transcript:
        lines.extend(["", "  conversation so far:"])
        for earlier in transcript:
            said = earlier.text if earlier.clicked is None else f'[clicks "{earlier.clicked}"] {earlier.text}'
            lines.append(f"    user: {said}")
            for reply in earlier.replies:
                lines.append(f"      bot: {one_line(reply.text, 100)}{_buttons_line(reply)}")
    return "\n".join(lines).rstrip()


def summarise(mismatches: Sequence[Mismatch]) -> str:
    """One line for the short test summary (`-ra`) and junit's failure message."""
    return "; ".join(f"{m.what}: expected {one_line(m.expected, 80)}, got {one_line(m.actual, 80)}" for m in mismatches)


def _turn_lines(turn: TurnResult) -> list[str]:
    """What the dialogue did: actions, form, slots and the replies."""
    lines = [f"  actions this turn: {', '.join(turn.actions) or '(none)'}"]
    if turn.form:
        lines.append(f"  active form: {turn.form}")
    slots = {k: v for k, v in turn.slots.items() if v is not None}
    if slots:
        lines.append(f"  slots: {', '.join(f'{k}={show(v)}' for k, v in sorted(slots.items()))}")
    for reply in turn.replies:
        lines.append(f"  bot: {one_line(reply.text)}{_buttons_line(reply)}")
    return lines


def _buttons_line(reply: Any) -> str:
    titles = [str(b.title) for b in getattr(reply, "buttons", ())]
    return f"  [buttons: {' | '.join(titles)}]" if titles else ""


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


def _knowledge_lines(assistant: Any, turn: TurnResult, expected: str | None) -> list[str]:
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
