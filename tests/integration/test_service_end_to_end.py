"""End to end: a bumble-emulated sensor → Bleak → signal → detection → outbox →
mosquitto → logger and alarm, then the recorded EDF+ replayed offline by ``detect``.

The sensor streams a scripted night (a periodic leg-movement series, a cramp with a
prodrome) on a clock running faster than real time, and drops the link once.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from support.ci import require_module

pytestmark = pytest.mark.integration

require_module("bumble", "bumble (pinned 0.0.236) is needed for the in-process BLE stack")

from crampwatch.acquire.ble import BleSensorSource  # noqa: E402
from crampwatch.consumers.alarm import Alarm  # noqa: E402
from crampwatch.consumers.logger import EventLogger  # noqa: E402
from crampwatch.consumers.store import EventStore  # noqa: E402
from crampwatch.detect.streaming import detect_recording  # noqa: E402
from crampwatch.publish import EventPublisher  # noqa: E402
from crampwatch.recordings import read_recording  # noqa: E402
from crampwatch.service.runner import Service  # noqa: E402
from crampwatch.simulate import ScheduledEvent, simulate_night  # noqa: E402
from support.ble_world import BleWorld  # noqa: E402
from support.sensors import SimClock, make_sensor  # noqa: E402

NIGHT_S = 480.0
CRAMP_ONSET_S = 300.0
DROP_AT_S = 200.0  # sensor clock: the link drops once here
SPEED = 12.0  # simulated seconds per real second
LATENCY_BUDGET_S = 6.0  # the p95 target
QUIET_S = 3.0  # real seconds without a new packet after the sensor finished
STALL_S = 60.0  # real seconds without a new packet at all: the test fails


def _scripted_night():
    schedule = [
        ScheduledEvent("plm_series", 40.0, count=5, interval_s=22.0),
        ScheduledEvent(
            "cramp", CRAMP_ONSET_S, duration_s=60.0, peak_uv=280.0, prodrome_s=20.0, reaction="none"
        ),
    ]
    return simulate_night(
        (NIGHT_S + 5) / 3600, 11, emg_fs_hz=1000, acc_fs_hz=100, schedule=schedule
    )


@pytest.mark.timeout(900)  # minutes longer than usual only on a heavily loaded machine
def test_sensor_to_alarm_and_store_matches_offline_detect(mosquitto, tmp_path):
    night = _scripted_night()
    broker = mosquitto.config
    rings: list[str] = []
    rang = threading.Event()

    def on_action(action) -> None:
        if action.kind == "ring":
            rings.append(action.event_id)
            rang.set()

    logger = EventLogger(broker, tmp_path / "events.sqlite", publish_stats=False)
    alarm = Alarm(broker, [on_action])
    logger.start()
    alarm.start()
    assert logger.wait_subscribed(30) and alarm.wait_subscribed(30)
    publisher = EventPublisher(broker, "bed", tmp_path / "outbox.sqlite")
    publisher.start()
    events = []

    def sink(ev):
        events.append(ev)
        publisher.publish(ev)

    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(SPEED)
            sensor = await make_sensor(
                "crampwatch-ref",
                world,
                name="CrampRef",
                clock=clock,
                seconds=NIGHT_S,
                signals=night.recording.signals,
            ).start()
            source = BleSensorSource(
                sensor.profile,
                sensor.address,
                device_id="bed",
                leg="left",
                backend=world.client_backend(),
                scanner_backend=world.scanner_backend(),
                clock=clock.now,
                scan_timeout_s=1.0,
                connect_timeout_s=3.0,
                reconnect_backoff_s=(0.05, 0.5),
            )
            service = Service(
                [source], sink, recordings_dir=tmp_path / "rec", no_data_timeout_s=60.0
            )
            run = asyncio.create_task(service.run())
            dropped = False
            handled, last_change = -1, time.monotonic()

            def consumed() -> bool:
                # Every notification sent has been decoded by the source (or refused, or
                # dropped by a full queue: a gap), i.e. taken through the pipeline by the
                # service, which pulls from the source. A notification in flight
                # when the link drops is lost in the air, as on a real radio, so "nothing
                # new for QUIET_S after the sensor finished" also ends the night.
                nonlocal handled, last_change
                stats = source.stats
                now_handled = stats["packets"] + stats["bad_packets"] + stats["queue_overflow"]
                if now_handled != handled:
                    handled, last_change = now_handled, time.monotonic()
                if not sensor.done.is_set():
                    return False
                return handled >= sensor.notifications or time.monotonic() - last_change > QUIET_S

            def progress() -> str:
                return (
                    f"sensor clock {clock.now():.0f} s, produced {sensor.produced}/"
                    f"{sensor.total_packets} packets, sent {sensor.notifications} "
                    f"notifications over {sensor.connections} connections, clock held "
                    f"{clock.held_s:.0f} s; source {source.stats}"
                )

            # On a loaded machine the sensor holds its clock while the link is backed
            # up, so the night may take longer than NIGHT_S / SPEED; it fails only when
            # nothing moves at all.
            stalled = False
            while not consumed():
                if not dropped and clock.now() >= DROP_AT_S:
                    await sensor.drop_link()
                    dropped = True
                if time.monotonic() - last_change > STALL_S:
                    stalled = True
                    break
                await asyncio.sleep(0.05)
            service.stop()
            async with asyncio.timeout(30):
                result = await run
            assert not stalled, f"the night stalled: {progress()}"
            # at most a handful of notifications can be lost at the drop
            assert handled >= sensor.notifications - 50, progress()
            return result

    result = asyncio.run(scenario())
    assert publisher.wait_drained(20)
    publisher.stop()

    cramps = [e for e in events if e.type == "cramp"]
    assert cramps, "the scripted cramp was not detected"
    onset = cramps[0]
    # The sensor's clock starts at its first sample: the truth onset is on the same clock.
    assert abs(onset.onset_s - CRAMP_ONSET_S) < 30
    assert onset.detected_at_s - CRAMP_ONSET_S <= LATENCY_BUDGET_S
    # The alarm rang for that cramp, once; leg movements never rang.
    assert rang.wait(10)
    assert rings == [onset.id]
    lms = [e for e in events if e.type == "leg_movement"]
    assert sum(1 for e in lms if e.periodic) >= 4
    # The drop was reconnected and reported as a signal issue.
    assert result.notices.get("disconnected", 0) >= 1 and result.notices.get("gap", 0) >= 1
    assert any(
        e.type == "signal_issue" and e.onset_s <= DROP_AT_S + 10 <= (e.end_s or 0) + 10
        for e in events
    )

    # The logger's store holds exactly the final version of every event.
    deadline = time.monotonic() + 10
    with EventStore(tmp_path / "events.sqlite") as store:
        while time.monotonic() < deadline and store.count() < len({e.id for e in events}):
            time.sleep(0.1)
        stored = {se.event.id: se.event for se in store.events()}
    alarm.stop()
    logger.stop()
    latest = {e.id: e for e in events}
    assert {i: e.to_dict() for i, e in stored.items()} == {
        i: e.to_dict() for i, e in latest.items()
    }

    # Offline replay of the recorded EDF+ finds the same cramps and leg movements
    # (away from the drop, where the EDF holds zeros instead of a marked gap).
    [edf] = result.recordings
    offline = detect_recording(read_recording(edf), device_id="bed", leg="left")

    def comparable(evs):
        return sorted(
            (e.type, round(e.onset_s, 1), None if e.end_s is None else round(e.end_s, 1))
            for e in {x.id: x for x in evs}.values()
            if e.type in ("cramp", "leg_movement") and abs(e.onset_s - DROP_AT_S) > 15
        )

    assert comparable(offline) == comparable(events)
