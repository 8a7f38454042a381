"""Peripheral-side packet encoders (the firmware's half of each protocol), for the
emulated sensors, the test vectors and the benchmark. Written from the protocol documents
independently of the decoders in ``crampwatch.acquire.decoders``: a decoder test that
round-trips through these checks two readings of the same spec against each other.

Every encoder takes integer counts (what the sensor's ADC produced) and returns bytes.
"""

from __future__ import annotations

import binascii
import struct

import numpy as np

__all__ = [
    "encode_ganglion_compressed",
    "encode_ganglion_raw",
    "encode_myo_emg",
    "encode_myo_imu",
    "encode_reference",
    "ganglion_representable",
]


def encode_reference(
    seq: int,
    t_us: int,
    emg: np.ndarray,
    acc: np.ndarray,
    *,
    flags: int = 0,
) -> bytes:
    """crampwatch reference v1 packet. ``emg``: int counts, shape (n_emg, channels 1|2);
    ``acc``: int counts, shape (n_acc, 3)."""
    emg = np.asarray(emg, dtype=np.int64)
    acc = np.asarray(acc, dtype=np.int64).reshape(-1, 3)
    channels = emg.shape[1]
    body = struct.pack(
        "<BBHIBB",
        1,
        (flags & 0xFC) | channels,
        seq & 0xFFFF,
        t_us & 0xFFFFFFFF,
        emg.shape[0],
        acc.shape[0],
    )
    body += emg.astype("<i2").tobytes() + acc.astype("<i2").tobytes()
    return body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))


def encode_ganglion_raw(counts: np.ndarray) -> bytes:
    """Ganglion packet id 0: 4 channels of 24-bit big-endian signed counts."""
    out = bytearray([0])
    for value in np.asarray(counts, dtype=np.int64):
        out += int(value).to_bytes(3, "big", signed=True)
    return bytes(out + bytes(20 - len(out)))


def ganglion_representable(delta: int, bits: int) -> bool:
    """The firmware's sign-in-LSB code can carry even non-negative and odd negative deltas."""
    if delta >= 0:
        return delta % 2 == 0 and delta < (1 << bits)
    return delta % 2 == 1 and delta >= -(1 << bits)


def _pack_delta(delta: int, bits: int) -> int:
    if not ganglion_representable(delta, bits):
        raise ValueError(f"delta {delta} is not representable in {bits} bits")
    return delta + (1 << bits) if delta < 0 else delta


def encode_ganglion_compressed(
    packet_id: int, previous: np.ndarray, samples: np.ndarray, acc_byte: int | None = None
) -> bytes:
    """Ganglion packet 1..100 (18-bit, with ``acc_byte``) or 101..200 (19-bit).
    ``previous``: counts (4,) before the packet; ``samples``: counts (2, 4); each delta
    is ``previous - sample`` and must be :func:`ganglion_representable`."""
    bits = 18 if packet_id <= 100 else 19
    prev = np.asarray(previous, dtype=np.int64)
    stream = 0
    for row in np.asarray(samples, dtype=np.int64):
        for ch in range(4):
            stream = (stream << bits) | _pack_delta(int(prev[ch] - row[ch]), bits)
        prev = row
    nbytes = (8 * bits + 7) // 8
    stream <<= nbytes * 8 - 8 * bits
    out = bytes([packet_id]) + stream.to_bytes(nbytes, "big")
    if bits == 18:
        out += bytes([(acc_byte or 0) & 0xFF])
    return out


def encode_myo_emg(samples: np.ndarray) -> bytes:
    """Myo EMG notification: int8 counts, shape (2, 8)."""
    return np.asarray(samples, dtype=np.int64).astype(np.int8).tobytes()


def encode_myo_imu(acc_counts: np.ndarray, quat=(16384, 0, 0, 0), gyro=(0, 0, 0)) -> bytes:
    """Myo IMU notification: quaternion, accelerometer (counts of 1/2048 g), gyroscope."""
    values = [*quat, *np.asarray(acc_counts, dtype=np.int64).tolist(), *gyro]
    return struct.pack("<10h", *values)
