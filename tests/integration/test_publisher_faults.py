"""The publisher against a real mosquitto when things go wrong: the broker restarts just
before the end, the outbox cannot be written, the broker is away when a recording is
announced. Counts: messages expected, delivered, lost, duplicated."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time

import pytest

from crampwatch.consumers.logger import EventLogger
from crampwatch.publish import EventPublisher, Outbox, topics
from crampwatch.publish.config import MQTT_V311, connect_client, make_client

pytestmark = pytest.mark.integration


class Watcher:
    """A plain subscriber recording every payload per topic (retained ones included)."""

    def __init__(self, broker, topic: str, client_id: str = "watcher") -> None:
        self.payloads: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = make_client(broker.config, client_id, protocol=MQTT_V311)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        connect_client(self.client, broker.config)
        self.client.loop_start()

    def _on_message(self, _c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.payloads.append((msg.topic, msg.payload.decode()))

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [p for t, p in self.payloads if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_stopped_while_the_broker_was_away_the_retained_status_ends_offline(
    mosquitto, wait_for, tmp_path
):
    # a reconnect only 3 s after the link dropped: the end surely falls in the wait
    pub = EventPublisher(
        mosquitto.config, "dev1", tmp_path / "o.db", reconnect_min_s=3.0, reconnect_max_s=3.0
    )
    pub.start()
    assert pub.wait_connected(10)
    status = topics.status_topic("dev1")
    first = Watcher(mosquitto, status, "w1")
    assert wait_for(lambda: first.on(status) == ["online"], 10)
    first.close()
    # the broker crashes after saving the retained "online" (a clean shutdown would
    # send the last will) and comes back; the service ends at once, while its
    # publisher is still waiting to reconnect
    seen = time.time()
    saved = mosquitto.workdir / "mosquitto.db"
    assert wait_for(lambda: saved.exists() and saved.stat().st_mtime > seen, 10)
    mosquitto.stop(signal.SIGKILL)
    mosquitto.start()
    assert not pub.connected
    pub.stop(timeout_s=10.0)
    after = Watcher(mosquitto, status, "w2")
    try:
        assert wait_for(lambda: after.on(status) != [], 10)
        assert after.on(status) == ["offline"]  # the retained status, right after the end
    finally:
        after.close()


def test_an_outbox_that_cannot_be_written_still_delivers_every_event(
    mosquitto, make_event, wait_for, tmp_path, monkeypatch
):
    sent = [make_event(i, "cramp" if i % 4 == 0 else "leg_movement") for i in range(12)]
    failures: list[BaseException] = []
    with EventLogger(mosquitto.config, tmp_path / "events.db", publish_stats=False) as logger:
        assert logger.wait_subscribed(30)
        pub = EventPublisher(
            mosquitto.config, "dev1", tmp_path / "o.db", on_storage_failure=failures.append
        )
        real_put = pub.outbox.put

        def put(event):  # type: ignore[no-untyped-def]
            if event.onset_s >= 240.0:  # the disk is full from the fifth event on
                raise sqlite3.OperationalError("database or disk is full")
            return real_put(event)

        monkeypatch.setattr(pub.outbox, "put", put)
        pub.start()
        assert pub.wait_connected(10)
        for event in sent:
            pub.publish(event)
        assert pub.wait_drained(20)
        counters = pub.counters
        pub.stop()
        assert wait_for(lambda: logger.counters.stored >= len(sent), 10)
        ids = [se.event.id for se in logger.store.events()]
        duplicates = logger.counters.duplicates
    expected = {e.id for e in sent}
    delivered = expected & set(ids)
    assert (len(expected), len(delivered), len(expected - delivered)) == (12, 12, 0)
    assert len(ids) == len(set(ids)) and duplicates == 0
    assert counters.storage_failures == 8 and counters.acked == 12 and counters.pending == 0
    assert len(failures) == 1  # reported once, not once per event


def test_a_recording_announced_while_the_broker_is_down_arrives_after_it_returns(
    mosquitto, wait_for, tmp_path
):
    recording = topics.recording_topic("dev1")
    mosquitto.stop()
    pub = EventPublisher(mosquitto.config, "dev1", tmp_path / "o.db", probe_timeout_s=0.5)
    pub.start()
    pub.publish_recording("2026-11-24", "/data/night.edf", "2026-11-24T22:00:00+00:00")
    pub.stop(timeout_s=0.5)  # the night ends with the broker still down
    with Outbox(tmp_path / "o.db") as box:
        assert len(box.messages()) == 1  # kept on disk, not dropped
    mosquitto.start()
    watcher = Watcher(mosquitto, recording)
    try:
        assert watcher.subscribed.wait(10)
        nxt = EventPublisher(mosquitto.config, "dev1", tmp_path / "o.db")
        nxt.start()  # the next run sends it first
        assert nxt.wait_drained(20)
        nxt.stop()
        assert wait_for(lambda: watcher.on(recording) != [], 20)
        payloads = [json.loads(p) for p in watcher.on(recording)]
        assert [p["path"] for p in payloads] == ["/data/night.edf"]  # once
    finally:
        watcher.close()
