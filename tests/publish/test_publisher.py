"""EventPublisher without a broker: validation, durability while offline, a full disk."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time

import pytest

from crampwatch.errors import CrampwatchError
from crampwatch.events import Event, event_id
from crampwatch.publish import BrokerConfig, EventPublisher, Outbox
from crampwatch.publish.broker import free_port


def _event(i: int) -> Event:
    return Event(event_id("d", "cramp", i), "d", "cramp", float(i), None, i + 1.0, 0.7)


def _dead_broker() -> BrokerConfig:
    return BrokerConfig(host="127.0.0.1", port=free_port())


def test_invalid_event_is_counted_and_never_queued(tmp_path) -> None:
    pub = EventPublisher(_dead_broker(), "d", tmp_path / "o.db")
    bad = dataclasses.replace(_event(1), confidence=1.5)
    assert pub.publish(bad) is None
    assert pub.counters.invalid == 1 and pub.counters.pending == 0


def test_dead_broker_at_start_keeps_events_in_the_outbox(tmp_path) -> None:
    pub = EventPublisher(_dead_broker(), "d", tmp_path / "o.db", probe_timeout_s=0.5)
    pub.start()  # must not raise: the night goes on, events wait
    try:
        for i in range(3):
            assert pub.publish(_event(i)) is not None
        assert not pub.wait_drained(0.3)
        assert not pub.connected
    finally:
        pub.stop(timeout_s=0.5)
    with Outbox(tmp_path / "o.db") as box:
        assert [e.onset_s for e in box.pending()] == [0.0, 1.0, 2.0]


def test_device_id_must_be_one_topic_level(tmp_path) -> None:
    for bad in ("", "a/b", "+", "#"):
        with pytest.raises(CrampwatchError):
            EventPublisher(_dead_broker(), bad, tmp_path / "o.db")


def test_a_broker_that_stays_away_is_one_line_per_interval(tmp_path, caplog) -> None:
    pub = EventPublisher(
        _dead_broker(),
        "d",
        tmp_path / "o.db",
        probe_timeout_s=0.5,
        reconnect_min_s=0.05,
        reconnect_max_s=0.05,
        unreachable_log_s=3600.0,
    )
    with caplog.at_level(logging.WARNING, logger="crampwatch.publish"):
        pub.start()
        try:
            pub.publish(_event(1))
            # many failed attempts (paho retries every 0.05 s) ...
            deadline = time.monotonic() + 20
            while pub._failed_attempts < 10 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert pub._failed_attempts >= 10
        finally:
            pub.stop(timeout_s=0.2)
    # ... and one line saying so (plus one at stop: the final status could not go out)
    down = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(down) == 2, down
    assert "monitoring goes on" in down[0] and "'offline' was not published" in down[1]


def test_the_recording_announcement_waits_in_the_outbox(tmp_path) -> None:
    pub = EventPublisher(_dead_broker(), "d", tmp_path / "o.db", probe_timeout_s=0.5)
    pub.start()
    try:
        pub.publish(_event(0))
        pub.publish_recording("2026-11-24", "/data/night.edf", "2026-11-24T22:00:00+00:00")
        assert pub.counters.pending == 2
    finally:
        pub.stop(timeout_s=0.2)
    with Outbox(tmp_path / "o.db") as box:  # what the next start sends, in order
        assert [e.onset_s for e in box.pending()] == [0.0]
        (message,) = box.messages()
        assert message.topic == "crampwatch/d/recording"
        assert json.loads(message.payload)["path"] == "/data/night.edf"
        assert message.seq > box.entries()[0].seq


def test_an_outbox_that_cannot_be_written_keeps_events_in_memory(tmp_path, monkeypatch) -> None:
    failures: list[BaseException] = []
    pub = EventPublisher(
        _dead_broker(),
        "d",
        tmp_path / "o.db",
        probe_timeout_s=0.5,
        on_storage_failure=failures.append,
    )

    def full(_event: Event) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(pub.outbox, "put", full)
    pub.start()
    try:
        for i in range(3):
            pub.publish(_event(i))  # never raises: the event goes out from memory
        counters = pub.counters
    finally:
        pub.stop(timeout_s=0.2)
    assert [str(e) for e in failures] == ["database or disk is full"]  # reported once
    assert counters.storage_failures == 3 and counters.pending == 3 and pub.in_memory == 3
