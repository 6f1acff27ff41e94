"""Everything stored about one person, for staff and the law: `show`, `export` (complete JSON) and `delete`.

A person is named by email, or by the shop's customer id of a signed-in customer. Their data is found
through their profile (`bot.customers.sql`: preferences, products, conversation records and so the
conversations' sender ids) and, for an email, through every conversation, ticket and feedback comment
that mentions it (a verified order lookup leaves the email in the conversation even without a profile).
For those conversations: every event and the state row, their feedback, their handoff tickets, their
failed-verification counts, the unanswered questions they asked, what the bot queued to say first and the
reminders set for them (`bot.proactive`), and their messages quoted in learning suggestions
(`bot.customers.suggestion_texts`).

`delete` removes all of it in one transaction of the bot's database (and one of the unanswered-questions
file when it is a separate one) and logs only counts. Unknown person: `CustomerNotFoundError`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, false, func, or_, select

from bot.customers.database import Deleted, PersonalDatabase, Tables, delete_rows
from bot.customers.identity import Identity, normalise_email
from bot.customers.profile import CustomerProfile, iso
from bot.customers.sql import CHILD_TABLES, SqlCustomerStore, profiles
from bot.customers.store import CustomerNotFoundError
from bot.customers.suggestion_texts import PersonTexts, quoting, remove_person
from bot.dialogue.tracker_store import make_engine

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("supportbot.customers")


@dataclass(frozen=True)
class Person:
    """Who was asked for, and where their data is."""

    asked: str
    email: str | None
    profile: CustomerProfile | None
    senders: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.profile is not None or bool(self.senders)


class PersonalRecords:
    def __init__(
        self, database: PersonalDatabase, customers: SqlCustomerStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.database = database
        self.customers = customers
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> PersonalRecords:
        engine = make_engine(settings.resolved_database_url)
        database = PersonalDatabase(engine, unanswered_file=settings.state_path / "supportbot.db")
        return cls(database, SqlCustomerStore(engine))

    # -- finding ---------------------------------------------------------------------------------
    def person(self, who: str) -> Person:
        """The person named `who` (an email, or a shop customer id); raises CustomerNotFoundError when
        nothing at all is stored about them."""
        asked = who.strip()
        if not asked:
            raise CustomerNotFoundError(who)
        identity = Identity.email(asked) if "@" in asked else Identity("shop", asked)
        profile = self.customers.find(identity)
        email = identity.value if identity.kind == "email" else (profile.email if profile else None)
        senders = {c.sender_id for c in profile.conversations} if profile else set()
        with self.database.transaction("read") as (conn, tables):
            if email:
                senders |= _senders_mentioning(conn, tables, email)
            if identity.kind == "shop":  # a signed-in customer who never gave consent has no profile to link them
                senders |= _senders_signed_in(conn, tables, identity.value)
        person = Person(asked, email, profile, tuple(sorted(senders)))
        if not person.found:
            raise CustomerNotFoundError(asked)
        return person

    # -- show and export -------------------------------------------------------------------------
    def show(self, who: str) -> dict[str, Any]:
        """The profile and how much else is stored (counts, not content)."""
        person = self.person(who)
        with self.database.transaction("read") as (conn, tables):
            counts = {
                "conversations": len(person.senders),
                "messages": _count(conn, tables.events, _of_senders(tables.events, person.senders)),
                "feedback": _count(conn, tables.feedback, self._feedback_filter(tables.feedback, person)),
                "handoff_tickets": _count(conn, tables.tickets, self._ticket_filter(tables.tickets, person)),
            }
        return {"customer": person.asked, "profile": _profile(person), "stored": counts}

    def export(self, who: str) -> dict[str, Any]:
        """Everything stored about the person, as JSON-ready data."""
        person = self.person(who)
        with self.database.transaction("read") as (conn, tables):
            conversations = [self._conversation(conn, tables, sender) for sender in person.senders]
            feedback = _rows(conn, tables.feedback, self._feedback_filter(tables.feedback, person))
            tickets = _rows(conn, tables.tickets, self._ticket_filter(tables.tickets, person))
            live = _live_of(conn, tables, [int(t["id"]) for t in tickets])
            failures = _rows(conn, tables.verification, _verification_filter(tables.verification, person))
            texts = _customer_texts(conversations)
            asked = _rows(conn, tables.unanswered, _unanswered_filter(tables.unanswered, person, texts))
            outbox = _rows(conn, tables.outbox, _of_senders(tables.outbox, person.senders))
            reminders = _rows(conn, tables.reminders, _of_senders(tables.reminders, person.senders))
            quoted = quoting(conn, tables.suggestions, PersonTexts.of(texts, person.email))
        with self.database.separate_unanswered() as separate:
            if separate is not None:
                file_conn, table = separate
                asked += _rows(file_conn, table, _unanswered_filter(table, person, texts))
        for row in asked:
            row.pop("embedding", None)  # numbers derived from the text, which is exported
        return {
            "customer": person.asked,
            "exported_at": iso(self.clock()),
            "profile": _profile(person),
            "conversations": conversations,
            "feedback": feedback,
            "handoff_tickets": [_ticket(row, live.get(int(row["id"]))) for row in tickets],
            "failed_verifications": failures,
            "unanswered_questions": asked,
            "proactive_messages": [_outbox_item(row) for row in outbox],
            "reminders": [_reminder(row) for row in reminders],
            "learning_suggestions": quoted,
        }

    def _conversation(self, conn: Connection, tables: Tables, sender: str) -> dict[str, Any]:
        state = None
        if tables.conversations is not None:
            row = conn.execute(
                select(tables.conversations.c.state).where(tables.conversations.c.sender_id == sender)
            ).first()
            state = json.loads(row[0]) if row is not None else None
        events: list[Any] = []
        if tables.events is not None:
            e = tables.events
            rows = conn.execute(select(e.c.data).where(e.c.sender_id == sender).order_by(e.c.id)).all()
            events = [json.loads(r[0]) for r in rows]
        return {"sender_id": sender, "state": state, "events": events}

    # -- delete ----------------------------------------------------------------------------------
    def delete(self, who: str) -> Deleted:
        """Delete everything stored about the person (one transaction); logs the counts only."""
        person = self.person(who)
        deleted = Deleted()
        with self.database.transaction("delete") as (conn, tables):
            texts = _customer_texts(self._conversation(conn, tables, s) for s in person.senders)
            delete_rows(conn, tables.unanswered, _unanswered_filter(tables.unanswered, person, texts), deleted)
            delete_rows(conn, tables.events, _of_senders(tables.events, person.senders), deleted)
            delete_rows(conn, tables.conversations, _of_senders(tables.conversations, person.senders), deleted)
            delete_rows(conn, tables.feedback, self._feedback_filter(tables.feedback, person), deleted)
            if tables.live is not None and tables.tickets is not None:
                theirs = select(tables.tickets.c.id).where(self._ticket_filter(tables.tickets, person))
                delete_rows(conn, tables.live, tables.live.c.ticket_id.in_(theirs), deleted)
            delete_rows(conn, tables.tickets, self._ticket_filter(tables.tickets, person), deleted)
            delete_rows(conn, tables.verification, _verification_filter(tables.verification, person), deleted)
            delete_rows(conn, tables.outbox, _of_senders(tables.outbox, person.senders), deleted)
            delete_rows(conn, tables.reminders, _of_senders(tables.reminders, person.senders), deleted)
            remove_person(conn, tables.suggestions, PersonTexts.of(texts, person.email), deleted)
            if person.profile is not None:
                for table in CHILD_TABLES:
                    delete_rows(conn, table, table.c.customer_id == person.profile.id, deleted)
                delete_rows(conn, profiles, profiles.c.id == person.profile.id, deleted)
        with self.database.separate_unanswered() as separate:
            if separate is not None:
                file_conn, table = separate
                delete_rows(file_conn, table, _unanswered_filter(table, person, texts), deleted)
        log.info("customer data deleted on request: %s rows (%s)", deleted.total, deleted.summary())
        return deleted

    # -- filters ---------------------------------------------------------------------------------
    def _feedback_filter(self, table: Table | None, person: Person) -> Any:
        if table is None:
            return false()
        return or_(_of_senders(table, person.senders), _mentions(table.c.comment, person.email))

    def _ticket_filter(self, table: Table | None, person: Person) -> Any:
        if table is None:
            return false()
        return or_(_of_senders(table, person.senders), _mentions(table.c.transcript_json, person.email))


def _mentions(column: Any, email: str | None) -> Any:
    """`column` contains the email, in any case (portable: lower() and an escaped LIKE)."""
    if not email:
        return false()
    return func.lower(column).contains(normalise_email(email), autoescape=True)


def _of_senders(table: Table | None, senders: Iterable[str]) -> Any:
    chosen = list(senders)
    if table is None or not chosen:
        return false()
    return table.c.sender_id.in_(chosen)


def _verification_filter(table: Table | None, person: Person) -> Any:
    if table is None or not person.senders:
        return false()
    return table.c.key.in_([f"conversation:{s}" for s in person.senders])


def _unanswered_filter(table: Table | None, person: Person, texts: set[str]) -> Any:
    """Unanswered questions the person asked: their exact texts, or any text with their email."""
    if table is None:
        return false()
    return or_(table.c.text.in_(sorted(texts)) if texts else false(), _mentions(table.c.text, person.email))


def _senders_mentioning(conn: Connection, tables: Tables, email: str) -> set[str]:
    found: set[str] = set()
    for table, column in (
        (tables.conversations, "state"),
        (tables.events, "data"),
        (tables.tickets, "transcript_json"),
        (tables.feedback, "comment"),
    ):
        if table is not None:
            query = select(table.c.sender_id).where(_mentions(table.c[column], email)).distinct()
            found |= {str(r[0]) for r in conn.execute(query)}
    return found


SIGNED_IN_NOTE = "signed_in"
"""The conversation note (bot.dialogue.memory) holding the shop customer id proven by a signed token."""


def _senders_signed_in(conn: Connection, tables: Tables, customer_id: str) -> set[str]:
    """Conversations whose saved state notes this shop customer as signed in."""
    if tables.conversations is None:
        return set()
    value = json.dumps(customer_id)
    notes = [f'"{SIGNED_IN_NOTE}": {value}', f'"{SIGNED_IN_NOTE}":{value}']
    column = tables.conversations.c.state
    query = select(tables.conversations.c.sender_id).where(or_(*(column.contains(n, autoescape=True) for n in notes)))
    return {str(r[0]) for r in conn.execute(query)}


def _customer_texts(conversations: Iterable[dict[str, Any]]) -> set[str]:
    """What the customer typed in these conversations."""
    return {
        str(e.get("text"))
        for c in conversations
        for e in c["events"]
        if e.get("event") == "user" and isinstance(e.get("text"), str)
    }


def _count(conn: Connection, table: Table | None, where: Any) -> int:
    if table is None:
        return 0
    return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar() or 0)


def _rows(conn: Connection, table: Table | None, where: Any) -> list[dict[str, Any]]:
    if table is None:
        return []
    return [{k: _plain(v) for k, v in row.items()} for row in conn.execute(select(table).where(where)).mappings()]


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    return value


def _ticket(row: dict[str, Any], live: dict[str, Any] | None = None) -> dict[str, Any]:
    ticket = dict(row)
    ticket["transcript"] = json.loads(ticket.pop("transcript_json") or "[]")
    if live:
        ticket.update({k: v for k, v in live.items() if k != "ticket_id"})  # the agent, the email for the reply
    return ticket


def _live_of(conn: Connection, tables: Tables, ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
    if tables.live is None or not ticket_ids:
        return {}
    rows = _rows(conn, tables.live, tables.live.c.ticket_id.in_(ticket_ids))
    return {int(r["ticket_id"]): r for r in rows}


def _outbox_item(row: dict[str, Any]) -> dict[str, Any]:
    item = dict(row)
    item["replies"] = json.loads(item.get("replies") or "[]")
    return item


def _reminder(row: dict[str, Any]) -> dict[str, Any]:
    item = dict(row)
    item["entities"] = json.loads(item.get("entities") or "{}")
    return item


def _profile(person: Person) -> dict[str, Any] | None:
    return person.profile.as_dict() if person.profile is not None else None
