"""The retention purge: conversation text older than `conversation_retention_days` is deleted.

What goes (everything older than the cut-off): conversation events (what was said, and the slots and
metadata they carried) and the state rows of conversations idle since then; the text of feedback
comments; resolved handoff tickets with their live rows (`handoff_live`: the agent who took the ticket
and the email the customer left for the reply), and the transcripts of tickets still open; unanswered
questions; messages the bot queued to say first (`proactive_outbox`), reminders that are done — fired,
dropped, cancelled or failed (`proactive_reminders`; a reminder still waiting stays until it fires); the
customer messages quoted in learning suggestions (`bot.customers.suggestion_texts.purge_before`).
What stays: customer profiles (preferences and the short records of past conversations, which hold no
text) — they go with "forget me" or `supportbot customers delete`.

`supportbot customers purge` runs it; `supportbot serve` runs it at start-up and then every
`PURGE_EVERY_SECONDS` (docs/customers.md). One transaction per database; safe to run from several
processes at once.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy import select

from bot.customers.database import Deleted, PersonalDatabase, delete_rows
from bot.customers.suggestion_texts import purge_before
from bot.dialogue.handoff import HandoffStatus

log = logging.getLogger("supportbot.customers")

DAY = 86400.0
PURGE_EVERY_SECONDS = DAY
"""How often a running server purges (besides once at start-up)."""
DONE_REMINDERS = ("fired", "dropped", "cancelled", "failed")
"""Reminder states past which a reminder is only history (`bot.proactive.reminders.DONE`)."""


def purge_conversations(database: PersonalDatabase, days: int, *, now: float | None = None) -> Deleted:
    """Delete conversation text older than `days` days (0: keep everything, nothing is done). Returns the
    rows deleted or blanked per table."""
    purged = Deleted()
    if days <= 0:
        return purged
    cutoff = (time.time() if now is None else now) - days * DAY
    moment = datetime.fromtimestamp(cutoff, UTC)
    with database.transaction("purge") as (conn, tables):
        if tables.events is not None:
            delete_rows(conn, tables.events, tables.events.c.timestamp < cutoff, purged)
        if tables.conversations is not None:
            delete_rows(conn, tables.conversations, tables.conversations.c.updated_at < cutoff, purged)
        if tables.feedback is not None:
            f = tables.feedback
            old = (f.c.updated_at < cutoff) & f.c.comment.is_not(None)
            purged.add(
                "feedback (comments)", int(conn.execute(f.update().where(old).values(comment=None)).rowcount or 0)
            )
        if tables.tickets is not None:
            t = tables.tickets
            resolved = (t.c.created_at < moment) & (t.c.status == HandoffStatus.RESOLVED.value)
            if tables.live is not None:  # first: their live rows hold the email left for the reply
                ticket = tables.live.c.ticket_id  # also a live row left by a ticket purged before this rule
                gone = ticket.in_(select(t.c.id).where(resolved)) | ticket.not_in(select(t.c.id))
                delete_rows(conn, tables.live, gone, purged)
            delete_rows(conn, t, resolved, purged)
            still_open = (t.c.created_at < moment) & (t.c.transcript_json != "[]")
            blanked = conn.execute(t.update().where(still_open).values(transcript_json="[]")).rowcount
            purged.add(f"{t.name} (transcripts)", int(blanked or 0))
        if tables.unanswered is not None:
            delete_rows(conn, tables.unanswered, tables.unanswered.c.created_at < cutoff, purged)
        if tables.outbox is not None:
            delete_rows(conn, tables.outbox, tables.outbox.c.created_at < cutoff, purged)
        if tables.reminders is not None:
            r = tables.reminders
            done = (r.c.created_at < cutoff) & r.c.status.in_(DONE_REMINDERS)
            delete_rows(conn, r, done, purged)
        purge_before(conn, tables.suggestions, cutoff, purged)
    with database.separate_unanswered() as separate:
        if separate is not None:
            file_conn, table = separate
            delete_rows(file_conn, table, table.c.created_at < cutoff, purged)
    if purged.rows:
        log.info("retention purge (older than %d days): %s", days, purged.summary())
    return purged
