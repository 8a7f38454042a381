"""EventPublisher without a broker: validation, durability while offline."""

from __future__ import annotations

import dataclasses

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
