"""The live handoff lifecycle in the store (SQL and the in-memory fake): take, race, close, requeue."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.dialogue.handoff import (
    Agent,
    HandoffClosedError,
    HandoffNotFoundError,
    HandoffStatus,
    HandoffStore,
    HandoffTakenError,
    InMemoryHandoffStore,
    SqlHandoffStore,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 21, 10, 42, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


MARIA = Agent(1, "Maria")
JONAS = Agent(2, "Jonas")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> HandoffStore:
    if request.param == "memory":
        return InMemoryHandoffStore(clock)
    return SqlHandoffStore.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}", clock=clock)


def test_a_waiting_ticket_is_taken_then_handed_back(store: HandoffStore, clock: Clock) -> None:
    ticket = store.open("u1", "a person please", [])
    assert ticket.waiting and not ticket.taken and ticket.agent is None
    taken = store.take(ticket.id, MARIA)
    assert taken.taken and taken.agent == MARIA and taken.taken_at == clock.now
    assert store.take(ticket.id, MARIA) == taken  # taking it again (a reload) changes nothing
    clock.advance(60)
    closed = store.close(ticket.id)
    assert closed.status is HandoffStatus.RESOLVED and closed.resolved_at == clock.now
    assert store.tickets() == []


def test_the_loser_is_told_who_took_it_and_when(store: HandoffStore) -> None:
    ticket = store.open("u1", "help", [])
    store.take(ticket.id, MARIA)
    with pytest.raises(HandoffTakenError) as lost:
        store.take(ticket.id, JONAS)
    assert str(lost.value) == "Maria took this conversation at 10:42 UTC"
    assert lost.value.ticket.agent == MARIA
    assert store.get(ticket.id).agent == MARIA  # type: ignore[union-attr]


def test_handing_back_twice_says_so_and_changes_nothing(store: HandoffStore, clock: Clock) -> None:
    ticket = store.open("u1", "help", [])
    first = store.close(ticket.id)
    clock.advance(300)
    with pytest.raises(HandoffClosedError) as again:
        store.close(ticket.id)
    assert str(again.value) == "this conversation was already handed back to the bot at 10:42 UTC"
    assert store.get(ticket.id) == first
    with pytest.raises(HandoffClosedError):
        store.take(ticket.id, MARIA)  # a closed ticket cannot be taken either
    with pytest.raises(HandoffNotFoundError):
        store.take(999, MARIA)
    with pytest.raises(HandoffNotFoundError):
        store.close(999)


def test_two_threads_racing_exactly_one_wins(store: HandoffStore) -> None:
    for round_ in range(10):
        ticket = store.open(f"race{round_}", "help", [])
        barrier = threading.Barrier(2)
        won: list[Agent] = []
        lost: list[str] = []

        def grab(
            agent: Agent,
            ticket_id: int = ticket.id,
            barrier: threading.Barrier = barrier,
            won: list[Agent] = won,
            lost: list[str] = lost,
        ) -> None:
            barrier.wait()
            try:
                won.append(store.take(ticket_id, agent).agent)  # type: ignore[arg-type]
            except HandoffTakenError as e:
                lost.append(str(e))

        threads = [threading.Thread(target=grab, args=(a,)) for a in (MARIA, JONAS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(lost) == 1
        assert lost[0].startswith(f"{won[0].name} took this conversation at ")
        assert store.get(ticket.id).agent == won[0]  # type: ignore[union-attr]


def test_closing_for_an_agent_is_refused_while_another_agent_holds_it(store: HandoffStore, clock: Clock) -> None:
    ticket = store.open("u1", "help", [])
    store.take(ticket.id, MARIA)
    clock.advance(200)
    store.requeue_stale(clock.now - timedelta(seconds=120))  # Maria's console went away ...
    store.take(ticket.id, JONAS)  # ... and Jonas took the conversation
    with pytest.raises(HandoffTakenError) as refused:
        store.close(ticket.id, MARIA)  # Maria's late hand back
    assert str(refused.value) == "Jonas took this conversation at 10:45 UTC"
    kept = store.get(ticket.id)
    assert kept is not None and kept.taken and kept.agent == JONAS and kept.status is HandoffStatus.OPEN
    assert store.close(ticket.id, JONAS).status is HandoffStatus.RESOLVED  # the holder may


def test_closing_for_an_agent_works_while_nobody_holds_it(store: HandoffStore) -> None:
    ticket = store.open("u1", "help", [])
    assert store.close(ticket.id, MARIA).status is HandoffStatus.RESOLVED
    with pytest.raises(HandoffClosedError):
        store.close(ticket.id, MARIA)


def test_a_hand_back_racing_another_agents_take_never_closes_their_conversation(
    store: HandoffStore, clock: Clock
) -> None:
    for round_ in range(10):
        ticket = store.open(f"back{round_}", "help", [])
        store.take(ticket.id, MARIA)
        clock.advance(200)
        store.requeue_stale(clock.now - timedelta(seconds=120))
        barrier = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def take(
            ticket_id: int = ticket.id, barrier: threading.Barrier = barrier, outcome: dict[str, object] = outcome
        ) -> None:
            barrier.wait()
            try:
                outcome["take"] = store.take(ticket_id, JONAS)
            except HandoffClosedError as e:
                outcome["take"] = e

        def hand_back(
            ticket_id: int = ticket.id, barrier: threading.Barrier = barrier, outcome: dict[str, object] = outcome
        ) -> None:
            barrier.wait()
            try:
                outcome["close"] = store.close(ticket_id, MARIA)
            except HandoffTakenError as e:
                outcome["close"] = e

        threads = [threading.Thread(target=take), threading.Thread(target=hand_back)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = store.get(ticket.id)
        assert final is not None
        if isinstance(outcome["close"], HandoffTakenError):  # Jonas was first: his conversation stays open
            assert final.status is HandoffStatus.OPEN and final.agent == JONAS
        else:  # Maria's hand back was first: Jonas is told it was handed back
            assert final.status is HandoffStatus.RESOLVED and isinstance(outcome["take"], HandoffClosedError)


def test_an_agent_not_seen_for_the_timeout_loses_the_conversation(store: HandoffStore, clock: Clock) -> None:
    ticket = store.open("u1", "help", [])
    other = store.open("u2", "help", [])
    store.take(ticket.id, MARIA)
    store.take(other.id, JONAS)
    clock.advance(100)
    assert store.seen(other.id, JONAS.id)  # Jonas's console is still polling
    assert not store.seen(ticket.id, JONAS.id)  # not his: nothing recorded
    clock.advance(30)
    [requeued] = store.requeue_stale(clock.now - timedelta(seconds=120))
    assert requeued.id == ticket.id and requeued.agent == MARIA  # as it was: who left it
    back = store.get(ticket.id)
    assert back is not None and back.waiting and back.agent is None and back.status is HandoffStatus.OPEN
    assert store.requeue_stale(clock.now - timedelta(seconds=120)) == []  # each one is requeued once
    assert not store.seen(ticket.id, MARIA.id)  # Maria came back too late: it is no longer hers
    assert store.take(ticket.id, JONAS).agent == JONAS  # the next colleague may take it


def test_customer_typing_and_contact_email_are_kept_on_the_open_ticket(store: HandoffStore, clock: Clock) -> None:
    ticket = store.open("u1", "help", [])
    store.customer_typing("u1")
    store.customer_typing("nobody")
    assert store.get(ticket.id).customer_typing_at == clock.now  # type: ignore[union-attr]
    assert store.set_contact_email(ticket.id, "ana@example.com").contact_email == "ana@example.com"


def test_an_existing_database_gets_the_live_table_and_its_open_tickets_can_be_taken(tmp_path: Path) -> None:
    """Databases from before live agents have only `shop_handoff_tickets`: the side table is created at
    start-up, with a row for each open ticket, and the old table is left as it was."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE shop_handoff_tickets (id INTEGER NOT NULL, sender_id VARCHAR(200) NOT NULL, "
            "status VARCHAR(16) NOT NULL, reason VARCHAR(200) NOT NULL, transcript_json TEXT NOT NULL, "
            "created_at DATETIME NOT NULL, resolved_at DATETIME, PRIMARY KEY (id))"
        )
        db.execute(
            "INSERT INTO shop_handoff_tickets VALUES (7, 'old', 'open', 'help', '[]', '2026-12-20 08:30:00', NULL)"
        )
    store = SqlHandoffStore.from_url(f"sqlite:///{path}")
    [ticket] = store.tickets()
    assert ticket.waiting
    assert store.take(7, MARIA).agent == MARIA
    SqlHandoffStore.from_url(f"sqlite:///{path}")  # a restart keeps who holds it
    assert store.get(7).agent == MARIA  # type: ignore[union-attr]
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(shop_handoff_tickets)")]
    assert columns == ["id", "sender_id", "status", "reason", "transcript_json", "created_at", "resolved_at"]
