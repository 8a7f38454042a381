"""OpenBCI Ganglion decoder (docs.openbci.com "Ganglion Data Format"; OpenBCI_Python).

20-byte notifications, byte 0 = packet id:

* ``0``: raw, 4 channels x 24-bit big-endian two's complement in bytes 1-12 (1 sample);
  sent first after ``b`` — it gives the absolute baseline the deltas build on.
* ``1..100``: 18-bit deltas, 2 samples x 4 channels bit-packed MSB first in bytes 1-18;
  byte 19 is one accelerometer axis, int8: X when ``id % 10 == 1``, Y for 2, Z for 3.
* ``101..200``: 19-bit deltas, 2 samples x 4 channels in bytes 1-19, no accelerometer.
* ``201..205`` impedance, ``206``/``207`` ASCII text: not samples, skipped (not "bad").

Quirks kept here: the compressed delta carries its sign in its *least* significant bit
(an odd value is negative: value - 2**bits), and a sample is ``previous - delta``. A lost
compressed packet leaves an unknown constant offset until the next raw packet; the EMG
filters downstream remove DC, so we keep streaming and report the gap. The board resets
on every connection, so :meth:`GanglionDecoder.reset` forgets the baseline.
"""

from __future__ import annotations

import numpy as np

from crampwatch.acquire.decoders import DecodedPacket, Decoder

__all__ = ["GanglionDecoder", "unpack_deltas"]

PACKET_LEN = 20
_EMG_ROLES = ("emg_calf", "emg_tibialis")


def _signed_lsb(value: int, bits: int) -> int:
    # Ganglion firmware flags negative deltas with the LSB (OpenBCI conv19bitToInt32).
    return value - (1 << bits) if value & 1 else value


def unpack_deltas(payload: bytes, bits: int) -> np.ndarray:
    """Unpack 8 ``bits``-wide deltas (2 samples x 4 channels), counts, shape (2, 4)."""
    stream = int.from_bytes(payload[: (8 * bits + 7) // 8], "big")
    total = ((8 * bits + 7) // 8) * 8
    mask = (1 << bits) - 1
    values = [_signed_lsb((stream >> (total - bits * (i + 1))) & mask, bits) for i in range(8)]
    return np.asarray(values, dtype=np.int64).reshape(2, 4)


class GanglionDecoder(Decoder):
    """Stateful (delta) decoder; channels 1 and 2 map to ``emg_calf`` / ``emg_tibialis``
    unless the profile's ``[channels]`` table says otherwise (0-based indices)."""

    def __init__(self, profile) -> None:
        super().__init__(profile)
        self._channel_of = {
            role: profile.channels.get(role, i) for i, role in enumerate(_EMG_ROLES)
        }
        self.reset()

    def reset(self) -> None:
        self._last: np.ndarray | None = None
        self._acc: list[int | None] = [None, None, None]

    def _emg(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        # counts: (n_samples, 4) -> role arrays in µV
        return {
            role: counts[:, ch].astype(np.float64) * self.profile.emg_uv_per_lsb
            for role, ch in self._channel_of.items()
            if role in self.profile.rates_hz
        }

    def _decode(self, packet: bytes, characteristic: str) -> DecodedPacket | None:
        if len(packet) != PACKET_LEN:
            self.stats.bad("short" if len(packet) < PACKET_LEN else "long")
            return None
        pid = packet[0]
        if pid == 0:
            raw = [
                int.from_bytes(packet[1 + 3 * i : 4 + 3 * i], "big", signed=True) for i in range(4)
            ]
            self._last = np.asarray(raw, dtype=np.int64)
            self._acc = [None, None, None]
            return DecodedPacket(stream="emg", samples=self._emg(self._last[None, :]))
        if 1 <= pid <= 200:
            if self._last is None:
                # Deltas without a baseline would be offset by an unknown constant.
                self.stats.bad("no_baseline")
                return None
            bits = 18 if pid <= 100 else 19
            deltas = unpack_deltas(packet[1:], bits)
            first = self._last - deltas[0]
            second = first - deltas[1]
            self._last = second
            samples = self._emg(np.vstack([first, second]))
            if bits == 18:
                self._accelerometer(pid, packet[19], samples)
            return DecodedPacket(stream="emg", samples=samples, seq=(pid - 1) % 100)
        if 201 <= pid <= 207:
            return None  # impedance / ASCII: not data, not an error
        self.stats.bad("unknown_id")
        return None

    def _accelerometer(self, pid: int, byte: int, samples: dict[str, np.ndarray]) -> None:
        axis = pid % 10 - 1
        if axis not in (0, 1, 2):
            return
        self._acc[axis] = byte - 256 if byte > 127 else byte
        counts = [c for c in self._acc if c is not None]
        if axis == 2 and len(counts) == 3:
            # One (x, y, z) sample per 10 packets = 20 EMG samples -> 10 Hz.
            for role, count in zip(("acc_x", "acc_y", "acc_z"), counts, strict=True):
                samples[role] = np.array([count * self.profile.acc_g_per_lsb])
        if axis == 2:
            self._acc = [None, None, None]
