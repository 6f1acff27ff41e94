"""Export, delete and the retention purge over a real database holding every store: conversations (through
the dialogue and the reference shop's real actions), feedback, handoff tickets, failed verifications,
unanswered questions, customer profiles, proactive messages and reminders, learning suggestions. After a
delete or a purge, every table of the database is scanned for what must be gone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.customers.database import NOT_PERSONAL_TABLES, PersonalDatabase
from bot.customers.identity import Identity, sign_customer_token
from bot.customers.records import PersonalRecords
from bot.customers.retention import DAY, purge_conversations
from bot.customers.sql import SqlCustomerStore
from bot.customers.store import CustomerNotFoundError
from bot.dialogue.action_runner import InProcessActionRunner
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.handoff import Agent, SqlHandoffStore, TranscriptLine, get_handoff_store
from bot.dialogue.memory import MemoryConfig
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.faq.unanswered import SqliteUnansweredStore
from bot.feedback import Feedback, SqlFeedbackStore
from bot.learning.store import SqlSuggestionStore
from bot.learning.suggestions import Suggestion
from bot.proactive.outbox import SqlOutbox
from bot.proactive.reminders import Cancellation, Reminder, SqlScheduler
from bot.responses import ResponseRenderer
from bot.testing.fixtures import IsolatedDatabase
from bot.types import Entity, IntentScore, Parse

SECRET = "records-test-secret-0123456789abcdef"
SHOP_TABLES_MAY_HOLD_THE_EMAIL = {"shop_customers", "shop_appointments"}
"""The shop's own records of a demo customer (its system of record, not the bot's memory)."""


@dataclass
class World:
    folder: Path
    url: str
    engine: DialogueEngine
    tracker: SqlTrackerStore
    records: PersonalRecords

    def say(
        self, sender: str, intent: str, words: str, entities: tuple[tuple[str, Any], ...] = (), **metadata: Any
    ) -> list[Any]:
        found = []
        for name, value in entities:
            start = words.lower().find(str(value).lower())
            found.append(Entity(name, value, start, start + len(str(value)), "test"))
        parse = Parse(words, IntentScore(intent, 0.95), tuple(found), (IntentScore(intent, 0.95),))
        with self.tracker.lock(sender):
            state = self.tracker.load(sender)
            if state is None:
                state = ConversationState(sender, session_id=1)
                state.add(event("session_started"))
            replies = self.engine.handle(state, Turn(parse, None, "rest", metadata))
            state.last_activity = time.time()
            self.tracker.save(state)
        return replies


@pytest.fixture
def world(project: Any, tmp_path: Path) -> Iterator[World]:
    database = IsolatedDatabase(tmp_path)  # the reference shop's actions use the settings' database
    url = database.open()
    engine = create_engine(url)
    store = SqlCustomerStore(engine)
    domain = project.domain
    dialogue = DialogueEngine(
        domain,
        ResponseRenderer(domain.responses, seed=0),
        InProcessActionRunner("bot.actions"),
        intents=project.data.intents,
        entities=["shop", "size", "email", "order_number"],
        customers=MemoryConfig(store, SECRET),
    )
    records = PersonalRecords(PersonalDatabase(engine, unanswered_file=tmp_path / "shop.db"), store)
    tracker = SqlTrackerStore.from_url(url)
    try:
        yield World(tmp_path, url, dialogue, tracker, records)
    finally:
        tracker.engine.dispose()
        engine.dispose()
        database.close()


ANNA_TYPED = ("where is my order AN-10001 anna@exmaple.com", "sorry it is anna@example.com")
ANNA_QUESTION = "do you sell velvet opera gloves for my cousin"
BEN_QUESTION = "do you sell velvet opera gloves for my uncle"
ANNA_CONTACT = "anna.private@example.net"
"""The email Anna left for the agent's reply (`handoff_live.contact_email`), mentioned nowhere else."""
ANNA_CALLBACK = "can someone call me back about the gloves"


def anna_and_ben(world: World) -> None:
    """Anna: a failed then a good verification, her shop remembered, a question nobody could answer, a
    handoff in a second conversation, a ticket of the first one taken live by an agent (she left an email
    for the reply) and handed back, a feedback comment. Ben: one conversation that must survive."""
    world.say(
        "conv-anna-1", "order_status", ANNA_TYPED[0], (("order_number", "AN-10001"), ("email", "anna@exmaple.com"))
    )
    world.say("conv-anna-1", "inform", ANNA_TYPED[1], (("email", "anna@example.com"),))
    world.say("conv-anna-1", "remember_preference", "remember Berlin is my shop", (("shop", "berlin"),))
    world.say("conv-anna-1", "faq", ANNA_QUESTION)
    SqliteUnansweredStore(world.folder / "shop.db").record(ANNA_QUESTION, [("gift-cards", 0.2)])
    world.say("conv-anna-2", "human_handoff", "I want a person, I'm anna@example.com", (("email", "anna@example.com"),))
    taken_live(world.url)
    feedback = SqlFeedbackStore.from_url(world.url)
    feedback.record(Feedback("conv-anna-1", "r1", "down", comment="please mail me at Anna@Example.com"))
    world.say(
        "conv-ben",
        "order_status",
        "AN-10003 ben@example.com",
        (("order_number", "AN-10003"), ("email", "ben@example.com")),
    )
    feedback.record(Feedback("conv-ben", "r2", "up"))
    SqliteUnansweredStore(world.folder / "shop.db").record("do you ship to the moon", [("delivery", 0.1)])
    feedback.engine.dispose()
    proactive_and_learning(world)


def taken_live(url: str) -> None:
    """A ticket of Anna's first conversation that an agent took in the console, where Anna left an email for
    the reply (`handoff_live`), then handed back to the bot (resolved)."""
    handoffs = SqlHandoffStore.from_url(url)
    ticket = handoffs.open("conv-anna-1", "asked for a person", [TranscriptLine("customer", ANNA_CALLBACK)])
    handoffs.take(ticket.id, Agent(7, "Maria"))
    handoffs.set_contact_email(ticket.id, ANNA_CONTACT)
    handoffs.close(ticket.id)
    handoffs.engine.dispose()


def proactive_and_learning(world: World) -> None:
    """What the bot queued to say first and the reminders set for each, and a learning suggestion quoting
    both Anna (as typed, and as drafted into a question) and Ben."""
    outbox = SqlOutbox.from_url(world.url)
    outbox.put("conv-anna-1", [{"text": "Your order AN-10001 has shipped."}])
    outbox.put("conv-ben", [{"text": "Your order AN-10003 has shipped."}])
    scheduler = SqlScheduler.from_url(world.url)
    scheduler.schedule(Reminder("conv-anna-2", "fitting", "appointment_reminder", time.time() + DAY))
    scheduler.schedule(Reminder("conv-ben", "fitting", "appointment_reminder", time.time() + DAY))
    now = time.time()
    SqlSuggestionStore.from_url(world.url).sync_open(
        [
            Suggestion(
                key="group:gloves",
                kind="new_entry",
                reason="no entry answers these",
                count=2,
                examples=(ANNA_QUESTION, BEN_QUESTION),
                first_seen=now,
                last_seen=now,
                signals={"unanswered": 2},
                question=ANNA_QUESTION[0].upper() + ANNA_QUESTION[1:] + "?",
                phrasings=(BEN_QUESTION,),
            ),
            Suggestion(
                key="group:anna",
                kind="new_entry",
                reason="no entry answers these",
                count=1,
                examples=(ANNA_TYPED[1].upper(),),
                first_seen=now,
                last_seen=now,
                signals={"unanswered": 1},
            ),
        ],  # fmt: skip
        now,
    )
    for store in (outbox, scheduler):
        store.engine.dispose()


def scan(url: str, *needles: str) -> dict[str, list[str]]:
    """Every table of the database whose rows contain one of the needles (any case), with the needles."""
    found: dict[str, list[str]] = {}
    engine = create_engine(url)
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows = " ".join(repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))).lower()
            hits = [n for n in needles if n.lower() in rows]
            if hits:
                found[table] = hits
    engine.dispose()
    return found


def test_export_is_complete(world: World) -> None:
    anna_and_ben(world)
    data = world.records.export("ANNA@example.com")
    assert data["profile"]["preferences"] == {"shop": "berlin"}
    assert [c["sender_id"] for c in data["conversations"]] == ["conv-anna-1", "conv-anna-2"]
    said = [e["text"] for c in data["conversations"] for e in c["events"] if e["event"] == "user"]
    assert ANNA_TYPED[0] in said and ANNA_QUESTION in said
    assert [f["comment"] for f in data["feedback"]] == ["please mail me at Anna@Example.com"]
    assert [t["sender_id"] for t in data["handoff_tickets"]] == ["conv-anna-2", "conv-anna-1"]
    assert any("anna@example.com" in line["text"] for line in data["handoff_tickets"][0]["transcript"])
    live = data["handoff_tickets"][1]
    assert (live["status"], live["agent_name"], live["contact_email"]) == ("resolved", "Maria", ANNA_CONTACT)
    assert {f["key"] for f in data["failed_verifications"]} == {"conversation:conv-anna-1"}
    assert [q["text"] for q in data["unanswered_questions"]] == [ANNA_QUESTION]
    assert [m["replies"] for m in data["proactive_messages"]] == [[{"text": "Your order AN-10001 has shipped."}]]
    assert [(r["sender_id"], r["name"]) for r in data["reminders"]] == [("conv-anna-2", "fitting")]
    quoted = {tuple(s["texts"]) for s in data["learning_suggestions"]}
    assert quoted == {(ANNA_QUESTION, "Do you sell velvet opera gloves for my cousin?"), (ANNA_TYPED[1].upper(),)}
    assert "ben@example.com" not in repr(data) and "conv-ben" not in repr(data) and BEN_QUESTION not in repr(data)


def test_delete_leaves_nothing_behind_in_any_table(world: World) -> None:
    anna_and_ben(world)
    profile = world.records.customers.find(Identity.email("anna@example.com"))
    assert profile is not None
    needles = (
        "anna@example.com",
        "anna@exmaple.com",
        profile.id,
        "conv-anna-1",
        "conv-anna-2",
        ANNA_QUESTION,
        ANNA_CONTACT,
        ANNA_CALLBACK,
        *ANNA_TYPED,
    )
    before = scan(world.url, *needles)
    assert {"conversations", "conversation_events", "feedback", "shop_handoff_tickets", "kb_unanswered"} <= set(before)
    assert ANNA_CONTACT in before["handoff_live"]
    assert {"customer_profiles", "verification_failures"} <= set(before)
    assert {"proactive_outbox", "proactive_reminders", "learning_suggestions"} <= set(before)

    deleted = world.records.delete("anna@example.com")

    assert deleted.rows["conversation_events"] > 0 and deleted.rows["customer_profiles"] == 1
    left = scan(world.url, *needles)
    assert set(left) <= SHOP_TABLES_MAY_HOLD_THE_EMAIL and all(hits == ["anna@example.com"] for hits in left.values())
    assert scan(world.url, "conv-ben", "ben@example.com", "do you ship to the moon").keys() >= {
        "conversations",
        "conversation_events",
        "feedback",
        "kb_unanswered",
        "proactive_outbox",
        "proactive_reminders",
    }
    assert scan(world.url, BEN_QUESTION) == {"learning_suggestions": [BEN_QUESTION]}  # Ben's line survives
    assert deleted.rows["learning_suggestions"] == 1 and deleted.rows["learning_suggestions (texts)"] == 1
    with pytest.raises(CustomerNotFoundError):
        world.records.export("anna@example.com")


def test_delete_of_a_signed_in_customer_leaves_nothing_in_any_table(world: World) -> None:
    customer = {"customer_token": sign_customer_token(SECRET, "cust-4711", int(time.time()) + 3600)}
    world.say("conv-zoe", "remember_preference", "remember that I'm an M", (("size", "M"),), **customer)
    world.say("conv-zoe", "faq", "can zoe@example.org get invoices in yellow", **customer)
    profile = world.records.customers.find(Identity("shop", "cust-4711"))
    assert profile is not None and profile.conversations
    needles = ("cust-4711", "zoe@example.org", "conv-zoe", profile.id, "invoices in yellow")
    assert scan(world.url, *needles)

    world.records.delete("cust-4711")

    assert scan(world.url, *needles) == {}


def test_a_signed_in_customer_without_a_profile_is_found_exported_and_deleted(world: World) -> None:
    """No consent, so no profile: the conversation is still theirs (the signed-in note) and goes with them."""
    customer = {"customer_token": sign_customer_token(SECRET, "cust-0042", int(time.time()) + 3600)}
    world.say("conv-yan", "faq", "do yan's invoices come in teal", **customer)
    world.say("conv-other", "faq", "do you sell teal scarves")  # someone else, anonymous
    assert world.records.customers.find(Identity("shop", "cust-0042")) is None

    exported = world.records.export("cust-0042")
    assert [c["sender_id"] for c in exported["conversations"]] == ["conv-yan"]

    world.records.delete("cust-0042")
    assert scan(world.url, "conv-yan", "invoices come in teal") == {}
    assert scan(world.url, "conv-other")  # the anonymous conversation stays


def test_purge_leaves_no_old_conversation_text_in_any_table(world: World) -> None:
    anna_and_ben(world)
    texts: tuple[str, ...] = (
        ANNA_QUESTION,
        *ANNA_TYPED,
        "AN-10003 ben@example.com",
        "please mail me",
        "do you ship to the moon",
    )
    texts = (*texts, BEN_QUESTION, "has shipped", ANNA_CALLBACK, ANNA_CONTACT)
    before = scan(world.url, *texts)
    assert {"learning_suggestions", "proactive_outbox", "shop_handoff_tickets"} <= set(before)
    assert before["handoff_live"] == [ANNA_CONTACT]  # the resolved ticket's live row: the email left for the reply

    purged = purge_conversations(world.records.database, 30, now=time.time() + 31 * DAY)

    assert purged.rows["conversation_events"] > 0 and purged.rows["kb_unanswered"] == 2
    assert purged.rows["shop_handoff_tickets"] == 1 and purged.rows["handoff_live"] == 1
    assert scan(world.url, *texts) == {}
    profile = world.records.customers.find(Identity.email("anna@example.com"))
    assert profile is not None and profile.preferences == {"shop": "berlin"}  # preferences are not text: kept


def test_purge_drops_finished_reminders_and_keeps_waiting_ones(world: World) -> None:
    anna_and_ben(world)
    scheduler = SqlScheduler.from_url(world.url)
    assert scheduler.cancel(Cancellation("conv-ben")) == 1

    purged = purge_conversations(world.records.database, 30, now=time.time() + 31 * DAY)

    assert purged.rows["proactive_reminders"] == 1
    assert [r.sender_id for r in scheduler.waiting()] == ["conv-anna-2"]  # still to fire: kept
    scheduler.engine.dispose()


def test_purge_keeps_what_is_recent_and_zero_keeps_everything(world: World) -> None:
    anna_and_ben(world)
    assert purge_conversations(world.records.database, 0, now=time.time() + 999 * DAY).rows == {}
    assert purge_conversations(world.records.database, 30).rows == {}
    assert scan(world.url, ANNA_QUESTION)


def test_every_table_the_stores_create_is_covered_or_holds_nothing_personal(world: World) -> None:
    """A new store's table must be taught to export/delete/purge (`bot.customers.database`) or declared
    free of personal data: this fails when a table is neither."""
    anna_and_ben(world)
    with world.records.database.transaction("read") as (conn, tables):
        covered = {t.name for t in vars(tables).values() if t is not None}
        present = set(inspect(conn).get_table_names())
    customer = {"customer_profiles", "customer_preferences", "customer_products", "customer_conversations"}
    shop = {name for name in present if name.startswith("shop_") and name != "shop_handoff_tickets"}
    assert present - covered - customer - shop - NOT_PERSONAL_TABLES == set()
    assert {"proactive_outbox", "proactive_reminders", "learning_suggestions"} <= covered


def test_nothing_stored_about_someone_is_a_clear_error(world: World) -> None:
    anna_and_ben(world)
    for who in ("nobody@example.com", "cust-0000", "  "):
        with pytest.raises(CustomerNotFoundError, match="nothing is stored about"):
            world.records.show(who)
    before = scan(world.url, "conv-anna-1")
    with pytest.raises(CustomerNotFoundError):
        world.records.delete("nobody@example.com")
    assert scan(world.url, "conv-anna-1") == before


def test_handoff_store_of_the_test_database_is_used(world: World) -> None:
    anna_and_ben(world)
    assert [t.sender_id for t in get_handoff_store(world.url).tickets()] == ["conv-anna-2"]
