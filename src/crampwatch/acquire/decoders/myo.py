"""Thalmic Myo decoder (thalmiclabs/myo-bluetooth ``myohw.h``, firmware 1.x).

* EMG: four notify characteristics (``d5060105`` .. ``d5060405``), each 16 bytes =
  two samples of 8 int8 pods; together 200 Hz. No sequence number: loss inside a
  connection is invisible, only reconnections are timed (host clock).
* IMU (``d5060402``): 20 bytes = quaternion int16 x 4 (/16384), accelerometer int16 x 3
  (/2048 -> g), gyroscope int16 x 3 (/16 -> deg/s), one sample at 50 Hz.

Byte order: myohw.h says "big-endian" in a comment, but the structs are packed on a
little-endian nRF51 and the open decoders (myo-raw, pyomyo) read little-endian; we do too.
EMG is in device counts; the profile's ``emg_uv_per_lsb`` is nominal (flagged
``emg_scale_nominal``) so the pipeline should normalise Myo EMG to the resting baseline.
"""

from __future__ import annotations

import numpy as np

from crampwatch.acquire.decoders import DecodedPacket, Decoder

__all__ = ["MyoDecoder"]

EMG_LEN = 16
IMU_LEN = 20


class MyoDecoder(Decoder):
    """Stateless decoder; pods map to roles via the profile's ``[channels]`` table."""

    def _decode(self, packet: bytes, characteristic: str) -> DecodedPacket | None:
        try:
            stream = self.profile.stream_for(characteristic).name if characteristic else None
        except KeyError:
            stream = None
        if stream is None:
            # Without the characteristic, the length tells EMG (16) from IMU (20).
            stream = {EMG_LEN: "emg", IMU_LEN: "imu"}.get(len(packet))
        if stream == "emg":
            return self._emg(packet)
        if stream == "imu":
            return self._imu(packet)
        self.stats.bad("unknown_stream")
        return None

    def _emg(self, packet: bytes) -> DecodedPacket | None:
        if len(packet) != EMG_LEN:
            self.stats.bad("short" if len(packet) < EMG_LEN else "long")
            return None
        pods = np.frombuffer(packet, np.int8).reshape(2, 8).astype(np.float64)
        samples = {
            role: pods[:, pod] * self.profile.emg_uv_per_lsb
            for role, pod in self.profile.channels.items()
            if role in self.profile.rates_hz and role.startswith("emg")
        }
        return DecodedPacket(stream="emg", samples=samples)

    def _imu(self, packet: bytes) -> DecodedPacket | None:
        if len(packet) != IMU_LEN:
            self.stats.bad("short" if len(packet) < IMU_LEN else "long")
            return None
        values = np.frombuffer(packet, "<i2").astype(np.float64)
        acc = values[4:7] * self.profile.acc_g_per_lsb
        samples = {role: acc[i : i + 1] for i, role in enumerate(("acc_x", "acc_y", "acc_z"))}
        return DecodedPacket(stream="imu", samples=samples)
