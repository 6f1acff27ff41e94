"""Conversation review for the staff console (issue 18, item 4): transcript search (`search`), one
conversation turn by turn (`transcript`) and masking of personal data (`masking`). Read-only over the stored
conversations; nothing here runs on a customer's turn."""

from __future__ import annotations

from bot.review.masking import mask_personal
from bot.review.search import (
    ConversationPage,
    ConversationSummary,
    ReviewQuery,
    ReviewQueryError,
    known_intents,
    search_conversations,
)
from bot.review.transcript import BotLine, Transcript, TurnView, load_transcript

__all__ = [
    "BotLine",
    "ConversationPage",
    "ConversationSummary",
    "ReviewQuery",
    "ReviewQueryError",
    "Transcript",
    "TurnView",
    "known_intents",
    "load_transcript",
    "mask_personal",
    "search_conversations",
]
