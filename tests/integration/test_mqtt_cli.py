"""``crampwatch logger`` / ``crampwatch alarm`` as processes against mosquitto."""

from __future__ import annotations

import asyncio

import pytest

from crampwatch.consumers.store import EventStore
from crampwatch.publish import EmbeddedBroker, EventPublisher, check_reachable
from support.cli import Crampwatch

pytestmark = pytest.mark.integration


def test_logger_command_stores_events_and_stops_cleanly_on_sigterm(
    mosquitto, make_event, wait_for, tmp_path
) -> None:
    db = tmp_path / "events.db"
    cw = Crampwatch("logger", "--broker", mosquitto.url, "--db", str(db))
    try:
        assert wait_for(lambda: "logging events from" in cw.text, 15)  # subscribed
        with EventPublisher(mosquitto.config, "dev1", tmp_path / "o.db") as publisher:
            for i in range(5):
                publisher.publish(make_event(i, "leg_movement"))
            assert publisher.wait_drained(10)

        def stored() -> int:
            with EventStore(db) as store:
                return store.count()

        assert wait_for(lambda: stored() == 5, 10)
    finally:
        status, err = cw.terminate()
    assert status == 0, err
    assert "stored 5 events" in cw.text


def test_alarm_command_shows_the_prompts(mosquitto, make_event, wait_for, tmp_path) -> None:
    cw = Crampwatch("alarm", "--broker", mosquitto.url, "--no-sound", "--prompt-step", "1")
    try:
        assert wait_for(lambda: "alarm armed" in cw.text, 15)
        with EventPublisher(mosquitto.config, "dev1", tmp_path / "o.db") as publisher:
            publisher.publish(make_event(1))
            assert publisher.wait_drained(10)
            assert wait_for(lambda: "Step 2 of 5" in cw.text, 15)
    finally:
        status, err = cw.terminate()
    assert status == 0, err
    assert "Leg cramp starting" in cw.text and "Step 1 of 5" in cw.text


def test_embedded_broker_as_async_context_manager() -> None:
    async def main() -> None:
        async with EmbeddedBroker() as broker:
            check_reachable(broker.config, timeout_s=2)

    asyncio.run(main())
