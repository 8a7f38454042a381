"""The alarm on a real broker: rings on a cramp, silent on leg movements, stopped by an
acknowledgement on the alert/ack topic, "not a cramp" stored by the logger."""

from __future__ import annotations

import json
import threading

import pytest

from crampwatch.consumers.alarm import Alarm, AlarmAction
from crampwatch.consumers.logger import EventLogger
from crampwatch.consumers.prompts import monitoring_ended
from crampwatch.consumers.store import EventStore
from crampwatch.publish import EventPublisher, topics
from crampwatch.publish.config import MQTT_V311, connect_client, make_client

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.actions: list[AlarmAction] = []
        self._lock = threading.Lock()

    def handle(self, action: AlarmAction) -> None:
        with self._lock:
            self.actions.append(action)

    def kinds(self, event_id: str | None = None) -> list[str]:
        with self._lock:
            return [a.kind for a in self.actions if event_id is None or a.event_id == event_id]


def test_alarm_rings_on_cramp_only_and_stops_on_ack(
    any_broker, make_event, wait_for, tmp_path
) -> None:
    recorder = Recorder()
    db = tmp_path / "events.db"
    with (
        EventLogger(any_broker, db) as logger,
        Alarm(any_broker, [recorder], escalate_after_s=30, prompt_step_s=30) as alarm,
    ):
        assert logger.wait_subscribed(30) and alarm.wait_subscribed(30)
        publisher = EventPublisher(any_broker, "dev1", tmp_path / "outbox.db")
        publisher.start()
        raw = make_client(any_broker, "ack-button", protocol=MQTT_V311)
        connect_client(raw, any_broker, blocking=True)
        raw.loop_start()
        try:
            for i in range(1, 4):
                publisher.publish(make_event(i, "leg_movement"))
            raw.publish(topics.event_topic("dev1"), b"{broken", qos=1)  # must not stop it
            cramp = make_event(5)
            publisher.publish(cramp)
            assert wait_for(lambda: alarm.ringing, 10)
            assert alarm.events_seen == 4 and alarm.invalid == 1
            assert recorder.kinds().count("ring") == 1  # leg movements never rang
            publisher.publish(cramp)  # a resend: the same id never rings twice
            assert publisher.wait_drained(10)
            ack = {"event_id": cramp.id, "action": "not_a_cramp", "source": "test"}
            raw.publish(topics.alert_ack_topic("dev1"), json.dumps(ack), qos=1)
            assert wait_for(lambda: not alarm.ringing, 10)
            assert wait_for(lambda: logger.counters.labels >= 1, 10)
            assert recorder.kinds(cramp.id).count("ring") == 1
            assert "silence" in recorder.kinds(cramp.id)
        finally:
            raw.disconnect()
            raw.loop_stop()
            publisher.stop()
        # the service stopped normally: "ended", not "lost"
        assert wait_for(lambda: monitoring_ended("dev1") in [a.text for a in recorder.actions], 10)
    with EventStore(db) as store:
        labels = {(eid, label) for eid, label, _src, _at in store.labels()}
        assert (cramp.id, "not_a_cramp") in labels


def test_key_press_ack_reaches_the_logger_as_a_label(mosquitto, make_event, wait_for, tmp_path):
    recorder = Recorder()
    db = tmp_path / "events.db"
    with (
        EventLogger(mosquitto.config, db) as logger,
        Alarm(mosquitto.config, [recorder], escalate_after_s=0.5, prompt_step_s=60) as alarm,
        EventPublisher(mosquitto.config, "dev1", tmp_path / "outbox.db") as publisher,
    ):
        assert logger.wait_subscribed(30) and alarm.wait_subscribed(30)
        cramp = make_event(7)
        publisher.publish(cramp)
        assert wait_for(lambda: "escalate" in recorder.kinds(cramp.id), 10)
        alarm.acknowledge("ack")  # what the 'a' key does
        assert not alarm.ringing
        assert wait_for(lambda: logger.counters.labels >= 1, 10)
    with EventStore(db) as store:
        assert store.events()[0].labels == ("acknowledged",)
