"""``crampwatch logger`` / ``crampwatch alarm`` as processes against mosquitto."""

from __future__ import annotations

import asyncio
import socket
import time

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


def _mqtt_connects(server: socket.socket, n: int, timeout_s: float) -> list[socket.socket]:
    """The first ``n`` connections on which an MQTT CONNECT packet (first byte 0x10)
    arrives, kept open and unanswered; connections that send nothing (the reachability
    probe) are closed."""
    deadline = time.monotonic() + timeout_s
    server.settimeout(0.5)
    connects: list[socket.socket] = []
    while len(connects) < n and time.monotonic() < deadline:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        conn.settimeout(2.0)
        try:
            if conn.recv(1) == b"\x10":
                connects.append(conn)
                continue
        except TimeoutError:
            pass
        conn.close()
    return connects


@pytest.mark.parametrize("verb", ["logger", "alarm"])
@pytest.mark.parametrize("n_connect", [1, 2], ids=["probing_mqtt5", "subscribing"])
def test_sigterm_before_the_broker_answered_is_a_clean_stop(verb, n_connect, tmp_path) -> None:
    """systemd may stop a consumer before its broker answered: while it asks whether the
    broker speaks MQTT 5 (first CONNECT), or while it waits for the session's CONNACK and
    SUBACK (second CONNECT; a persistent session's queued events can be stored by then).
    Both are a clean stop, exit 0, not "aborted"."""
    with socket.create_server(("127.0.0.1", 0)) as silent_broker:
        port = silent_broker.getsockname()[1]
        args = ["--db", str(tmp_path / "e.db")] if verb == "logger" else ["--no-sound"]
        cw = Crampwatch(verb, "--broker", f"mqtt://127.0.0.1:{port}", *args)
        connects = _mqtt_connects(silent_broker, n_connect, 15)
        try:
            assert len(connects) == n_connect, cw.text
        finally:
            status, err = cw.terminate()
            for conn in connects:
                conn.close()
    assert status == 0, err
    assert "aborted" not in err and "Traceback" not in err, err
    if verb == "logger":
        assert "stored 0 events" in cw.text, cw.text


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
