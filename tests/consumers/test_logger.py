"""EventLogger.handle: one message in, the store updated (no broker needed)."""

from __future__ import annotations

import json

import pytest

from crampwatch.consumers.client import InvalidMessage, default_client_id
from crampwatch.consumers.logger import EventLogger, night_stats, parse_ack
from crampwatch.publish import BrokerConfig, topics


@pytest.fixture
def logger(tmp_path):  # type: ignore[no-untyped-def]
    lg = EventLogger(
        BrokerConfig(), tmp_path / "e.db", publish_stats=False, recordings_dir=tmp_path / "rec"
    )
    yield lg
    lg.store.close()


def test_events_are_stored_once(logger, make_event) -> None:
    ev = make_event(1)
    topic = topics.event_topic("dev1")
    assert logger.handle(topic, ev.to_json().encode()) == "new"
    assert logger.handle(topic, ev.to_json().encode()) == "duplicate"
    assert logger.handle(topic, make_event(1, end=True).to_json().encode()) == "updated"
    c = logger.counters
    assert (c.stored, c.duplicates, c.updated) == (1, 1, 1)


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00\xff", b"null", b'{"id": "x"}', b'{"type": "cramp", "confidence": 2}'],
)
def test_malformed_events_raise_invalid_message(logger, payload) -> None:
    with pytest.raises(InvalidMessage):
        logger.handle(topics.event_topic("dev1"), payload)
    assert logger.store.count() == 0


def test_status_changes_are_stored_once(logger) -> None:
    for status in (b"online", b"online", b"offline", b"online"):
        logger.handle(topics.status_topic("dev1"), status)
    assert [s for _d, s, _at in logger.store.status_history("dev1")] == [
        "online",
        "offline",
        "online",
    ]
    with pytest.raises(InvalidMessage):
        logger.handle(topics.status_topic("dev1"), b"sleeping")


def test_acks_become_labels(logger, make_event) -> None:
    ev = make_event(1)
    logger.handle(topics.event_topic("dev1"), ev.to_json().encode())
    ack = {"event_id": ev.id, "action": "not_a_cramp", "source": "key"}
    assert logger.handle(topics.alert_ack_topic("dev1"), json.dumps(ack).encode()) == "label"
    assert logger.store.events()[0].labels == ("not_a_cramp",)
    with pytest.raises(InvalidMessage):
        logger.handle(topics.alert_ack_topic("dev1"), b'{"action": "ack"}')


def test_other_topics_are_ignored(logger) -> None:
    assert logger.handle("crampwatch/dev1/alert", b"{}") == "ignored"
    assert logger.handle("elsewhere/x", b"{}") == "ignored"


def test_parse_ack_validates_action() -> None:
    assert parse_ack(b'{"action": "ack"}') == (None, "ack", "mqtt")
    with pytest.raises(InvalidMessage):
        parse_ack(b'{"action": "snooze"}')


def test_plm_index_is_per_hour_of_monitoring() -> None:
    stats = night_stats("d", "2026-11-24", cramps=2, periodic_lms=30, monitored_s=7200.0)
    assert (stats.cramps_tonight, stats.plm_index, stats.monitored_h) == (2, 15.0, 2.0)
    assert night_stats("d", "n", 0, 3, monitored_s=10.0).plm_index == 0.0
    assert json.loads(stats.to_json())["plm_index"] == 15.0


def test_default_client_ids_are_stable_and_per_role() -> None:
    cfg = BrokerConfig()
    assert default_client_id(cfg, "logger") == default_client_id(cfg, "logger")
    assert default_client_id(cfg, "logger") != default_client_id(cfg, "alarm")
    assert default_client_id(cfg, "alarm").startswith("crampwatch-alarm-")


def test_recording_announcements_register_the_night_recording(logger, tmp_path) -> None:
    path = str(tmp_path / "rec" / "n.edf")
    payload = json.dumps({"night": "2026-11-24", "path": path, "start_time": None})
    assert logger.handle("crampwatch/dev1/recording", payload.encode()) == "recording"
    assert logger.store.recordings("2026-11-24") == [("dev1", path)]
    with pytest.raises(InvalidMessage):
        logger.handle("crampwatch/dev1/recording", json.dumps({"path": path}).encode())


@pytest.mark.parametrize(
    "path",
    ["/etc/shadow", "{rec}/../../etc/shadow.edf", "{rec}/notes.txt", "relative/n.edf", "/n.edf"],
)
def test_forged_recording_paths_are_refused(logger, tmp_path, path) -> None:
    path = path.format(rec=tmp_path / "rec")
    payload = json.dumps({"night": "2026-11-24", "path": path}).encode()
    with pytest.raises(InvalidMessage):
        logger.handle("crampwatch/dev1/recording", payload)
    assert logger.store.recordings("2026-11-24") == []


def test_acks_only_for_stored_events_with_a_short_source(logger, make_event) -> None:
    ev = make_event(1)
    logger.handle(topics.event_topic("dev1"), ev.to_json().encode())
    topic = topics.alert_ack_topic("dev1")
    forged = [
        {"event_id": "no-such-event", "action": "not_a_cramp", "source": "key"},
        {"event_id": ev.id, "action": "ack", "source": "x" * 10_000},
        {"event_id": ev.id, "action": "ack", "source": "key; DROP TABLE"},
    ]
    for ack in forged:
        with pytest.raises(InvalidMessage):
            logger.handle(topic, json.dumps(ack).encode())
    assert logger.store.labels() == []
    assert logger.handle(topic, json.dumps({"event_id": ev.id, "action": "ack"}).encode())
    assert [(e, lab, src) for e, lab, src, _ in logger.store.labels()] == [
        (ev.id, "acknowledged", "mqtt")
    ]


def test_a_failing_store_is_counted_and_the_message_dropped(logger, make_event) -> None:
    logger.store.close()  # every write now fails
    assert logger.handle(topics.event_topic("dev1"), make_event(1).to_json().encode()) == "error"
    assert logger.counters.errors == 1
