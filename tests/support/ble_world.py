"""A Bluetooth LE world inside the test's event loop, on Google's bumble (pinned 0.0.236).

* :class:`BleWorld`: one bumble ``LocalLink`` with a central (our host) and any number of
  emulated sensors, each a bumble ``Device`` with its own controller — real HCI, link
  layer PDUs, L2CAP, ATT and GATT on both sides, no kernel Bluetooth needed.
* :meth:`BleWorld.client_backend` / :meth:`BleWorld.scanner_backend`: Bleak backends
  (``BaseBleakClient`` / ``BaseBleakScanner`` subclasses) that drive the central, passed
  to the production code as ``backend=`` / ``scanner_backend=``. The production
  ``BleakClient`` / ``BleakScanner`` code path is the one under test; nothing in Bleak
  is monkeypatched.
* :class:`FixedController`: bumble 0.0.236's controller answers *LE Create Connection
  Cancel* with success but leaves the connection pending and never reports the
  cancellation, so a connect to an absent peer hangs (and every later connect is
  refused). The fix follows the Core spec (Vol 4, Part E, 7.8.13): clear the pending
  request and send *LE Connection Complete* with status Unknown Connection Identifier.

Build the world inside the running loop (``async with BleWorld() as world``): bumble
schedules link traffic on ``asyncio.get_running_loop()``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import core, hci
from bumble.controller import Controller
from bumble.device import Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = ["BleWorld", "FixedController", "bleak_uuid"]

logger = logging.getLogger(__name__)

_PROPERTY_NAMES = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
}
_BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"


def bleak_uuid(uuid: core.UUID) -> str:
    """A bumble UUID as Bleak writes it: 128-bit, lower case, dashed."""
    text = uuid.to_hex_str("-").lower()
    if len(text) == 4:
        return f"0000{text}{_BASE_UUID_TAIL}"
    if len(text) == 8:
        return f"{text}{_BASE_UUID_TAIL}"
    return text


class FixedController(Controller):
    """bumble controller with a spec-conformant LE Create Connection Cancel, and LE Data
    Length Extension sized buffers (251 bytes, Bluetooth 4.2+), so that one notification
    of up to 244 bytes travels as one link-layer packet as on current sensor chips."""

    le_acl_data_packet_length = 251

    # Speed only: bumble formats every HCI packet into an f-string for logger.debug even
    # when debug is off; on the data path (ACL) we skip that, behaviour is unchanged.
    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

    def on_hci_le_create_connection_cancel_command(self, _command):
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        # The Command Complete goes out first (returned below), then the failed connection.
        asyncio.get_running_loop().call_soon(self._report_cancelled, pending.peer_address)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def _report_cancelled(self, peer_address: hci.Address) -> None:
        self.send_hci_packet(
            hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=peer_address.address_type,
                peer_address=peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
        )


class QuietHost(Host):
    """bumble Host without the eager debug formatting on the ACL data path (speed only)."""

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.snooper is None and isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        elif self.snooper is None and isinstance(packet, hci.HCI_Number_Of_Completed_Packets_Event):
            self.on_hci_event_packet(packet)
        else:
            super().on_hci_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.snooper is None and self.hci_sink and isinstance(packet, hci.HCI_AclDataPacket):
            self.hci_sink.on_packet(bytes(packet))
        else:
            super().send_hci_packet(packet)


class BleWorld:
    """In-process BLE: a central for Bleak plus emulated peripherals on one LocalLink.

    Parameters
    ----------
    client_mtu:
        ATT MTU the Bleak adapter asks for after connecting (like CoreBluetooth / WinRT,
        which exchange the MTU on their own). ``None`` skips the exchange: notifications
        are then cut to 20 bytes, as on a real link.
    """

    _addresses = itertools.count(1)

    def __init__(self, *, client_mtu: int | None = 247) -> None:
        self.link = LocalLink()
        self.client_mtu = client_mtu
        self.central = self._device("crampwatch-host")
        self.peripherals: list[Any] = []
        # notifications handed to Bleak callbacks, per peer address (upper case): what
        # an emulated sensor compares with what it sent to bound the link's backlog
        self.delivered: collections.Counter[str] = collections.Counter()

    def _device(self, name: str) -> Device:
        n = next(self._addresses)
        address = hci.Address(f"F0:00:00:00:{n >> 8:02X}:{n & 0xFF:02X}")
        controller = FixedController(name, link=self.link, public_address=address)
        device = Device(
            name=name, address=address, host=QuietHost(controller, AsyncPipeSink(controller))
        )
        return device

    def new_device(self, name: str) -> Device:
        """A bumble device on this link (for emulated sensors)."""
        return self._device(name)

    async def __aenter__(self) -> BleWorld:
        await self.central.power_on()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for peripheral in self.peripherals:
            await peripheral.stop()
        for connection in list(self.central.connections.values()):
            try:
                await asyncio.wait_for(connection.disconnect(), 2.0)
            except Exception:  # teardown must not hide the test outcome
                logger.debug("teardown disconnect failed", exc_info=True)

    def add(self, peripheral: Any) -> Any:
        """Register an emulated sensor (started by the caller, stopped on exit)."""
        self.peripherals.append(peripheral)
        return peripheral

    def client_backend(self) -> type[BaseBleakClient]:
        """A Bleak client backend class bound to this world."""
        return type("BumbleBleakClient", (BumbleBleakClient,), {"world": self})

    def scanner_backend(self) -> type[BaseBleakScanner]:
        """A Bleak scanner backend class bound to this world."""
        return type("BumbleBleakScanner", (BumbleBleakScanner,), {"world": self})


class BumbleBleakClient(BaseBleakClient):
    """Bleak client backend over the world's bumble central."""

    world: BleWorld

    def __init__(
        self, address_or_ble_device, *, disconnected_callback=None, timeout=10.0, **kwargs
    ):
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribed: set[int] = set()

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = self.world.central
        timeout = min(float(kwargs.get("timeout") or self._timeout), self._timeout)
        try:
            connection = await central.connect(
                hci.Address(self.address), transport=core.PhysicalTransport.LE, timeout=timeout
            )
        except core.TimeoutError as exc:
            raise TimeoutError(f"{self.address}: connection timed out after {timeout:g} s") from exc
        except core.ConnectionError as exc:
            raise BleakError(f"{self.address}: connection failed ({exc})") from exc
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        try:
            if self.world.client_mtu:
                await self._peer.request_mtu(self.world.client_mtu)
            self.services = await self._discover()
        except BaseException:
            # A half-set-up link must not linger: the peripheral would stop advertising.
            await asyncio.shield(connection.disconnect())
            raise

    def _on_disconnection(self, *_args: Any) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _discover(self) -> BleakGATTServiceCollection:
        peer = self._peer
        collection = BleakGATTServiceCollection()
        await peer.discover_services()
        for service in peer.services:
            svc = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(svc)
            await service.discover_characteristics()
            for char in service.characteristics:
                props = [n for flag, n in _PROPERTY_NAMES.items() if char.properties & flag]
                bchar = BleakGATTCharacteristic(
                    char, char.handle, bleak_uuid(char.uuid), props, lambda: self.mtu_size - 3, svc
                )
                collection.add_characteristic(bchar)  # also adds it to its service
                await char.discover_descriptors()
                for desc in char.descriptors:
                    bdesc = BleakGATTDescriptor(desc, desc.handle, bleak_uuid(desc.type), bchar)
                    collection.add_descriptor(bdesc)  # also adds it to its characteristic
        return collection

    def _require(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is not None:
            await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not emulated")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not emulated")

    async def read_gatt_char(self, characteristic, *, use_cached=False, **kwargs) -> bytearray:
        self._require()
        return bytearray(await characteristic.obj.read_value())

    async def read_gatt_descriptor(self, descriptor, *, use_cached=False, **kwargs) -> bytearray:
        self._require()
        return bytearray(await descriptor.obj.read_value())

    async def write_gatt_char(self, characteristic, data, response: bool) -> None:
        self._require()
        await characteristic.obj.write_value(bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor, data) -> None:
        self._require()
        await descriptor.obj.write_value(bytes(data), with_response=True)

    async def start_notify(self, characteristic, callback: NotifyCallback, **kwargs) -> None:
        self._require()
        if characteristic.handle in self._subscribed:
            raise BleakError(f"already subscribed to {characteristic.uuid}")
        self._subscribed.add(characteristic.handle)
        delivered, peer = self.world.delivered, self.address.upper()

        def on_value(value: bytes) -> None:
            delivered[peer] += 1
            callback(bytearray(value))

        await characteristic.obj.subscribe(on_value)

    async def stop_notify(self, characteristic) -> None:
        self._require()
        self._subscribed.discard(characteristic.handle)
        await characteristic.obj.unsubscribe()


class BumbleBleakScanner(BaseBleakScanner):
    """Bleak scanner backend over the world's bumble central (active scanning)."""

    world: BleWorld

    def __init__(self, detection_callback, service_uuids, scanning_mode="active", **kwargs):
        super().__init__(detection_callback, service_uuids)
        self._listener: Callable | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        central = self.world.central

        def on_advertisement(adv) -> None:
            from bumble.core import AdvertisingData

            data = adv.data
            name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or None
            uuids = [
                bleak_uuid(u)
                for t in (
                    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                )
                for u in (data.get(t) or [])
            ]
            if not self.is_allowed_uuid(uuids):
                return
            address = str(adv.address).split("/")[0]
            ad = AdvertisementData(name, {}, {}, uuids, None, adv.rssi, (adv,))
            device = self.create_or_update_device(address, address, name, None, ad)
            self.call_detection_callbacks(device, ad)

        self._listener = on_advertisement
        central.on(central.EVENT_ADVERTISEMENT, on_advertisement)
        await central.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        central = self.world.central
        if self._listener is not None:
            central.remove_listener(central.EVENT_ADVERTISEMENT, self._listener)
            self._listener = None
        if central.is_scanning:
            await central.stop_scanning()


def ble_device(address: str, name: str | None = None) -> BLEDevice:
    """A BLEDevice for a world address (details ``None``: not a BlueZ device)."""
    return BLEDevice(address, name, None)
