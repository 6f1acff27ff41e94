"""The tables of the bot's database that may hold something about a person, as export, delete and the
retention purge see them.

Every table that keeps conversation text or a sender id is listed here: the conversations and their
events (`bot.dialogue.tracker_store`), feedback (`bot.feedback`), handoff tickets (`bot.dialogue.handoff`),
failed verifications (keyed `conversation:<sender>`, kept by the reference shop), unanswered questions
(`kb_unanswered`, in the SQLite file of the state folder), the customer profiles (`bot.customers.sql`),
what the bot will say first and its reminders (`proactive_outbox`, `proactive_reminders`: `bot.proactive`,
keyed by sender id) and the learning suggestions (`learning_suggestions`: `bot.learning.store`, whose
examples, phrasings and drafted question are customer messages). A table that does not exist (a store
never used with this database) is skipped. The shop backend's own tables (customers, orders, bookings:
`shop_*`) are the shop's system of record, not the bot's memory: they are neither exported nor deleted here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, delete, inspect
from sqlalchemy.exc import SQLAlchemyError

from bot.customers.sql import metadata as customer_metadata
from bot.customers.store import CustomerStoreError
from bot.dialogue.handoff import handoff_live, handoff_tickets
from bot.dialogue.tracker_store import conversations, history
from bot.feedback import feedback_table

log = logging.getLogger(__name__)

VERIFICATION_TABLE = "verification_failures"
UNANSWERED_TABLE = "kb_unanswered"
OUTBOX_TABLE = "proactive_outbox"
REMINDERS_TABLE = "proactive_reminders"
SUGGESTIONS_TABLE = "learning_suggestions"
NOT_PERSONAL_TABLES = frozenset(
    {"learning_audit", "learning_decided_signals", "tracker_store_probe", "staff_members", "console_sessions",
     "console_audit"}
)  # fmt: skip
"""Tables of the bot that hold nothing about a customer: the audit of staff decisions (who on the staff
decided, the diff written into the shop's own files), hashed message keys, the tracker store's write check,
and the staff console's own accounts, sessions and audit log (staff data; an audit target names a ticket or
a conversation id, never a customer's details)."""


@dataclass
class Deleted:
    """Rows deleted (or blanked) per table: no personal data, safe to log and to show."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        if count:
            self.rows[table] = self.rows.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        return ", ".join(f"{table}={count}" for table, count in sorted(self.rows.items())) or "nothing"


def delete_rows(conn: Connection, table: Table | None, where: Any, deleted: Deleted) -> None:
    """Delete the rows of `table` matching `where` (nothing when the table is absent), counting them."""
    if table is not None:
        deleted.add(table.name, int(conn.execute(delete(table).where(where)).rowcount or 0))


@dataclass(frozen=True)
class Tables:
    """The tables present in one transaction (None: not in this database)."""

    conversations: Table | None
    events: Table | None
    feedback: Table | None
    tickets: Table | None
    verification: Table | None
    unanswered: Table | None
    outbox: Table | None = None
    reminders: Table | None = None
    suggestions: Table | None = None
    live: Table | None = None
    """`handoff_live`: who took each ticket and the email left for the reply"""


class PersonalDatabase:
    """The bot's database (and the state folder's SQLite file of unanswered questions, when the database is
    elsewhere), opened one transaction at a time."""

    def __init__(self, engine: Engine, *, unanswered_file: Path | None = None) -> None:
        self.engine = engine
        self.unanswered_file = unanswered_file
        try:
            customer_metadata.create_all(engine)
        except SQLAlchemyError as e:
            raise CustomerStoreError(f"cannot create the customer tables in {self.where}: {e}") from e

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, what: str) -> Iterator[tuple[Connection, Tables]]:
        """One transaction on the bot's database, with the tables it holds."""
        try:
            with self.engine.begin() as conn:
                yield conn, self._tables(conn)
        except SQLAlchemyError as e:
            raise CustomerStoreError(f"customer data: database {what} failed ({self.where}): {e}") from e

    def _tables(self, conn: Connection) -> Tables:
        names = set(inspect(conn).get_table_names())

        def known(table: Table) -> Table | None:
            return table if table.name in names else None

        def reflected(name: str) -> Table | None:
            return _reflect(conn, name) if name in names else None

        return Tables(
            conversations=known(conversations),
            events=known(history),
            feedback=known(feedback_table),
            tickets=known(handoff_tickets),
            verification=reflected(VERIFICATION_TABLE),
            unanswered=reflected(UNANSWERED_TABLE),
            outbox=reflected(OUTBOX_TABLE),
            reminders=reflected(REMINDERS_TABLE),
            suggestions=reflected(SUGGESTIONS_TABLE),
            live=known(handoff_live),
        )

    @contextmanager
    def separate_unanswered(self) -> Iterator[tuple[Connection, Table] | None]:
        """The unanswered questions' table in the state folder's SQLite file, when the bot's database is
        another one (Postgres) and the file holds it; else None (they are in the bot's database or nowhere)."""
        file = self.unanswered_file
        if file is None or not file.is_file() or _same_file(self.engine, file):
            yield None
            return
        engine = create_engine(f"sqlite:///{file}")
        try:
            with engine.begin() as conn:
                if UNANSWERED_TABLE not in inspect(conn).get_table_names():
                    yield None
                else:
                    yield conn, _reflect(conn, UNANSWERED_TABLE)
        except SQLAlchemyError as e:
            raise CustomerStoreError(f"unanswered questions: database access failed ({file}): {e}") from e
        finally:
            engine.dispose()


def _reflect(conn: Connection, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


def _same_file(engine: Engine, file: Path) -> bool:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return False
    try:
        return Path(database).resolve() == file.resolve()
    except OSError:
        return False
