"""Publisher → broker → logger → SQLite, against mosquitto and the embedded broker."""

from __future__ import annotations

import json
import sqlite3
import threading

import paho.mqtt.client as mqtt
import pytest

from crampwatch.consumers.logger import EventLogger
from crampwatch.consumers.store import EventStore
from crampwatch.events import validate_event
from crampwatch.publish import EventPublisher, topics
from crampwatch.publish.config import (
    MQTT_V5,
    MQTT_V311,
    connect_client,
    make_client,
    probe_protocol,
)
from crampwatch.publish.homeassistant import discovery_messages

pytestmark = pytest.mark.integration


def _raw_client(config, client_id: str) -> mqtt.Client:  # type: ignore[no-untyped-def]
    client = make_client(config, client_id, protocol=MQTT_V311)
    connect_client(client, config, blocking=True)
    client.loop_start()
    return client


def test_round_trip_stores_each_event_once(any_broker, make_event, wait_for, tmp_path) -> None:
    db = tmp_path / "events.db"
    with EventLogger(any_broker, db) as logger:
        assert logger.wait_subscribed(30)
        publisher = EventPublisher(any_broker, "dev1", tmp_path / "outbox.db")
        publisher.start()
        sent = [make_event(i, "cramp" if i % 3 == 0 else "leg_movement") for i in range(12)]
        sent.append(make_event(0, end=True))  # the end update of cramp 0: same id
        for event in sent:
            publisher.publish(event)
        assert publisher.wait_drained(10)
        assert wait_for(lambda: logger.counters.stored + logger.counters.updated >= 13, 10)
        publisher.stop()
    with EventStore(db) as store:
        stored = store.events()
        assert sorted(s.event.id for s in stored) == sorted({e.id for e in sent})
        for s in stored:
            validate_event(s.event.to_dict())
        first = next(s.event for s in stored if s.event.id == sent[0].id)
        assert first.end_s == sent[-1].end_s  # the update completed the onset
        assert [h[1] for h in store.status_history("dev1")][:1] == ["online"]


def test_malformed_messages_do_not_stop_the_logger(any_broker, make_event, wait_for, tmp_path):
    with EventLogger(any_broker, tmp_path / "events.db") as logger:
        assert logger.wait_subscribed(30)
        raw = _raw_client(any_broker, "raw-sender")
        bad_event = make_event(1).to_dict() | {"confidence": 7}
        for payload in (b"\xff\xfenot json", b"[1, 2]", json.dumps(bad_event).encode()):
            raw.publish(topics.event_topic("dev1"), payload, qos=1).wait_for_publish(5)
        good = make_event(2)
        raw.publish(topics.event_topic("dev1"), good.to_json(), qos=1).wait_for_publish(5)
        assert wait_for(lambda: logger.counters.stored == 1, 10)
        assert logger.counters.invalid == 3
        raw.disconnect()
        raw.loop_stop()


def test_protocol_probe_uses_v5_on_mosquitto_and_311_on_amqtt(mosquitto, embedded_broker):
    assert probe_protocol(mosquitto.config) == MQTT_V5
    unpinned = embedded_broker.config.with_protocol(None)  # type: ignore[arg-type]
    assert probe_protocol(unpinned, timeout_s=1.0) == MQTT_V311


def test_home_assistant_discovery_is_retained_and_republished(mosquitto, wait_for, tmp_path):
    publisher = EventPublisher(mosquitto.config, "dev1", tmp_path / "o.db", home_assistant=True)
    publisher.start()
    assert publisher.wait_connected(10)
    expected = {t for t, _ in discovery_messages("dev1")}
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def on_message(_c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        with lock:
            seen[msg.topic] = seen.get(msg.topic, 0) + 1

    client = make_client(mosquitto.config, "ha-watcher", protocol=MQTT_V311)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("homeassistant/+/+/+/config", qos=1)
    connect_client(client, mosquitto.config)
    client.loop_start()
    assert wait_for(lambda: expected <= set(seen), 10)  # retained: seen after the fact
    client.publish("homeassistant/status", "online", qos=1)
    assert wait_for(lambda: all(seen.get(t, 0) >= 2 for t in expected), 10)
    client.disconnect()
    client.loop_stop()
    publisher.stop()


def test_an_event_the_store_could_not_take_is_counted_and_never_blocks_the_others(
    mosquitto, make_event, wait_for, tmp_path
):
    """A store failure is acknowledged and counted (issue 14): left with the broker it
    would be redelivered first forever and, once mosquitto's in-flight window is full,
    block every valid event behind it."""
    db = tmp_path / "events.db"
    logger = EventLogger(mosquitto.config, db, client_id="logger-under-test")
    logger.start()
    assert logger.wait_subscribed(30)
    upsert = logger.store.upsert

    def disk_error(event):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("disk I/O error")

    logger.store.upsert = disk_error  # type: ignore[method-assign]
    with EventPublisher(mosquitto.config, "dev1", tmp_path / "outbox.db") as publisher:
        publisher.publish(make_event(1))
        assert wait_for(lambda: logger.counters.errors == 1, 10)
        logger.store.upsert = upsert  # type: ignore[method-assign]
        publisher.publish(make_event(2))
        assert wait_for(lambda: logger.counters.stored == 1, 10)
        logger.stop()
        with EventLogger(mosquitto.config, db, client_id="logger-under-test") as again:
            assert again.wait_subscribed(30)
            publisher.publish(make_event(3))
            assert wait_for(lambda: again.counters.stored == 1, 10)
            # event 1 was acknowledged: not redelivered to the same session
            assert again.counters.errors == 0 and again.store.count() == 2
