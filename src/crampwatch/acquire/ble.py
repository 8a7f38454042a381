"""Bluetooth LE sensor source: Bleak client that streams one sensor all night.

Per connection: resolve the device (scan by address or name), connect with
``bleak_retry_connector.establish_connection`` (it forwards ``backend=`` to
:class:`bleak.BleakClient`, so the Bleak backend is injectable: tests pass a bumble-driven
backend, production gets the platform default), ask for a large MTU, read the device info
and battery, send the profile's configure commands, subscribe to every notify
characteristic **exactly once**, send the start commands, then decode.

The notification callback only timestamps the bytes and queues them (it must not block
the Bleak event path); decoding and block assembly run in :meth:`BleSensorSource.stream`.
After any drop the source reconnects with exponential backoff, forever unless
``max_connect_attempts`` says otherwise. Every failed attempt yields an ``error`` notice;
those a person should read carry ``quiet: False`` (the first of a kind, then at most one
a minute while it keeps failing): a night without an adapter is one plain line and a calm
reminder a minute, not a warning every few seconds. Each connection gets a **new** ``BleakClient``
and its callbacks are tagged with a connection number, so a late callback of an old
connection (or a backend that doubles callbacks after reconnect, a known Bleak regression)
is counted in ``stats["stale_callbacks"]`` and never reaches the decoder twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import struct
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakDBusError, BleakError
from bleak_retry_connector import establish_connection

from crampwatch.acquire.assembler import BlockAssembler
from crampwatch.acquire.base import Source, SourceNotice
from crampwatch.acquire.decoders import make_decoder
from crampwatch.acquire.profiles import Profile, get_profile
from crampwatch.blocks import SampleBlock
from crampwatch.errors import CrampwatchError

__all__ = ["BleSensorSource", "ClockSync", "adapter_problem", "is_address"]

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f-]{36}$")
_DISCONNECTED = object()
_BATTERY = object()
_BAD_NOTICE_EVERY_S = 1.0  # at most one bad_packet notice per second (host clock)
_REPEAT_NOTICE_EVERY_S = 60.0  # a failure that keeps happening is told once a minute
NO_ADAPTER = (
    "no Bluetooth adapter available: none is plugged in, or BlueZ is not running "
    "(sudo systemctl start bluetooth)"
)
ADAPTER_OFF = "the Bluetooth adapter is switched off (bluetoothctl power on)"
_QUEUE_MAX = 20_000  # ~6 min of reference packets; beyond that the consumer is stuck
# One scan-and-connect at a time per event loop: adapters (BlueZ, bumble) refuse a second
# connection attempt while one is pending ("Operation already in progress").
_CONNECT_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _connect_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _CONNECT_LOCKS:
        _CONNECT_LOCKS[loop] = asyncio.Lock()
    return _CONNECT_LOCKS[loop]


def is_address(text: str) -> bool:
    """True for a Bluetooth address (``AA:BB:..``) or a macOS device UUID."""
    return bool(_ADDRESS.match(text))


class ClockSync:
    """Map the sensor sample clock to the host clock.

    The host receives each packet some latency after its last sample was taken; the
    smallest ``host_s - t_end_s`` over a sliding window (lower envelope) estimates the
    offset with the least radio jitter, and follows slow crystal drift as the window moves.
    """

    def __init__(self, window: int = 512) -> None:
        self.window = window
        self._candidates: deque[tuple[int, float]] = deque()  # increasing offsets
        self._n = 0
        self.offset_s: float | None = None

    def update(self, t_end_s: float, host_s: float) -> None:
        """Record one packet: its sample-clock end (s) and host arrival time (s)."""
        offset = host_s - t_end_s
        # Sliding-window minimum (monotonic queue): O(1) per packet, all night long.
        while self._candidates and self._candidates[-1][1] >= offset:
            self._candidates.pop()
        self._candidates.append((self._n, offset))
        self._n += 1
        while self._candidates[0][0] <= self._n - 1 - self.window:
            self._candidates.popleft()
        self.offset_s = self._candidates[0][1]

    def host_time_of(self, t_s: float) -> float | None:
        """Host-clock time (same clock as the source's ``clock``) of sample time ``t_s``."""
        return None if self.offset_s is None else t_s + self.offset_s


def adapter_problem(exc: BaseException) -> str | None:
    """One plain line when ``exc`` means this computer has no usable Bluetooth (no
    adapter, BlueZ or the system D-Bus not running, adapter off); ``None`` for a failure
    of one sensor (out of range, switched off, refused)."""
    reason = getattr(getattr(exc, "reason", None), "name", None)  # bleak >= 2
    if reason == "POWERED_OFF":
        return ADAPTER_OFF
    if reason is not None or (isinstance(exc, BleakError) and "No Bluetooth adapters" in str(exc)):
        return NO_ADAPTER
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error == "org.bluez.Error.NotReady":
            return ADAPTER_OFF
        if exc.dbus_error == "org.freedesktop.DBus.Error.ServiceUnknown":  # no bluetoothd
            return NO_ADAPTER
    # no system D-Bus socket (BlueZ cannot be reached at all): "[Errno 2] No such file ..."
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
        return NO_ADAPTER
    return None


class _RepeatGate:
    """Whether a failure is worth telling a person: a new one at once, the same one again
    at most every ``every_s`` seconds of the host clock."""

    def __init__(self, clock: Callable[[], float], every_s: float = _REPEAT_NOTICE_EVERY_S):
        self._clock = clock
        self._every_s = every_s
        self._last: tuple[str, float] | None = None

    def tell(self, message: str) -> bool:
        now = self._clock()
        last = self._last
        if last is not None and last[0] == message and now - last[1] < self._every_s:
            return False
        self._last = (message, now)
        return True

    def reset(self) -> None:
        self._last = None


class BleSensorSource(Source):
    """One BLE sensor (one leg) as a :class:`Source`.

    Parameters
    ----------
    profile:
        A :class:`Profile` or a profile name (see ``crampwatch devices``).
    address_or_name:
        Bluetooth address (or macOS UUID), or the advertised name of the sensor.
    device_id, leg:
        Copied into notices / blocks (``leg``: ``"left"``, ``"right"`` or ``None``).
    backend, scanner_backend:
        Bleak client / scanner backend classes; ``None`` = the platform default.
    reconnect_backoff_s:
        (first, maximum) wait between connection attempts, s; doubles per failure.
    connect_timeout_s:
        Bound on one connection attempt (scan + connect + set-up), s.
    scan_timeout_s:
        How long to look for the advertisement before a direct connection attempt, s.
    max_connect_attempts:
        Consecutive failures after which :meth:`stream` raises :class:`CrampwatchError`;
        ``None`` retries all night.
    block_s:
        Target block duration, s (``0``: one block per packet, lowest latency).
    clock:
        Host clock in s (injected so tests can run a night faster than real time).
    battery_interval_s:
        Battery level re-read period during a connection, s (``None``: at connect only).
    """

    def __init__(
        self,
        profile: Profile | str,
        address_or_name: str,
        *,
        device_id: str,
        leg: str | None = None,
        backend: type[BaseBleakClient] | None = None,
        scanner_backend: type[BaseBleakScanner] | None = None,
        reconnect_backoff_s: tuple[float, float] = (0.5, 30.0),
        connect_timeout_s: float = 20.0,
        scan_timeout_s: float = 5.0,
        max_connect_attempts: int | None = None,
        block_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        battery_interval_s: float | None = 600.0,
    ) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.emg_units_known = not self.profile.emg_scale_nominal
        self.target = address_or_name
        self.device_id = device_id
        self.leg = leg
        self._backend = backend
        self._scanner_backend = scanner_backend
        self._backoff = reconnect_backoff_s
        self._connect_timeout_s = connect_timeout_s
        self._scan_timeout_s = scan_timeout_s
        self._max_attempts = max_connect_attempts
        self._clock = clock
        self._battery_interval_s = battery_interval_s
        self._decoder = make_decoder(self.profile)
        self._assembler = BlockAssembler(self.profile, leg=leg, block_s=block_s)
        self.clock_sync = ClockSync()
        self._generation = 0
        self._queue: asyncio.Queue | None = None
        self._client: BleakClient | None = None
        self._device: BLEDevice | None = None
        self.stats: dict[str, int] = {
            "connections": 0,
            "reconnects": 0,
            "connect_failures": 0,
            "notifications": 0,
            "stale_callbacks": 0,
            "queue_overflow": 0,
            "packets": 0,
            "bad_packets": 0,
            "gaps": 0,
            "lost_packets": 0,
            "duplicates": 0,
        }

    # ------------------------------------------------------------------ Source API
    @property
    def fs_hz(self) -> dict[str, float]:
        """Sampling rate per role, Hz (the device's info characteristic may refine it)."""
        return dict(self._assembler.rates_hz)

    @property
    def client(self) -> BleakClient | None:
        """The connected Bleak client (e.g. to write the profile's alert command)."""
        return self._client

    async def alert(self) -> bool:
        """Send the profile's alert commands (Myo: vibrate); False if none or not connected."""
        client = self._client
        if not self.profile.alert or client is None or not client.is_connected:
            return False
        await self._send(client, self.profile.alert)
        return True

    async def _send(self, client: BleakClient, commands: tuple[bytes, ...]) -> None:
        """Write ``commands`` in order to the profile's command characteristic."""
        uuid = self.profile.command_uuid
        if uuid is None:  # never with commands: profiles.py requires their characteristic
            return
        for command in commands:
            await client.write_gatt_char(uuid, command, response=self.profile.command_with_response)

    async def stream(self) -> AsyncIterator[SampleBlock | SourceNotice]:
        """Connect, stream, reconnect after every drop; runs until cancelled."""
        backoff = self._backoff[0]
        failures = 0
        gate = _RepeatGate(self._clock)
        while True:
            try:
                client = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.stats["connect_failures"] += 1
                self._device = None  # scan again: the OS may have dropped its device object
                message = adapter_problem(exc) or (
                    f"sensor {self.target!r} ({self.profile.name}): {_describe(exc)}"
                )
                logger.debug("connection attempt %d failed: %s", failures, message)
                if self._max_attempts is not None and failures >= self._max_attempts:
                    raise CrampwatchError(message) from exc
                tell = gate.tell(message)
                yield SourceNotice(
                    "error",
                    t_s=self._t_now(),
                    detail={
                        "message": message if failures == 1 else f"still {message}",
                        "retry_in_s": backoff,
                        "attempt": failures,
                        "quiet": not tell,
                    },
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff[1])
                continue
            try:
                async for item in self._session(client):
                    failures, backoff = 0, self._backoff[0]
                    gate.reset()
                    yield item
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The link went down in the middle of set-up (a GATT write failed ...):
                # same as a failed attempt, reconnect after the backoff.
                failures += 1
                message = f"sensor {self.target!r}: set-up failed: {_describe(exc)}"
                logger.debug(message)
                yield SourceNotice(
                    "error",
                    t_s=self._t_now(),
                    detail={"message": message, "quiet": not gate.tell(message)},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff[1])
            finally:
                self._client = None
                await _quietly(client.disconnect(), 2.0)

    # ------------------------------------------------------------------ connection
    async def _connect(self) -> BleakClient:
        self._generation += 1
        generation = self._generation
        async with (
            _connect_lock(),
            asyncio.timeout(self._connect_timeout_s + self._scan_timeout_s + 5.0),
        ):
            device = await self._resolve_device()
            return await establish_connection(
                BleakClient,
                device,
                self.target,
                disconnected_callback=lambda _c: self._on_disconnected(generation),
                max_attempts=1,  # our own loop does the all-night retrying and backoff
                use_services_cache=False,
                backend=self._backend,
                timeout=self._connect_timeout_s,
            )

    async def _resolve_device(self) -> BLEDevice:
        # Every platform backend needs the BLEDevice its own scanner produced (BlueZ: the
        # D-Bus path, CoreBluetooth: the CBPeripheral), so we always find it by scanning.
        if self._device is not None:
            return self._device
        kwargs: dict[str, Any] = {"backend": self._scanner_backend}
        if is_address(self.target):
            device = await BleakScanner.find_device_by_address(
                self.target, timeout=self._scan_timeout_s, **kwargs
            )
        else:
            device = await BleakScanner.find_device_by_name(
                self.target, timeout=self._scan_timeout_s, **kwargs
            )
        if device is None:
            raise CrampwatchError(
                f"not seen advertising within {self._scan_timeout_s:g} s "
                "(out of range, switched off, or connected to another host?)"
            )
        self._device = device
        return device

    def _on_disconnected(self, generation: int) -> None:
        if generation == self._generation and self._queue is not None:
            self._queue.put_nowait(_DISCONNECTED)

    def _on_notify(self, generation: int, uuid: str, data: bytearray) -> None:
        # Runs in Bleak's notification path: timestamp, copy, queue, nothing else.
        if generation != self._generation or self._queue is None:
            self.stats["stale_callbacks"] += 1
            return
        self.stats["notifications"] += 1
        try:
            self._queue.put_nowait((self._clock(), uuid, bytes(data)))
        except asyncio.QueueFull:
            self.stats["queue_overflow"] += 1  # becomes a sequence gap downstream

    async def _setup(self, client: BleakClient) -> dict[str, Any]:
        """MTU, info, battery, commands, subscriptions; returns details for the notice."""
        profile = self.profile
        acquire_mtu = getattr(getattr(client, "_backend", None), "_acquire_mtu", None)
        if acquire_mtu is not None:
            # BlueZ only learns the MTU BlueZ negotiated through this private call
            # (bleak docs); other backends exchange it during connect.
            await _quietly(acquire_mtu(), 5.0)
        mtu = client.mtu_size
        detail: dict[str, Any] = {"address": client.address, "mtu": mtu}
        if mtu < profile.min_mtu:
            logger.warning("MTU %d < %d needed by %s", mtu, profile.min_mtu, profile.name)
            detail["mtu_too_small"] = True
        if profile.info_uuid:
            rates = await self._read_info(client, profile.info_uuid)
            if rates:
                self._assembler.rates_hz.update(rates)
        if profile.battery_uuid:
            with contextlib.suppress(Exception):
                value = await client.read_gatt_char(profile.battery_uuid)
                detail["battery_percent"] = int(value[0])
        await self._send(client, profile.configure)
        generation = self._generation
        for uuid in dict.fromkeys(profile.notify_uuids):  # each exactly once
            await client.start_notify(uuid, self._notify_handler(generation, uuid))
        await self._send(client, profile.start)
        return detail

    def _notify_handler(
        self, generation: int, uuid: str
    ) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        def handler(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            self._on_notify(generation, uuid, data)

        return handler

    async def _read_info(self, client: BleakClient, info_uuid: str) -> dict[str, float]:
        try:
            raw = bytes(await client.read_gatt_char(info_uuid))
            _v, channels, emg_fs, acc_fs, _ne, _na = struct.unpack_from("<BBHHBB", raw)
        except Exception as exc:  # the info characteristic is optional in practice
            logger.info("no device info (%s); using profile rates", exc)
            return {}
        rates = {"acc_x": float(acc_fs), "acc_y": float(acc_fs), "acc_z": float(acc_fs)}
        for role in ("emg_calf", "emg_tibialis")[: max(1, min(2, channels))]:
            rates[role] = float(emg_fs)
        return {r: fs for r, fs in rates.items() if fs > 0}

    # ------------------------------------------------------------------ one connection
    async def _session(self, client: BleakClient) -> AsyncIterator[SampleBlock | SourceNotice]:
        self._queue = asyncio.Queue(maxsize=_QUEUE_MAX)
        self._client = client
        self._decoder.reset()
        self._assembler.new_connection()
        self.stats["connections"] += 1
        if self.stats["connections"] > 1:
            self.stats["reconnects"] += 1
        detail = await self._setup(client)
        detail["connection"] = self.stats["connections"]
        yield SourceNotice("connected", t_s=self._t_now(), detail=detail)
        if detail.get("mtu_too_small"):
            yield SourceNotice(
                "error",
                t_s=self._t_now(),
                detail={
                    "message": f"negotiated ATT MTU {detail['mtu']} is below the "
                    f"{self.profile.min_mtu} this sensor needs: packets arrive truncated",
                    "mtu": detail["mtu"],
                },
            )
        if "battery_percent" in detail:
            yield SourceNotice(
                "battery", t_s=self._t_now(), detail={"percent": detail["battery_percent"]}
            )
        poller = None
        if self.profile.battery_uuid and self._battery_interval_s:
            poller = asyncio.create_task(
                self._poll_battery(
                    client, self.profile.battery_uuid, self._battery_interval_s, self._queue
                )
            )
        try:
            async for item in self._drain(self._queue):
                yield item
        finally:
            if poller is not None:
                poller.cancel()
        for block in self._assembler.flush():
            yield block
        self._sync_stats()
        self._queue = None
        yield SourceNotice(
            "disconnected",
            t_s=self._t_now(),
            detail={"address": client.address, "connection": self.stats["connections"]},
        )

    async def _poll_battery(
        self, client: BleakClient, battery_uuid: str, interval_s: float, queue: asyncio.Queue
    ) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                value = await client.read_gatt_char(battery_uuid)
            except Exception as exc:  # a failed read is not worth a notice; the link may be going
                logger.debug("battery read failed: %r", exc)
                continue
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((_BATTERY, int(value[0])))

    async def _drain(self, queue: asyncio.Queue) -> AsyncIterator[SampleBlock | SourceNotice]:
        """Decode queued notifications until the disconnection marker."""
        bad_reported = self._decoder.stats.bad_packets
        last_bad_notice = -float("inf")
        while True:
            item = await queue.get()
            if item is _DISCONNECTED:
                break
            if item[0] is _BATTERY:
                yield SourceNotice("battery", t_s=self._t_now(), detail={"percent": item[1]})
                continue
            host_s, uuid, data = item
            packet = self._decoder.decode(data, uuid)
            bad = self._decoder.stats.bad_packets
            # First one at once, then at most one notice per second: a garbling radio
            # must not flood the service.
            if bad > bad_reported and host_s - last_bad_notice >= _BAD_NOTICE_EVERY_S:
                self.stats["bad_packets"] = bad
                yield self._bad_notice(bad - bad_reported)
                bad_reported, last_bad_notice = bad, host_s
            if packet is None:
                self.stats["bad_packets"] = bad
                continue
            self.stats["packets"] += 1
            for out in self._assembler.push(packet, host_s):
                yield out
            self.clock_sync.update(self._assembler.last_end_t, host_s)
            self._sync_stats()
        if self._decoder.stats.bad_packets > bad_reported:
            yield self._bad_notice(self._decoder.stats.bad_packets - bad_reported)

    def _sync_stats(self) -> None:
        for key in ("gaps", "lost_packets", "duplicates"):
            self.stats[key] = self._assembler.stats[key]

    def _bad_notice(self, count: int) -> SourceNotice:
        self.stats["bad_packets"] = self._decoder.stats.bad_packets
        return SourceNotice(
            "bad_packet",
            t_s=self._t_now(),
            detail={
                "count": count,
                "total": self._decoder.stats.bad_packets,
                "reasons": dict(self._decoder.stats.reasons),
            },
        )

    def _t_now(self) -> float | None:
        return self._assembler.last_end_t if self.stats["packets"] else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "not reachable (connection timed out)"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


async def _quietly(awaitable, timeout_s: float) -> None:
    """Await a best-effort clean-up step (disconnect, MTU query) without letting it hang."""
    try:
        async with asyncio.timeout(timeout_s):
            await awaitable
    except Exception as exc:  # clean-up must never mask the real outcome
        logger.debug("ignored during clean-up: %r", exc)
