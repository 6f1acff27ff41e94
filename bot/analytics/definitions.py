"""What the console's figures mean, read from what the engine stores (`conversation_events`).

A **conversation** is one sender's events in the date range, counted when the customer wrote at least one
message in it (a *customer message*: a `user` event whose intent is not an `EXTERNAL_*` event the shop fired).

Its **outcome** is the first of these that holds:

    handed_off   it was paused for a person (a `pause` event: the handoff action or an agent took over)
    task_done    a task action ran to its end (an `action` event of a custom `action_*`, not one of the
                 engine's own `ENGINE_ACTIONS`, a form's `action_ask_*` question or a knowledge lookup)
    answered     the customer's last message got a real reply and no fallback or abstention
    abandoned    anything else: the last message got only a fallback, an "I don't know" / "Did you mean…",
                 or nothing, and the customer left

**Containment**: conversations not handed off / all conversations. **Handoff rate**: handed off / all.
**Fallback rate**: customer messages the bot answered with a fallback (`FALLBACK_ACTIONS`) / customer
messages. **Abstention rate**: knowledge lookups that did not answer (`action_knowledge_unknown` "I don't
know" and `action_knowledge_suggest` "Did you mean…") / all knowledge lookups (`action_knowledge_*`).
**Time to first agent reply**: from the conversation's first `pause` to its first `bot` event carrying
`metadata.agent`. **CSAT**: thumbs up / (up + down) of the votes cast in the range.
A conversation's **sentiment** is negative when any customer message was negative, else positive when any
was positive, else neutral (none when no message carries a sentiment); its **feedback** is down when any
reply was voted down, else up when any was voted up, else none.
"""

from __future__ import annotations

from typing import Literal, get_args

from bot.learning.signals import FALLBACK_ACTIONS

Outcome = Literal["answered", "task_done", "handed_off", "abandoned"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
OUTCOME_LABELS = {
    "answered": "answered",
    "task_done": "task done",
    "handed_off": "handed off",
    "abandoned": "abandoned",
}
SENTIMENTS = ("negative", "neutral", "positive")
FEEDBACK_CHOICES = ("up", "down", "none")

ABSTENTION_ACTIONS = frozenset({"action_knowledge_unknown", "action_knowledge_suggest"})
KNOWLEDGE_ACTIONS = frozenset({"action_knowledge_answer", *ABSTENTION_ACTIONS})
UNHELPFUL_ACTIONS = frozenset(FALLBACK_ACTIONS | ABSTENTION_ACTIONS)
"""Replies that do not answer: a fallback, "I don't know", "Did you mean…"."""
ENGINE_ACTIONS = frozenset(
    {
        "action_listen",
        "action_session_start",
        "action_restart",
        "action_back",
        "action_human_handoff",
        "action_two_stage_fallback",
        "action_default_fallback",
        "action_greet_known_customer",
        "action_unlikely_intent",
        "action_deactivate_loop",
    }
)
"""Actions that are not a customer's task: the engine's own, the handoff, the known customer's greeting."""
NOT_REPLIES = frozenset({"action_listen", "action_session_start", "action_restart"})
EXTERNAL_INTENT_PREFIX = "EXTERNAL_"
AGENT_METADATA_KEY = "agent"
