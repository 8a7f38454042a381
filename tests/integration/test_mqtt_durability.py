"""No event lost: broker restarted mid-stream, publisher SIGKILLed mid-stream, last will.

The logger runs in this process with a persistent session; publishers run here or in a
child process that the test kills with SIGKILL (no cleanup at all, like a crash).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from crampwatch.consumers.client import Subscriber
from crampwatch.consumers.logger import EventLogger
from crampwatch.consumers.store import EventStore
from crampwatch.publish import EventPublisher, Outbox, topics
from crampwatch.publish.config import MQTT_V311, connect_client, make_client
from support.mqtt_proxy import SUBSCRIBE, LossyRelay

pytestmark = pytest.mark.integration

TESTS = Path(__file__).parents[1]  # holds support/

# A publisher process: events start..stop-1, writing the last index it handed to
# publish() (which returns after the outbox commit) to the progress file.
PUBLISHER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[7])
from support.events import make_event
from crampwatch.publish import EventPublisher, parse_broker_url
url, outbox, progress, start, stop, delay = sys.argv[1:7]
pub = EventPublisher(parse_broker_url(url), "dev1", outbox, reconnect_min_s=0.2,
                     reconnect_max_s=1.0)
pub.start()
Path(progress).write_text(str(int(start) - 1))
for i in range(int(start), int(stop)):
    pub.publish(make_event(i, "cramp" if i % 4 == 0 else "leg_movement"))
    Path(progress).write_text(str(i))
    time.sleep(float(delay))
ok = pub.wait_drained(30)
pub.stop()
sys.exit(0 if ok else 3)
"""


def _spawn(url: str, outbox: Path, progress: Path, start: int, stop: int, delay: float):  # type: ignore[no-untyped-def]
    args = [url, str(outbox), str(progress), str(start), str(stop), str(delay), str(TESTS)]
    return subprocess.Popen([sys.executable, "-c", PUBLISHER, *args])


def _progress(path: Path) -> int:
    try:
        return int(path.read_text() or -1)
    except (FileNotFoundError, ValueError):
        return -1


def _stored_ids(db: Path) -> list[str]:
    with EventStore(db) as store:
        return [s.event.id for s in store.events()]


def test_broker_restart_mid_stream_loses_nothing(mosquitto, make_event, wait_for, tmp_path):
    n = 60
    sent = [make_event(i, "cramp" if i % 4 == 0 else "leg_movement") for i in range(n)]
    db = tmp_path / "events.db"
    with EventLogger(mosquitto.config, db) as logger:
        assert logger.wait_subscribed(30)
        publisher = EventPublisher(
            mosquitto.config,
            "dev1",
            tmp_path / "outbox.db",
            reconnect_min_s=0.2,
            reconnect_max_s=1.0,
        )
        publisher.start()
        assert publisher.wait_connected(10)
        for i, event in enumerate(sent):
            if i == 20:
                mosquitto.stop()  # SIGTERM: mosquitto saves the sessions and goes away
            if i == 40:
                assert len(publisher.outbox) >= 20  # the outage was real: nothing acked
                mosquitto.start()
            publisher.publish(event)
            time.sleep(0.01)
        assert publisher.wait_drained(30), "outbox not drained after the restart"
        assert wait_for(lambda: logger.counters.stored >= n, 30), logger.counters
        assert publisher.counters.reconnects >= 1
        publisher.stop()
    ids = _stored_ids(db)
    assert sorted(ids) == sorted(e.id for e in sent)  # 0 lost, 0 duplicates stored


def test_publisher_sigkill_mid_stream_loses_nothing(mosquitto, make_event, wait_for, tmp_path):
    n = 40
    outbox, progress, db = tmp_path / "outbox.db", tmp_path / "progress", tmp_path / "events.db"
    with EventLogger(mosquitto.config, db) as logger:
        assert logger.wait_subscribed(30)
        first = _spawn(mosquitto.url, outbox, progress, 0, n, 0.03)
        try:
            assert wait_for(lambda: _progress(progress) >= 10, 20)
            mosquitto.stop()  # from now on events can only wait in the outbox
            assert wait_for(lambda: _progress(progress) >= 20, 20)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        with Outbox(outbox) as box:
            assert len(box) > 0  # killed with unacknowledged events on disk
        mosquitto.start()
        second = _spawn(mosquitto.url, outbox, progress, _progress(progress) + 1, n, 0.0)
        assert second.wait(60) == 0
        assert wait_for(lambda: logger.counters.stored >= n, 30), logger.counters
    with Outbox(outbox) as box:
        assert len(box) == 0
    expected = {make_event(i, "cramp" if i % 4 == 0 else "leg_movement").id for i in range(n)}
    ids = _stored_ids(db)
    assert len(ids) == len(set(ids)) == n
    assert set(ids) == expected


def test_last_will_reports_offline_when_the_publisher_dies(mosquitto, wait_for, tmp_path):
    statuses: list[str] = []
    lock = threading.Lock()

    def on_message(_c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        with lock:
            statuses.append(msg.payload.decode())

    watcher = make_client(mosquitto.config, "status-watcher", protocol=MQTT_V311)
    watcher.on_message = on_message
    watcher.on_connect = lambda c, *_: c.subscribe(topics.status_topic("dev1"), qos=1)
    connect_client(watcher, mosquitto.config)
    watcher.loop_start()
    try:
        proc = _spawn(mosquitto.url, tmp_path / "o.db", tmp_path / "p", 0, 10_000, 0.05)
        try:
            assert wait_for(lambda: "online" in statuses, 20)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        assert wait_for(lambda: statuses[-1:] == ["offline"], 10), statuses
    finally:
        watcher.disconnect()
        watcher.loop_stop()


@pytest.mark.parametrize("resubscribe_after_s", [0.3, 3600.0])
def test_a_lost_subscribe_is_sent_again(mosquitto, wait_for, resubscribe_after_s) -> None:
    """A SUBSCRIBE lost on a live connection is not resent by MQTT itself: without the
    check the consumer stays deaf (the 3600-s case shows the relay really loses it)."""
    relay = LossyRelay("127.0.0.1", mosquitto.config.port, packet_type=SUBSCRIBE, drop=1)
    received: list[str] = []
    subscriber = Subscriber(
        replace(mosquitto.config, port=relay.port),
        "lossy-sub",
        [topics.ALL_EVENTS],
        lambda topic, _payload: received.append(topic),
        resubscribe_after_s=resubscribe_after_s,
    )
    subscriber.start()
    try:
        recovers = resubscribe_after_s < 60
        assert subscriber.wait_subscribed(10 if recovers else 2) is recovers
        assert relay.dropped == 1
        # at least one resend (a slow broker may need a second); none without the check
        assert (subscriber.resubscribes >= 1) if recovers else (subscriber.resubscribes == 0)
        raw = make_client(mosquitto.config, "lossy-pub", protocol=MQTT_V311)
        connect_client(raw, mosquitto.config, blocking=True)
        raw.loop_start()
        raw.publish(topics.event_topic("dev1"), b"{}", qos=1).wait_for_publish(10)
        raw.disconnect()
        raw.loop_stop()
        assert wait_for(lambda: received, 5 if recovers else 1) is recovers
    finally:
        subscriber.stop()
        relay.close()


def test_a_stop_right_after_a_burst_keeps_every_acknowledgement(mosquitto, wait_for) -> None:
    """A persistent subscriber stopped while its handler is still on the last message of
    a burst (SIGTERM once the logger's row is visible): that message is finished and the
    acknowledgements of everything handled reach the broker before the disconnect, so
    the next session gets none of them again (the logger counted poison twice and
    dropped duplicates when they were lost)."""
    burst = 40  # twice mosquitto's in-flight window
    raw = make_client(mosquitto.config, "burst-pub", protocol=MQTT_V311)
    connect_client(raw, mosquitto.config, blocking=True)
    raw.loop_start()
    try:
        for attempt in range(5):
            seen: list[bytes] = []
            last = threading.Event()

            def handle(_topic: str, payload: bytes, seen=seen, last=last) -> None:
                seen.append(payload)
                if payload == b"%d" % (burst - 1):
                    # seen from outside (the logger's row is committed) before the handler
                    # returns and paho acknowledges
                    last.set()
                    time.sleep(0.2)

            subscriber = Subscriber(mosquitto.config, "burst-sub", [topics.ALL_EVENTS], handle)
            subscriber.start()
            assert subscriber.wait_subscribed(10)
            infos = [
                raw.publish(topics.event_topic("dev1"), b"%d" % i, qos=1) for i in range(burst)
            ]
            for info in infos:
                info.wait_for_publish(10)
            assert last.wait(10), attempt
            subscriber.stop()  # at once, as SIGTERM does
            handled = len(seen)
            again: list[bytes] = []
            later = Subscriber(
                mosquitto.config,
                "burst-sub",
                [topics.ALL_EVENTS],
                lambda _t, p, again=again: again.append(p),
            )
            later.start()
            try:
                assert later.wait_subscribed(10)
                time.sleep(1.0)  # a redelivery comes at once, before anything new
            finally:
                later.stop()
            assert handled == burst and again == [], (attempt, handled, again)
    finally:
        raw.disconnect()
        raw.loop_stop()
