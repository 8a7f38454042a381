"""Sans-I/O assembly of decoded packets into :class:`SampleBlock` s on one sample clock.

Timing rules, in order of trust (why: the sensor's own counters are exact, the host
clock only sees radio arrival times):

1. a sensor timestamp (reference sensor) gives each packet's time directly, also across
   reconnections as long as the sensor kept running (its u32 counter is unwrapped with
   the host clock's help);
2. a packet sequence counter (reference, Ganglion) turns lost packets into a known number
   of missing samples;
3. otherwise (Myo; any reconnection of a device that resets on connect) the host clock
   (injected, so tests can run the night faster than real time) measures the hole.

A hole becomes a ``gap`` :class:`SourceNotice` with its start and end on the sample
clock and a jump of the next block's ``t0_s``: never interpolated. Its ``reason``
(``sequence``: packets lost while connected, ``reconnect``: the time the sensor was away)
becomes the ``signal_issue`` kind the service reports. Contiguous samples are
coalesced into blocks of about ``block_s`` seconds per role.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from crampwatch.acquire.base import SourceNotice
from crampwatch.acquire.decoders import DecodedPacket
from crampwatch.acquire.profiles import Profile
from crampwatch.blocks import SampleBlock
from crampwatch.events import SignalIssueKind

__all__ = ["BlockAssembler"]

logger = logging.getLogger(__name__)


@dataclass
class _StreamState:
    packet_s: float
    seq_modulo: int | None
    next_t: float | None = None
    last_t: float = 0.0
    last_seq: int | None = None
    last_sensor: float | None = None
    last_host: float | None = None
    resumed: bool = False


@dataclass
class _RoleState:
    fs_hz: float
    chunks: list[np.ndarray] = field(default_factory=list)
    t0: float = 0.0
    next_t: float | None = None
    n: int = 0
    seq: int = 0


class BlockAssembler:
    """Turn a device's decoded packets into blocks and gap notices.

    Parameters
    ----------
    profile:
        The sensor profile (streams, packet duration, sequence modulus, rates in Hz).
    leg:
        ``"left"``, ``"right"`` or ``None``, copied into every block.
    block_s:
        Target block duration, s; ``0`` emits one block per packet and role (lowest
        latency). Blocks are cut early at a gap.
    rates_hz:
        Rates per role when the device reported them at connection (else the profile's).
    """

    def __init__(
        self,
        profile: Profile,
        *,
        leg: str | None = None,
        block_s: float = 0.1,
        rates_hz: dict[str, float] | None = None,
    ) -> None:
        self.profile = profile
        self.leg = leg
        self.block_s = block_s
        self.rates_hz = dict(rates_hz or profile.rates_hz)
        self._streams = {
            s.name: _StreamState(packet_s=s.packet_s, seq_modulo=s.seq_modulo)
            for s in profile.streams
        }
        self._roles = {role: _RoleState(fs) for role, fs in self.rates_hz.items()}
        self._last_host: float | None = None
        self._last_end_t = 0.0
        self.stats = {"gaps": 0, "lost_packets": 0, "duplicates": 0, "gap_s_x1000": 0}

    # ------------------------------------------------------------------ public API
    def new_connection(self) -> None:
        """Mark every stream as resumed: the next packet is timed across the outage."""
        for state in self._streams.values():
            state.resumed = state.next_t is not None

    def push(self, packet: DecodedPacket, host_s: float) -> list[SampleBlock | SourceNotice]:
        """Add one decoded packet received at host time ``host_s`` (s, injected clock)."""
        state = self._streams.get(packet.stream)
        if state is None or not packet.samples:
            return []
        out: list[SampleBlock | SourceNotice] = []
        timed = self._packet_time(state, packet, host_s)
        if timed is None:
            self.stats["duplicates"] += 1
            return out
        t, reason = timed
        if state.next_t is not None:
            hole = t - state.next_t
            tolerance = 0.5 / max(self.rates_hz.get(r, 1.0) for r in packet.samples)
            if hole > tolerance:
                out.extend(self._flush_all())
                out.append(self._gap(state, t, reason, hole))
            elif hole < -tolerance:
                # Overlap: a repeated or reordered packet. Keep the first copy.
                self.stats["duplicates"] += 1
                return out
        duration = self._duration(packet)
        state.last_t, state.next_t = t, t + duration
        state.last_seq = packet.seq
        if packet.sensor_time_s is not None:
            state.last_sensor = packet.sensor_time_s
        state.last_host = host_s
        self._last_host = host_s
        self._last_end_t = max(self._last_end_t, t + duration)
        for role, values in packet.samples.items():
            out.extend(self._add(role, t, values))
        return out

    @property
    def last_end_t(self) -> float:
        """Sample-clock time just after the latest sample pushed so far, s."""
        return self._last_end_t

    def flush(self) -> list[SampleBlock]:
        """Emit every pending sample (call before a disconnection notice and at the end)."""
        return self._flush_all()

    # ------------------------------------------------------------------ timing
    def _duration(self, packet: DecodedPacket) -> float:
        # The fastest role sets the packet's span (a Ganglion 10 Hz acc sample rides on
        # a 10 ms EMG packet).
        role = max(packet.samples, key=lambda r: self.rates_hz.get(r, 0.0))
        return len(packet.samples[role]) / self.rates_hz[role]

    def _host_estimate(self, host_s: float) -> float:
        if self._last_host is None:
            return 0.0
        return self._last_end_t + max(0.0, host_s - self._last_host)

    def _sensor_delta(
        self, state: _StreamState, packet: DecodedPacket, host_s: float
    ) -> float | None:
        """Sensor-clock time since the stream's last packet, or None without a sensor clock."""
        if packet.sensor_time_s is None or state.last_sensor is None:
            return None
        wrap = packet.sensor_time_wrap_s or float("inf")
        delta = (packet.sensor_time_s - state.last_sensor) % wrap
        if state.last_host is not None and wrap != float("inf"):
            # Outages longer than one wrap of the counter: count the wraps on the host clock.
            elapsed = host_s - state.last_host
            delta += wrap * max(0, round((elapsed - delta) / wrap))
        return delta

    def _packet_time(
        self, state: _StreamState, packet: DecodedPacket, host_s: float
    ) -> tuple[float, str] | None:
        """The packet's time on the sample clock and how it was found (``start``, or the
        gap reason); None for a repeated or older packet."""
        if state.next_t is None:
            return self._host_estimate(host_s), "start"
        delta = self._sensor_delta(state, packet, host_s)
        if state.resumed:
            state.resumed = False
            if (
                delta is not None
                and self.profile.sensor_clock
                and not self.profile.resets_on_connect
            ):
                elapsed = host_s - (state.last_host or host_s)
                # A sensor that rebooted restarts its clock: then trust the host clock.
                if abs(delta - elapsed) <= max(2.0, 0.1 * elapsed):
                    return state.last_t + delta, SignalIssueKind.RECONNECT
            return max(state.next_t, self._host_estimate(host_s)), SignalIssueKind.RECONNECT
        if delta is not None:
            wrap = packet.sensor_time_wrap_s or float("inf")
            if delta == 0.0 or delta > wrap / 2:
                return None  # same or older packet
            return state.last_t + delta, SignalIssueKind.SEQUENCE
        if packet.seq is not None and state.last_seq is not None and state.seq_modulo:
            step = (packet.seq - state.last_seq) % state.seq_modulo
            if step == 0:
                return None
            return state.next_t + (step - 1) * state.packet_s, SignalIssueKind.SEQUENCE
        return state.next_t, SignalIssueKind.SEQUENCE

    def _gap(self, state: _StreamState, t: float, reason: str, hole: float) -> SourceNotice:
        lost = round(hole / state.packet_s)
        self.stats["gaps"] += 1
        self.stats["lost_packets"] += lost
        self.stats["gap_s_x1000"] += round(hole * 1000)
        logger.info("gap %.3f s (%s) from %.3f s", hole, reason, state.next_t)
        return SourceNotice(
            "gap",
            t_s=state.next_t,
            detail={
                "start_s": state.next_t,
                "end_s": t,
                "reason": reason,
                "lost_packets": lost,
            },
        )

    # ------------------------------------------------------------------ blocks
    def _add(self, role: str, t: float, values: np.ndarray) -> list[SampleBlock]:
        state = self._roles.get(role)
        if state is None:
            return []
        out = []
        if state.chunks and state.next_t is not None and abs(t - state.next_t) > 0.5 / state.fs_hz:
            out.extend(self._flush_role(role))
        if not state.chunks:
            state.t0 = t
        state.chunks.append(values)
        state.n += len(values)
        state.next_t = t + len(values) / state.fs_hz
        if state.n / state.fs_hz >= self.block_s:
            out.extend(self._flush_role(role))
        return out

    def _flush_role(self, role: str) -> list[SampleBlock]:
        state = self._roles[role]
        if not state.chunks:
            return []
        samples = np.concatenate(state.chunks) if len(state.chunks) > 1 else state.chunks[0]
        block = SampleBlock(role, state.t0, state.fs_hz, samples, seq=state.seq, leg=self.leg)
        state.seq += 1
        state.chunks, state.n = [], 0
        return [block]

    def _flush_all(self) -> list[SampleBlock]:
        out: list[SampleBlock] = []
        for role in self._roles:
            out.extend(self._flush_role(role))
        return out
