"""``crampwatch.acquire.scan`` over the in-process BLE stack: advertisements matched to
profiles by service UUID or name; unsupported devices hidden unless asked for."""

from __future__ import annotations

import asyncio

import pytest

from support.ci import require_module

pytestmark = pytest.mark.integration

require_module("bumble", "bumble (pinned 0.0.236) is needed for the in-process BLE stack")

from bumble.core import AdvertisingData  # noqa: E402

from crampwatch.acquire.scan import scan  # noqa: E402
from support.ble_world import BleWorld  # noqa: E402
from support.sensors import SimClock, make_sensor  # noqa: E402


def test_scan_finds_each_supported_sensor_with_its_profile():
    async def scenario():
        async with BleWorld() as world:
            clock = SimClock(1.0)
            sensors = {}
            for profile, name in (
                ("crampwatch-ref", "CrampRef"),
                ("openbci-ganglion", "Ganglion-1a2b"),
                ("thalmic-myo", "Myo"),
            ):
                sensor = make_sensor(profile, world, name=name, clock=clock, seconds=1)
                sensors[(await sensor.start()).address] = profile
            other = world.new_device("Kettle")
            await other.power_on()
            await other.start_advertising(
                advertising_data=bytes(
                    AdvertisingData([(AdvertisingData.Type.COMPLETE_LOCAL_NAME, b"Kettle")])
                )
            )
            found = await scan(1.0, backend=world.scanner_backend())
            everything = await scan(1.0, backend=world.scanner_backend(), all_devices=True)
            return sensors, found, everything

    sensors, found, everything = asyncio.run(scenario())
    assert {r.address: r.profile for r in found} == sensors
    assert "Kettle" not in {r.name for r in found}
    assert "Kettle" in {r.name for r in everything if r.profile is None}
