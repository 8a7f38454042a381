"""BleSensorSource over a real in-process BLE stack (bumble controllers on a LocalLink).

The production path runs unchanged: ``bleak.BleakClient`` / ``BleakScanner`` with the
bumble-driven backends passed as ``backend=`` / ``scanner_backend=``, through
``bleak_retry_connector.establish_connection``. Sensors stream at their real packet rate
on a simulated clock running faster than real time.
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from support.ci import require_module

pytestmark = pytest.mark.integration

require_module("bumble", "bumble (pinned 0.0.236) is needed for the in-process BLE stack")

from crampwatch.acquire.ble import BleSensorSource  # noqa: E402
from crampwatch.errors import CrampwatchError  # noqa: E402
from support.ble_run import Collected, received_samples, run_source  # noqa: E402
from support.ble_world import BleWorld  # noqa: E402
from support.sensors import SimClock, make_sensor  # noqa: E402

# Simulated minutes streamed per profile (the issue asks for 10), at the devices' real
# packet rates on a clock running faster than real time (the emulated link then runs as
# fast as it can). CRAMPWATCH_BLE_MINUTES overrides it for a quicker local run.
MINUTES = dict.fromkeys(
    ("crampwatch-ref", "openbci-ganglion", "thalmic-myo"),
    float(os.environ.get("CRAMPWATCH_BLE_MINUTES") or 10),
)
SPEED = 200.0


def _source(world: BleWorld, sensor, clock: SimClock, **kwargs) -> BleSensorSource:
    options = {
        "device_id": "test",
        "backend": world.client_backend(),
        "scanner_backend": world.scanner_backend(),
        "clock": clock.now,
        "scan_timeout_s": 1.0,
        "connect_timeout_s": 3.0,
        "reconnect_backoff_s": (0.05, 0.5),
        "block_s": 0.1,
    }
    options.update(kwargs)
    return BleSensorSource(sensor.profile, sensor.address, **options)


def _delivered(source, *sensors) -> bool:
    """Every notification the sensors sent has been decoded (or rejected) by the source."""
    handled = source.stats["packets"] + source.stats["bad_packets"]
    return all(s.done.is_set() for s in sensors) and handled >= sum(
        s.notifications for s in sensors
    )


def _assert_received_equals_sent(sensor, got: Collected, role: str, *, by_index: bool) -> int:
    sent_idx, sent_val = sensor.sent_samples(role)
    got_idx, got_val = received_samples(got.blocks[role])
    assert len(got_idx), f"{role}: nothing received"
    # The source was stopped mid-stream: at most the last partial block (< block_s) is
    # still pending in the assembler; every sample before it must have come out.
    tail = len(sent_idx) - len(got_idx)
    assert 0 <= tail < 0.1 * sensor.profile.rates_hz[role] + 1, f"{role}: {tail} missing"
    order = np.argsort(sent_idx, kind="stable")[: len(got_idx)]
    if by_index:
        # t0_s counts from the first sample of the run: align on the first sample sent.
        np.testing.assert_array_equal(got_idx + sent_idx[order[0]], sent_idx[order])
    # Values bit-exact, in order (slow accelerometers: the host times them coarsely, so
    # only their order and values are compared).
    np.testing.assert_array_equal(got_val[np.argsort(got_idx, kind="stable")], sent_val[order])
    return len(got_idx)


@pytest.mark.parametrize("profile", ["crampwatch-ref", "openbci-ganglion", "thalmic-myo"])
def test_connect_discover_stream_samples_equal_what_the_sensor_sent(profile):
    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(SPEED)
            sensor = await make_sensor(
                profile,
                world,
                name=profile.split("-")[-1][:8],
                clock=clock,
                seconds=MINUTES[profile] * 60,
                seed=3,
            ).start()
            source = _source(world, sensor, clock)
            got = await run_source(source, lambda _c: _delivered(source, sensor), timeout_s=80)
            return sensor, source, got

    sensor, source, got = asyncio.run(scenario())
    assert got.error is None
    assert [n.kind for n in got.notices[:1]] == ["connected"]
    assert got.notices[0].detail["mtu"] >= sensor.profile.min_mtu
    # The whole run arrived once, in order, without a gap or a bad packet.
    assert source.stats["notifications"] == sensor.notifications
    assert source.stats["packets"] == sensor.notifications
    assert source.stats["duplicates"] == source.stats["stale_callbacks"] == 0
    assert not got.kinds("gap") and not got.kinds("bad_packet")
    emg = {"by_index": True}
    n_calf = _assert_received_equals_sent(sensor, got, "emg_calf", **emg)
    _assert_received_equals_sent(sensor, got, "emg_tibialis", **emg)
    for axis in ("acc_x", "acc_y", "acc_z"):
        _assert_received_equals_sent(sensor, got, axis, by_index=profile == "crampwatch-ref")
    assert n_calf >= 0.99 * MINUTES[profile] * 60 * sensor.profile.rates_hz["emg_calf"]
    # Blocks carry the profile's rates and the commands reached the device.
    assert {b.fs_hz for b in got.blocks["emg_calf"]} == {sensor.profile.rates_hz["emg_calf"]}
    assert set(sensor.profile.start) <= set(sensor.commands)
    assert set(sensor.profile.configure) <= set(sensor.commands)
    if sensor.profile.battery_uuid:
        assert [n.detail["percent"] for n in got.kinds("battery")] == [sensor.battery]


def test_twenty_link_drops_are_reconnected_and_every_gap_reported():
    drops = 20

    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(20.0)
            sensor = await make_sensor(
                "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=3000, seed=5
            ).start()
            source = _source(world, sensor, clock)
            done = {"drops": 0, "mark": 0}

            async def until(c: Collected) -> bool:
                connected = len(c.kinds("connected"))
                if source.stats["packets"] < done["mark"] + 25 or connected <= done["drops"]:
                    return False
                if done["drops"] == drops:
                    return True
                done["drops"] += 1
                done["mark"] = source.stats["packets"]
                await sensor.drop_link()
                return False

            got = await run_source(source, until, timeout_s=80)
            return sensor, source, got

    sensor, source, got = asyncio.run(scenario())
    assert got.error is None
    assert len(got.kinds("disconnected")) == drops
    assert len(got.kinds("connected")) == drops + 1 == sensor.connections
    assert source.stats["reconnects"] == drops
    # Subscribed exactly once per connection: no callback ever arrived twice.
    assert source.stats["duplicates"] == source.stats["stale_callbacks"] == 0
    assert source.stats["packets"] <= source.stats["notifications"] <= sensor.notifications
    gaps = got.kinds("gap")
    assert len(gaps) == drops
    assert {g.detail["reason"] for g in gaps} == {"reconnect"}
    # Samples received are exactly samples sent; every sample not received lies in a gap.
    fs = sensor.profile.rates_hz["emg_calf"]
    sent_idx, sent_val = sensor.sent_samples("emg_calf")
    sent = dict(zip(sent_idx.tolist(), sent_val.tolist(), strict=True))
    offset = int(sent_idx.min())
    got_idx, got_val = received_samples(got.blocks["emg_calf"])
    received = dict(zip((got_idx + offset).tolist(), got_val.tolist(), strict=True))
    assert all(sent[i] == v for i, v in received.items())
    last = max(received)
    intervals = [
        (round(g.detail["start_s"] * fs) + offset, round(g.detail["end_s"] * fs) + offset)
        for g in gaps
    ]
    for lo, hi in intervals:
        assert hi > lo and lo not in received and hi - 1 not in received
    missing = set(range(offset, last + 1)) - set(received)
    assert all(any(lo <= i < hi for lo, hi in intervals) for i in missing)
    # ... and every gap is real: the sensor kept sampling, nothing was silently filled in.
    assert sum(hi - lo for lo, hi in intervals) == len(missing)


def test_garbled_packets_are_counted_and_the_stream_continues():
    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(20.0)
            sensor = await make_sensor(
                "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=40, seed=7
            ).start()
            source = _source(world, sensor, clock)
            injected = {"n": 0}

            def until(c: Collected) -> bool:
                # Garble one packet every 100 received, five times.
                if injected["n"] < 5 and source.stats["packets"] >= 100 * (injected["n"] + 1):
                    sensor.garble(1)
                    injected["n"] += 1
                return _delivered(source, sensor)

            got = await run_source(source, until, timeout_s=60)
            return sensor, source, got

    sensor, source, got = asyncio.run(scenario())
    assert got.error is None
    assert sensor.garbled == 5
    assert source.stats["bad_packets"] == 5
    bad = got.kinds("bad_packet")
    assert sum(n.detail["count"] for n in bad) == 5 and bad[-1].detail["reasons"] == {"crc": 5}
    gaps = got.kinds("gap")
    assert len(gaps) == 5 and all(g.detail["lost_packets"] == 1 for g in gaps)
    assert {g.detail["reason"] for g in gaps} == {"sequence"}
    # The stream went on to the end: everything else arrived intact.
    _assert_received_equals_sent(sensor, got, "emg_calf", by_index=True)
    assert len(got.kinds("connected")) == 1


def _absent_source(world: BleWorld, address: str, **kwargs) -> BleSensorSource:
    options = {
        "device_id": "absent",
        "backend": world.client_backend(),
        "scanner_backend": world.scanner_backend(),
        "scan_timeout_s": 0.3,
        "connect_timeout_s": 1.0,
        "max_connect_attempts": 1,
    }
    return BleSensorSource("crampwatch-ref", address, **(options | kwargs))


async def _first_error(source: BleSensorSource) -> str:
    # A hang would trip this bound (hang detector, not a speed assertion).
    async with asyncio.timeout(10):
        with pytest.raises(CrampwatchError) as info:
            async for _ in source.stream():
                pass
    return str(info.value)


def test_absent_sensor_gives_a_clear_error_within_the_timeout():
    async def scenario():
        async with BleWorld() as world:
            return await _first_error(_absent_source(world, "F0:00:00:00:0F:FF"))

    message = asyncio.run(scenario())
    assert "F0:00:00:00:0F:FF" in message and "not seen advertising" in message
    assert "\n" not in message


def test_sensor_gone_between_scan_and_connect_times_out_cleanly():
    # Seen advertising, then silent: the connection attempt must end at its timeout
    # (LE Create Connection Cancel; see FixedController) with a clear error.
    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(1.0)
            sensor = await make_sensor(
                "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=5
            ).start()
            central = world.central

            def vanish(_adv) -> None:
                central.remove_listener(central.EVENT_ADVERTISEMENT, vanish)
                asyncio.get_running_loop().create_task(sensor.device.stop_advertising())

            central.on(central.EVENT_ADVERTISEMENT, vanish)
            return await _first_error(_absent_source(world, sensor.address)), sensor

    message, sensor = asyncio.run(scenario())
    assert sensor.address in message and "timed out" in message
    assert sensor.connections == 0


def test_absent_sensor_is_retried_with_backoff_and_reported():
    async def scenario():
        async with BleWorld() as world:
            source = BleSensorSource(
                "crampwatch-ref",
                "F0:00:00:00:0F:FE",
                device_id="absent",
                backend=world.client_backend(),
                scanner_backend=world.scanner_backend(),
                scan_timeout_s=0.2,
                connect_timeout_s=0.3,
                reconnect_backoff_s=(0.05, 0.1),
            )
            return await run_source(source, lambda c: len(c.kinds("error")) >= 3, timeout_s=20)

    got = asyncio.run(scenario())
    errors = got.kinds("error")
    assert [e.detail["attempt"] for e in errors[:3]] == [1, 2, 3]
    assert [e.detail["retry_in_s"] for e in errors[:3]] == [0.05, 0.1, 0.1]


def test_two_sensors_two_legs_at_once():
    async def scenario():
        async with BleWorld() as world:
            sensors, sources = [], []
            for seed, leg in ((1, "left"), (2, "right")):
                # One simulated clock per sensor: each starts when its sensor is started.
                clock = SimClock(20.0)
                sensor = await make_sensor(
                    "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=30, seed=seed
                ).start()
                sensors.append(sensor)
                sources.append(_source(world, sensor, clock, leg=leg, device_id="night"))
            results = await asyncio.gather(
                *(
                    run_source(src, lambda _c, s=src, p=sensor: _delivered(s, p), timeout_s=60)
                    for src, sensor in zip(sources, sensors, strict=True)
                )
            )
            return sensors, sources, results

    sensors, sources, results = asyncio.run(scenario())
    for sensor, source, got, leg in zip(sensors, sources, results, ("left", "right"), strict=True):
        assert got.error is None
        assert {b.leg for blocks in got.blocks.values() for b in blocks} == {leg}
        _assert_received_equals_sent(sensor, got, "emg_calf", by_index=True)
        assert source.stats["gaps"] == 0


def test_without_mtu_exchange_notifications_are_truncated_and_rejected():
    async def scenario():
        async with BleWorld(client_mtu=None) as world:
            clock = SimClock(20.0)
            sensor = await make_sensor(
                "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=5, seed=1
            ).start()
            source = _source(world, sensor, clock)
            got = await run_source(source, lambda _c: _delivered(source, sensor), timeout_s=30)
            return sensor, source, got

    sensor, source, got = asyncio.run(scenario())
    assert got.kinds("connected")[0].detail["mtu"] == 23
    assert "MTU 23" in got.kinds("error")[0].detail["message"]
    # 104-byte packets cut to 20 bytes: every one is counted bad, none decoded as data.
    assert source.stats["bad_packets"] == sensor.notifications > 0
    assert source.stats["packets"] == 0 and not got.blocks
    bad = got.kinds("bad_packet")
    assert bad and set(bad[-1].detail["reasons"]) == {"short"}
    # ... reported at most once per second of (simulated) host time, not once per packet
    assert len(bad) <= 5 * 20 + 1 < sensor.notifications


def test_alert_command_reaches_the_sensor():
    # The Myo's vibration motor can wake the sleeper: the alert goes over the live link.
    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(5.0)
            sensor = await make_sensor(
                "thalmic-myo", world, name="Myo", clock=clock, seconds=20, seed=1
            ).start()
            source = _source(world, sensor, clock)
            sent = {}

            async def until(c: Collected) -> bool:
                if not c.kinds("connected") or source.stats["packets"] < 10:
                    return False
                sent["ok"] = await source.alert()
                return True

            await run_source(source, until, timeout_s=30)
            return sensor, sent

    sensor, sent = asyncio.run(scenario())
    assert sent["ok"] is True
    assert sensor.commands[-1] == sensor.profile.alert[0] == bytes.fromhex("030103")


def test_battery_level_is_re_read_during_the_night():
    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(5.0)
            sensor = await make_sensor(
                "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=30, seed=1
            ).start()
            source = _source(world, sensor, clock, battery_interval_s=0.05)

            def until(c: Collected) -> bool:
                if source.stats["packets"] >= 20:
                    sensor.battery = 12
                return any(n.detail["percent"] == 12 for n in c.kinds("battery"))

            return await run_source(source, until, timeout_s=30)

    got = asyncio.run(scenario())
    levels = [n.detail["percent"] for n in got.kinds("battery")]
    assert levels[0] == 87 and levels[-1] == 12
