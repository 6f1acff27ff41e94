"""server/push.py: the registry of open sockets and the outbox poller (delivered once, to the right sender)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.proactive.outbox import InMemoryOutbox, SqlOutbox
from server.push import PushHub, replies_of


def collector() -> tuple[list[list[dict[str, Any]]], Any]:
    got: list[list[dict[str, Any]]] = []

    async def deliver(replies: list[dict[str, Any]]) -> None:
        got.append(replies)

    return got, deliver


def test_registered_socket_gets_its_senders_messages_once() -> None:
    async def scenario() -> None:
        outbox = InMemoryOutbox()
        hub = PushHub(outbox, worker="w1")
        anna, deliver_anna = collector()
        bo, deliver_bo = collector()
        hub.register("anna", deliver_anna)
        hub.register("bo", deliver_bo)
        outbox.put("anna", [{"text": "your coat shipped", "id": "r1"}])
        assert await hub.deliver_pending() == 1
        assert await hub.deliver_pending() == 0  # claimed: never twice
        assert anna == [[{"text": "your coat shipped", "id": "r1"}]]
        assert bo == []

    asyncio.run(scenario())


def test_message_waits_until_a_socket_registers_and_not_after_unregister() -> None:
    async def scenario() -> None:
        outbox = InMemoryOutbox()
        hub = PushHub(outbox, worker="w1")
        got, deliver = collector()
        outbox.put("anna", [{"text": "return received"}])
        assert await hub.deliver_pending() == 0  # nobody listens: kept for the next visit
        hub.register("anna", deliver)
        hub.unregister("anna", deliver)
        assert await hub.deliver_pending() == 0
        hub.register("anna", deliver)
        assert await hub.deliver_pending() == 1
        assert got == [[{"text": "return received"}]]

    asyncio.run(scenario())


def test_two_workers_on_one_database_deliver_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        url = f"sqlite:///{tmp_path / 'bot.db'}"
        hubs = [PushHub(SqlOutbox.from_url(url), worker=f"w{i}") for i in range(2)]
        got, deliver = collector()
        for hub in hubs:  # the same customer has a tab open on each worker
            hub.register("anna", deliver)
        hubs[0].outbox.put("anna", [{"text": "shipped"}])
        counts = await asyncio.gather(*(hub.deliver_pending() for hub in hubs))
        assert sorted(counts) == [0, 1]
        assert got == [[{"text": "shipped"}]]

    asyncio.run(scenario())


def test_the_poll_loop_delivers_after_a_poke_and_stops() -> None:
    async def scenario() -> None:
        outbox = InMemoryOutbox()
        hub = PushHub(outbox, worker="w1", poll_seconds=30)
        got, deliver = collector()
        hub.register("anna", deliver)
        stop = asyncio.Event()
        loop = asyncio.create_task(hub.run(stop))
        outbox.put("anna", [{"text": "hello"}])
        hub.poke()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
        stop.set()
        hub.poke()
        await asyncio.wait_for(loop, 5)
        assert got == [[{"text": "hello"}]]

    asyncio.run(scenario())


def test_a_failing_socket_does_not_stop_the_others() -> None:
    async def scenario() -> None:
        outbox = InMemoryOutbox()
        hub = PushHub(outbox, worker="w1")

        async def closed(replies: list[dict[str, Any]]) -> None:
            raise RuntimeError("socket closed")

        got, deliver = collector()
        hub.register("anna", closed)
        hub.register("anna", deliver)
        outbox.put("anna", [{"text": "hi"}])
        assert await hub.deliver_pending() == 1
        assert got == [[{"text": "hi"}]]

    asyncio.run(scenario())


def test_replies_of_rebuilds_text_buttons_and_id() -> None:
    (reply,) = replies_of(
        [{"text": "Shipped", "id": "r1", "buttons": [{"title": "Track", "payload": "/order_status"}]}]
    )
    assert (reply.text, reply.id, reply.buttons[0].payload) == ("Shipped", "r1", "/order_status")
