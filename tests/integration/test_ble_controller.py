"""Regression tests for the bumble 0.0.236 controller work-around in ``support.ble_world``:
LE Create Connection Cancel must end a connection attempt to an absent peer."""

from __future__ import annotations

import asyncio

import pytest

from support.ci import require_module

pytestmark = pytest.mark.integration

require_module("bumble", "bumble (pinned 0.0.236) is needed for the in-process BLE stack")

from bumble import core, hci  # noqa: E402
from bumble.controller import Controller  # noqa: E402
from bumble.device import Device  # noqa: E402
from bumble.host import Host  # noqa: E402
from bumble.link import LocalLink  # noqa: E402
from bumble.transport.common import AsyncPipeSink  # noqa: E402

from support.ble_world import BleWorld  # noqa: E402

ABSENT = hci.Address("F0:00:00:00:0E:EE")


def test_connect_to_absent_peer_times_out_and_the_next_connect_works():
    async def scenario():
        async with BleWorld() as world:
            peripheral = world.new_device("present")
            await peripheral.power_on()
            await peripheral.start_advertising(auto_restart=True)
            async with asyncio.timeout(10):  # hang detector
                with pytest.raises(core.TimeoutError):
                    await world.central.connect(ABSENT, timeout=0.3)
                # The controller is free again: a real peer connects.
                connection = await world.central.connect(peripheral.random_address, timeout=3)
            assert connection.peer_address == peripheral.random_address
            await connection.disconnect()

    asyncio.run(scenario())


def test_stock_bumble_controller_still_hangs_so_the_fix_is_still_needed():
    # If this starts failing, bumble fixed LE Create Connection Cancel upstream: drop
    # FixedController's override (and this test) when moving the pin.
    async def scenario():
        link = LocalLink()
        controller = Controller("stock", link=link, public_address="F0:00:00:00:0E:01")
        central = Device(
            name="stock",
            address="F0:00:00:00:0E:01",
            host=Host(controller, AsyncPipeSink(controller)),
        )
        await central.power_on()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.5):
                await central.connect(ABSENT, timeout=0.3)

    asyncio.run(scenario())
