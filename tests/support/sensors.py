"""Emulated BLE sensors: bumble GATT servers that stream like the real devices.

Each sensor follows its profile (``firmware_interfaces/*.toml``): same services,
characteristics, commands and packet layout, packets due at the device's real packet
rate on a :class:`SimClock` that may run N times faster than real time. Packets produced
while nobody listens (link down, not started) are lost, as on the real device. Every
notification actually sent is recorded, so tests compare what the central decoded with
what the peripheral sent.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

import numpy as np
from bumble import att
from bumble.core import UUID, AdvertisingData
from bumble.gatt import Characteristic, CharacteristicValue, Service

from crampwatch.acquire.profiles import Profile, get_profile

from .ble_world import BleWorld
from .encoders import (
    encode_ganglion_compressed,
    encode_ganglion_raw,
    encode_myo_emg,
    encode_myo_imu,
    encode_reference,
)
from .signals import night_signals

__all__ = ["GanglionSensor", "MyoSensor", "ReferenceSensor", "SimClock", "make_sensor"]

logger = logging.getLogger(__name__)

_NOTIFY = Characteristic.Properties.NOTIFY
_READ = Characteristic.Properties.READ
_WRITE = Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE


class SimClock:
    """Simulated seconds: real (event loop) time x ``speed`` since :meth:`start`
    (0 before; the first sensor asked to stream starts it).

    A sensor whose radio link is backed up holds the clock (:meth:`hold`) until the
    host has caught up: an accelerated night on a loaded machine then runs slower in
    real time instead of piling thousands of notifications into the in-process link,
    where a real sensor's bounded radio buffer would never let them be.
    """

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._t0: float | None = None
        self._holders: set[int] = set()
        self._held_at: float | None = None
        self.held_s = 0.0  # real seconds spent held, for test diagnostics

    def start(self) -> None:
        if self._t0 is None:
            self._t0 = asyncio.get_running_loop().time()

    def now(self) -> float:
        if self._t0 is None:
            return 0.0
        t = self._held_at if self._held_at is not None else asyncio.get_running_loop().time()
        return (t - self._t0) * self.speed

    def hold(self, holder: object) -> None:
        if self._t0 is None or id(holder) in self._holders:
            return
        if not self._holders:
            self._held_at = asyncio.get_running_loop().time()
        self._holders.add(id(holder))

    def release(self, holder: object) -> None:
        if id(holder) not in self._holders:
            return
        self._holders.discard(id(holder))
        if not self._holders and self._held_at is not None:
            held = asyncio.get_running_loop().time() - self._held_at
            self._t0 += held
            self.held_s += held
            self._held_at = None


class EmulatedSensor:
    """Base: GATT set-up, advertising, the paced producer, fault injection, records."""

    profile_name = ""
    packet_s = 0.0

    def __init__(
        self,
        world: BleWorld,
        *,
        name: str,
        clock: SimClock,
        seconds: float,
        seed: int = 0,
        battery: int = 87,
        signals: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.world = world
        self.profile: Profile = get_profile(self.profile_name)
        self.device = world.new_device(name)
        self.name = name
        self.clock = clock
        self.seconds = seconds
        self.battery = battery
        # ``signals``: a scripted night (µV / g at the profile's rates) instead of a random one
        if signals is None:
            signals = night_signals(seconds + 1.0, self.profile.rates_hz, seed)
        self.counts = {role: self.to_counts(role, sig) for role, sig in signals.items()}
        self.total_packets = int(seconds / self.packet_s)
        self.produced = 0
        self.streaming = False
        self.commands: list[bytes] = []
        # sample index ranges actually notified (not garbled), per group "emg" / "acc"
        self.sent: dict[str, list[range]] = {"emg": [], "acc": []}
        self.notifications = 0
        self.sent_at: dict[int, float] = {}  # packet index -> loop time it was notified
        self.connections = 0
        self._garble = 0
        self.garbled = 0
        # link backlog bookkeeping (see SimClock): counts at the start of this connection
        self._link_sent0 = 0
        self._link_delivered0 = 0
        self._task: asyncio.Task | None = None
        self._chars: dict[str, Characteristic] = {}
        self.done = asyncio.Event()

    # ---------------------------------------------------------------- to override
    def to_counts(self, role: str, signal: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def packets(self, k: int) -> list[tuple[str, bytes, dict[str, range]]]:
        """(characteristic uuid, bytes, {"emg"|"acc": sample indices carried}) to notify
        for produced packet ``k``."""
        raise NotImplementedError

    def on_command(self, value: bytes) -> None:
        if value in self.profile.start:
            self.clock.start()
            self.streaming = True
        elif value in self.profile.stop:
            self.streaming = False

    def extra_characteristics(self) -> list[Characteristic]:
        return []

    # ---------------------------------------------------------------- GATT / radio
    @property
    def address(self) -> str:
        return str(self.device.public_address).split("/")[0]

    def _services(self) -> list[Service]:
        profile = self.profile
        chars: list[Characteristic] = []
        for uuid in profile.notify_uuids:
            char = Characteristic(UUID(uuid), _NOTIFY | _READ, Characteristic.READABLE, b"")
            self._chars[uuid] = char
            chars.append(char)
        if profile.command_uuid:
            chars.append(
                Characteristic(
                    UUID(profile.command_uuid),
                    _WRITE,
                    Characteristic.WRITEABLE,
                    CharacteristicValue(write=lambda _conn, value: self._command(bytes(value))),
                )
            )
        chars += self.extra_characteristics()
        services = [Service(UUID(profile.service_uuid), chars)]
        if profile.battery_uuid:
            battery = Characteristic(
                UUID(profile.battery_uuid),
                _READ,
                Characteristic.READABLE,
                CharacteristicValue(read=lambda _conn: bytes([self.battery])),
            )
            services.append(Service(UUID(profile.battery_service_uuid), [battery]))
        return services

    def _command(self, value: bytes) -> None:
        self.commands.append(value)
        self.on_command(value)

    def _advertising_data(self) -> bytes:
        uuid = UUID(self.profile.service_uuid)
        kind = (
            AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS
            if len(uuid.uuid_bytes) == 2
            else AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS
        )
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.Type.FLAGS, bytes([0x06])),
                    (kind, uuid.uuid_bytes),
                    (AdvertisingData.Type.COMPLETE_LOCAL_NAME, self.name.encode()),
                ]
            )
        )

    async def start(self) -> EmulatedSensor:
        self.device.add_services(self._services())
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        await self.device.power_on()
        # Fast advertising (20 ms), as sensors do right after power-up or a lost link.
        await self.device.start_advertising(
            auto_restart=True,
            advertising_data=self._advertising_data(),
            advertising_interval_min=20.0,
            advertising_interval_max=20.0,
        )
        self._task = asyncio.create_task(self._produce(), name=f"{self.name}-producer")
        self.world.add(self)
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _on_connection(self, connection) -> None:
        self.connections += 1
        self._rebase_backlog()
        # Devices stop streaming when the link goes; the host must start them again.
        self.streaming = False
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self._on_disconnection())
        self.on_connect()

    def on_connect(self) -> None:
        """Per-connection device behaviour (Ganglion: board reset)."""

    def _on_disconnection(self) -> None:
        self.streaming = False

    @property
    def connection(self):
        connections = list(self.device.connections.values())
        return connections[0] if connections else None

    async def drop_link(self) -> None:
        """Peripheral-initiated disconnection (like the sensor going out of range)."""
        connection = self.connection
        if connection is not None:
            await connection.disconnect()

    def garble(self, count: int) -> None:
        """Flip one byte in each of the next ``count`` notifications sent."""
        self._garble += count

    # ---------------------------------------------------------------- producer
    async def _produce(self) -> None:
        try:
            await self._produce_loop()
        except Exception:
            logger.exception("%s: producer failed", self.name)
            raise
        finally:
            self.done.set()

    MAX_BACKLOG = 100  # notifications sent but not yet handed to the host's callbacks
    STUCK_S = 2.0  # real seconds without any delivery: the rest was lost in the air

    def _rebase_backlog(self) -> None:
        self._link_sent0 = self.notifications
        self._link_delivered0 = self.world.delivered[self.address.upper()]

    def _backlog(self) -> int:
        delivered = self.world.delivered[self.address.upper()] - self._link_delivered0
        return self.notifications - self._link_sent0 - delivered

    async def _wait_for_link(self) -> None:
        """Hold the clock while the link is backed up (see :class:`SimClock`)."""
        if not self.streaming or self._backlog() <= self.MAX_BACKLOG:
            return
        self.clock.hold(self)
        try:
            loop = asyncio.get_running_loop()
            last, since = self._backlog(), loop.time()
            while self.streaming and self._backlog() > self.MAX_BACKLOG // 2:
                await asyncio.sleep(0.005)
                if self._backlog() < last:
                    last, since = self._backlog(), loop.time()
                elif loop.time() - since > self.STUCK_S:
                    self._rebase_backlog()
                    break
        finally:
            self.clock.release(self)

    async def _produce_loop(self) -> None:
        while self.produced < self.total_packets:
            await self._wait_for_link()
            due = min(self.total_packets, int(self.clock.now() / self.packet_s))
            while self.produced < due:
                k = self.produced
                self.produced += 1
                if self.streaming and self.connection is not None:
                    await self._send(k)
                    if self._backlog() > self.MAX_BACKLOG:
                        await self._wait_for_link()
            await asyncio.sleep(0.002)

    async def _send(self, k: int) -> None:
        connection = self.connection
        self.sent_at[k] = asyncio.get_running_loop().time()
        for uuid, data, carried in self.packets(k):
            if self._garble and len(data) > 12:
                self._garble -= 1
                self.garbled += 1
                data = bytearray(data)
                data[11] ^= 0x5A
                data = bytes(data)
            else:
                for group, indices in carried.items():
                    self.sent[group].append(indices)
            self._notify(connection, self._chars[uuid], data)

    def _notify(self, connection, characteristic: Characteristic, data: bytes) -> None:
        # What a sensor's GATT server does for a notification, minus bumble's per-packet
        # debug formatting: only to a client whose CCCD enables notifications, cut to the
        # ATT MTU (a client that skipped the MTU exchange gets 20 bytes).
        cccd = self.device.gatt_server.subscribers.get(connection, {}).get(characteristic.handle)
        if not cccd or not cccd[0] & 0x01:
            return
        self.notifications += 1
        pdu = att.ATT_Handle_Value_Notification(
            attribute_handle=characteristic.handle, attribute_value=data[: connection.att_mtu - 3]
        )
        self.device.send_l2cap_pdu(connection.handle, att.ATT_CID, bytes(pdu))

    def sent_samples(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        """(sample indices, values in µV / g) of every sample notified, in sending order."""
        scale = (
            self.profile.emg_uv_per_lsb if role.startswith("emg") else self.profile.acc_g_per_lsb
        )
        ranges = self.sent["emg" if role.startswith("emg") else "acc"]
        if not ranges:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        index = np.concatenate([np.arange(r.start, r.stop) for r in ranges])
        return index, self.counts[role][index] * scale


class ReferenceSensor(EmulatedSensor):
    """The crampwatch reference sensor, v1: 1000 Hz EMG x 2, 100 Hz acc, 50 packets/s."""

    profile_name = "crampwatch-ref"
    packet_s = 0.02
    EMG_PER_PACKET = 20
    ACC_PER_PACKET = 2
    # Start the u32 µs clock 4 s before it wraps, so every test crosses a wrap.
    T0_US = 2**32 - 4_000_000

    def to_counts(self, role, signal):
        scale = (
            self.profile.emg_uv_per_lsb if role.startswith("emg") else self.profile.acc_g_per_lsb
        )
        return np.clip(np.round(signal / scale), -32768, 32767).astype(np.int64)

    def extra_characteristics(self):
        info = struct.pack("<BBHHBBf", 1, 2, 1000, 100, 20, 2, self.profile.emg_uv_per_lsb)
        return [Characteristic(UUID(self.profile.info_uuid), _READ, Characteristic.READABLE, info)]

    def packets(self, k):
        e, a = self.EMG_PER_PACKET, self.ACC_PER_PACKET
        emg = np.stack(
            [
                self.counts["emg_calf"][k * e : (k + 1) * e],
                self.counts["emg_tibialis"][k * e : (k + 1) * e],
            ],
            axis=1,
        )
        acc = np.stack(
            [self.counts[r][k * a : (k + 1) * a] for r in ("acc_x", "acc_y", "acc_z")], axis=1
        )
        t_us = self.T0_US + k * 20_000
        carried = {"emg": range(k * e, (k + 1) * e), "acc": range(k * a, (k + 1) * a)}
        return [(self.profile.notify_uuids[0], encode_reference(k, t_us, emg, acc), carried)]


class GanglionSensor(EmulatedSensor):
    """OpenBCI Ganglion: resets on connect, 'n' accel on, 'b' raw packet then deltas."""

    profile_name = "openbci-ganglion"
    packet_s = 0.01

    def to_counts(self, role, signal):
        if role.startswith("acc"):
            return np.clip(np.round(signal / self.profile.acc_g_per_lsb), -128, 127).astype(
                np.int64
            )
        # Deltas must be representable (sign in the LSB, 18 bits): shape the counts as the
        # firmware's compression would, and keep them as the ground truth.
        target = np.round(signal / self.profile.emg_uv_per_lsb).astype(np.int64)
        out = np.empty_like(target)
        last = 0
        for i, value in enumerate(target):
            delta = int(np.clip(last - value, -(2**17) + 1, 2**17 - 2))
            if (delta >= 0) == (delta % 2 == 1):  # wrong parity for the LSB sign code
                delta -= 1
            last = last - delta
            out[i] = last
        return out

    def on_connect(self):
        self.pid = None  # next packet id; None = the board was reset: raw packet first
        self.cursor = None  # next sample index to send

    def _channels(self, i):
        row = np.zeros(4, dtype=np.int64)
        row[0] = self.counts["emg_calf"][i]
        row[1] = self.counts["emg_tibialis"][i]
        return row

    def packets(self, k):
        # The board streams samples: after 'b' one raw packet (1 sample) that the deltas
        # build on, then one 2-sample compressed packet whenever two samples are ready.
        uuid = self.profile.notify_uuids[0]
        available = 2 * k + 2
        if self.cursor is None:
            self.cursor = 2 * k
        out = []
        if self.pid is None:
            self.pid = 1
            i = self.cursor
            out.append((uuid, encode_ganglion_raw(self._channels(i)), {"emg": range(i, i + 1)}))
            self.cursor += 1
        while self.cursor + 2 <= available:
            i, pid = self.cursor, self.pid
            self.pid = pid % 100 + 1
            self.cursor += 2
            samples = np.stack([self._channels(i), self._channels(i + 1)])
            carried = {"emg": range(i, i + 2)}
            acc_byte = None
            if pid % 10 in (1, 2, 3):
                j = i // 20
                role = ("acc_x", "acc_y", "acc_z")[pid % 10 - 1]
                acc_byte = int(self.counts[role][j]) & 0xFF
                if pid % 10 == 3:
                    carried["acc"] = range(j, j + 1)
            packet = encode_ganglion_compressed(pid, self._channels(i - 1), samples, acc_byte)
            out.append((uuid, packet, carried))
        return out


class MyoSensor(EmulatedSensor):
    """Thalmic Myo: 4 EMG characteristics in turn (100 packets/s), IMU at 50 Hz."""

    profile_name = "thalmic-myo"
    packet_s = 0.01

    def to_counts(self, role, signal):
        if role.startswith("acc"):
            return np.clip(np.round(signal / self.profile.acc_g_per_lsb), -32768, 32767).astype(
                np.int64
            )
        return np.clip(np.round(signal / 2.0), -128, 127).astype(np.int64)

    def packets(self, k):
        emg_uuids = self.profile.stream("emg").characteristics
        pods = np.zeros((2, 8), dtype=np.int64)
        for role, pod in self.profile.channels.items():
            pods[:, pod] = self.counts[role][2 * k : 2 * k + 2]
        out = [(emg_uuids[k % 4], encode_myo_emg(pods), {"emg": range(2 * k, 2 * k + 2)})]
        if k % 2 == 1:
            j = k // 2
            acc = [int(self.counts[r][j]) for r in ("acc_x", "acc_y", "acc_z")]
            imu = self.profile.stream("imu").characteristics[0]
            out.append((imu, encode_myo_imu(acc), {"acc": range(j, j + 1)}))
        return out


def make_sensor(profile_name: str, world: BleWorld, **kwargs: Any) -> EmulatedSensor:
    """An emulated sensor for ``profile_name``."""
    cls = {c.profile_name: c for c in (ReferenceSensor, GanglionSensor, MyoSensor)}[profile_name]
    return cls(world, **kwargs)
