"""Accelerometer processing: posture (gravity) and movement, per hop.

:class:`Accelerometer` takes the three axes (``acc_x``/``acc_y``/``acc_z``, in g,
10-200 Hz) and forms the vector features of :data:`crampwatch.signal.frames.ACC_FEATURES`
(movement magnitude, gravity, tilt angles) on the hop clock once all three cover a hop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crampwatch.roles import ACC_ROLES
from crampwatch.signal.filters import IirStage, highpass_sos, lowpass_sos, one_pole_lowpass_sos
from crampwatch.signal.frames import ACC_FEATURES
from crampwatch.signal.hops import HopBuffer, HopChunk, TrailingSums, hop_sums

__all__ = ["Accelerometer", "angle_deg"]

# Movement: body motion lies above ~0.5 Hz, posture (gravity) below.
_DYNAMIC_HP_HZ = 0.5
# Gravity: the per-hop means low-passed at 0.5 Hz (settles within ~1-2 s of a turn).
_GRAVITY_LP_HZ = 0.5
# Tilt change compares gravity now with gravity this long ago: turning over or standing
# up takes 1-3 s.
TILT_LAG_S = 3.0
# Slow posture reference for tilt_from_rest_deg: exponential average, time constant 5 min.
REST_POSTURE_TAU_S = 300.0

_COL = {name: i for i, name in enumerate(ACC_FEATURES)}


class Accelerometer:
    """The three accelerometer axes: raw blocks (g) per axis in, rows of
    :data:`ACC_FEATURES` out for the hops that all three axes cover.

    Per-sample work (hop means, the dynamic high-pass) runs on each axis's own sample
    clock (the three axes at once when they share a rate); the per-hop work (gravity,
    tilt, movement) runs on the three axes at once: one call per chunk instead of three.

    Parameters
    ----------
    fs_hz:
        Sampling rate (Hz) of each of ``acc_x``, ``acc_y``, ``acc_z`` (at least one
        sample per hop).
    hop_s:
        Hop length, s.
    """

    def __init__(self, fs_hz: Mapping[str, float], hop_s: float) -> None:
        self.hop_s = float(hop_s)
        self.buffers = {r: HopBuffer(float(fs_hz[r]), self.hop_s) for r in ACC_ROLES}
        # The dynamic high-pass: one for the three axes (one row each) when they share a
        # rate (the usual case: one call per chunk), else one per axis.
        rates = [b.fs_hz for b in self.buffers.values()]
        self._dynamic = [
            IirStage(highpass_sos(fs, _DYNAMIC_HP_HZ))
            for fs in (rates[:1] if len(set(rates)) == 1 else rates)
        ]
        hop_rate = 1.0 / self.hop_s
        # on the hop clock, all three axes (one row each) in one call
        self._gravity = IirStage(lowpass_sos(hop_rate, _GRAVITY_LP_HZ))
        self._reference = IirStage(one_pole_lowpass_sos(hop_rate, REST_POSTURE_TAU_S))
        self._lag = max(1, round(TILT_LAG_S / self.hop_s))
        self._history = np.empty((len(ACC_ROLES), 0))  # up to `lag` previous gravity values
        self._ss1 = TrailingSums(max(1, round(1.0 / self.hop_s)), axis=0)

    def append(self, role: str, samples: np.ndarray, t0_s: float) -> None:
        """Queue a raw block (g) of one axis starting at ``t0_s`` s."""
        self.buffers[role].append(samples, t0_s)

    def pop_features(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows ``(m, len(ACC_FEATURES))`` and gap flags ``(m,)`` (any axis) of the next
        hops all three axes cover (at most about ``max_samples`` samples of an axis), or
        None when there is none."""
        bufs = self.buffers.values()
        k_stop = min(b.releasable(max_samples) for b in bufs)
        if k_stop <= next(iter(bufs)).next_hop:
            return None
        chunks = []
        for b in bufs:
            chunk = b.pop_hops(k_stop=k_stop)
            assert chunk is not None  # every axis has hops up to k_stop (checked above)
            chunks.append(chunk)
        gap = chunks[0].gap | chunks[1].gap | chunks[2].gap
        return self.features(chunks), gap

    def features(self, chunks: list[HopChunk]) -> np.ndarray:
        """Rows of :data:`ACC_FEATURES` for the same hops of the three axes (advances the
        state): ``acc_motion_g``, ``acc_motion1s_g`` (RMS magnitude of the dynamic
        acceleration over the hop / trailing 1 s, g), ``grav_*_g`` (g),
        ``tilt_change_deg`` (gravity now vs ``TILT_LAG_S`` before) and
        ``tilt_from_rest_deg`` (gravity now vs the 5-minute reference), degrees."""
        m = chunks[0].m
        means, sums = self._hop_sums(chunks)
        grav = self._gravity.process(means)
        ref = self._reference.process(means)
        full = np.concatenate((self._history, grav), axis=1)
        h = self._history.shape[1]
        if h >= self._lag:  # gravity `lag` hops before each hop of the chunk
            grav_lag = full[:, h - self._lag : h - self._lag + m]
        else:  # before TILT_LAG_S of data, compare with the first gravity value
            grav_lag = full[:, np.maximum(np.arange(h, h + m) - self._lag, 0)]
        self._history = full[:, -self._lag :] if full.shape[1] > self._lag else full
        sums1s = self._ss1.process(sums.T)[0].T  # (hops along the rows: faster)

        out = np.empty((m, len(ACC_FEATURES)))
        g = _COL["grav_x_g"]
        out[:, g : g + 3] = grav.T
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, _COL["acc_motion_g"]] = _rms_magnitude(sums[:3], sums[3:])
            out[:, _COL["acc_motion1s_g"]] = _rms_magnitude(sums1s[:3], sums1s[3:])
            # both angles in one call: gravity against [gravity before, reference]
            tilt = _angles_deg(np.tile(grav, 2), np.concatenate((grav_lag, ref), axis=1))
        out[:, _COL["tilt_change_deg"]] = tilt[:m]
        out[:, _COL["tilt_from_rest_deg"]] = tilt[m:]
        return out

    def _hop_sums(self, chunks: list[HopChunk]) -> tuple[np.ndarray, np.ndarray]:
        """Per-hop means ``(3, m)`` of x, y, z (g: resampled to the hop clock by averaging
        the hop's samples) and ``(6, m)`` sums of squared dynamic acceleration (g²) of
        x, y, z then their sample counts (rows: contiguous per-axis arithmetic)."""
        m = chunks[0].m
        means, sums = np.empty((3, m)), np.empty((6, m))
        if len(self._dynamic) == 1:  # same rate, same hop bounds: the axes as rows
            samples = np.stack([c.samples for c in chunks])
            starts, n = chunks[0].bounds[:-1], chunks[0].counts
            np.divide(np.add.reduceat(samples, starts, axis=1), n, out=means)
            dyn = self._dynamic[0].process(samples)
            sums[:3] = np.add.reduceat(dyn * dyn, starts, axis=1)
            sums[3:] = n
            return means, sums
        for i, (chunk, dynamic) in enumerate(zip(chunks, self._dynamic, strict=True)):
            n = chunk.counts
            means[i] = hop_sums(chunk.samples, chunk) / n
            dyn = dynamic.process(chunk.samples)
            sums[i] = hop_sums(dyn * dyn, chunk)
            sums[3 + i] = n
        return means, sums


def _rms_magnitude(ss: np.ndarray, n: np.ndarray) -> np.ndarray:
    """RMS magnitude of a vector signal, ``sqrt(sum_axes ss / n)``, from the per-axis
    sums of squares ``ss`` and sample counts ``n`` (``(3, m)`` each)."""
    q = ss / n
    return np.sqrt(q[0] + q[1] + q[2])


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between row vectors ``u`` and ``v`` (``(n, 3)``), degrees; NaN if either is 0.

    ``atan2(|u x v|, u . v)``: accurate near 0° and 180°, unlike ``acos`` of the cosine.
    """
    return _angles_deg(np.ascontiguousarray(u.T), np.ascontiguousarray(v.T))


def _angles_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """:func:`angle_deg` of column vectors: ``u``, ``v`` are ``(3, n)`` (x, y, z rows,
    each contiguous for speed)."""
    ux, uy, uz = u[0], u[1], u[2]
    vx, vy, vz = v[0], v[1], v[2]
    cross = np.sqrt((uy * vz - uz * vy) ** 2 + (uz * vx - ux * vz) ** 2 + (ux * vy - uy * vx) ** 2)
    dot = ux * vx + uy * vy + uz * vz
    ang = np.degrees(np.arctan2(cross, dot))
    # A zero vector gives cross = dot = 0: test only those (rare) columns.
    maybe = (cross == 0) & (dot == 0)
    if maybe.any():
        maybe[maybe] = ~u[:, maybe].any(axis=0) | ~v[:, maybe].any(axis=0)
        ang[maybe] = np.nan
    return ang
