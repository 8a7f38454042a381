"""Decoder of the crampwatch reference sensor, protocol v1.

Specification: ``firmware_interfaces/crampwatch_ref.md``.

Packet (little-endian): version u8 = 1 | flags u8 | seq u16 | t_us u32 | n_emg u8 |
n_acc u8 | EMG int16 x n_emg x channels (interleaved per sample) | acc int16 x 3 x n_acc
(x, y, z per sample) | CRC-16/CCITT-FALSE u16 over every preceding byte.
"""

from __future__ import annotations

import binascii
import struct

import numpy as np

from crampwatch.acquire.decoders import DecodedPacket, Decoder

__all__ = ["FLAG_BATTERY_LOW", "FLAG_LEAD_OFF", "HEADER", "ReferenceDecoder", "crc16"]

HEADER = struct.Struct("<BBHIBB")
VERSION = 1
FLAG_LEAD_OFF = 0x80  # electrode lead-off comparator tripped (electrode trouble)
FLAG_BATTERY_LOW = 0x40
_EMG_ROLES = ("emg_calf", "emg_tibialis")
_ACC_ROLES = ("acc_x", "acc_y", "acc_z")
_T_WRAP_S = 2**32 / 1e6  # u32 microseconds wrap after ~71.6 min


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF; check value 0x29B1 for b"123456789")."""
    return binascii.crc_hqx(data, 0xFFFF)


class ReferenceDecoder(Decoder):
    """Stateless decoder of v1 data packets; validates length, version and CRC."""

    def _decode(self, packet: bytes, characteristic: str) -> DecodedPacket | None:
        if len(packet) < HEADER.size + 2:
            self.stats.bad("short")
            return None
        version, flags, seq, t_us, n_emg, n_acc = HEADER.unpack_from(packet)
        if version != VERSION:
            self.stats.bad("version")
            return None
        channels = flags & 0x03
        if channels not in (1, 2):
            self.stats.bad("channels")
            return None
        expected = HEADER.size + 2 * n_emg * channels + 6 * n_acc + 2
        if len(packet) != expected:
            self.stats.bad("short" if len(packet) < expected else "long")
            return None
        (crc,) = struct.unpack_from("<H", packet, len(packet) - 2)
        if crc != crc16(packet[:-2]):
            self.stats.bad("crc")
            return None
        emg_end = HEADER.size + 2 * n_emg * channels
        emg = np.frombuffer(packet, "<i2", n_emg * channels, HEADER.size).reshape(n_emg, channels)
        acc = np.frombuffer(packet, "<i2", 3 * n_acc, emg_end).reshape(n_acc, 3)
        samples = {
            role: emg[:, i].astype(np.float64) * self.profile.emg_uv_per_lsb
            for i, role in enumerate(_EMG_ROLES[:channels])
        }
        if n_acc:
            for i, role in enumerate(_ACC_ROLES):
                samples[role] = acc[:, i].astype(np.float64) * self.profile.acc_g_per_lsb
        return DecodedPacket(
            stream="data",
            samples=samples,
            seq=seq,
            sensor_time_s=t_us / 1e6,
            sensor_time_wrap_s=_T_WRAP_S,
            flags={
                "lead_off": bool(flags & FLAG_LEAD_OFF),
                "battery_low": bool(flags & FLAG_BATTERY_LOW),
            },
        )
