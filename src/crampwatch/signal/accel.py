"""Accelerometer processing: posture (gravity) and movement, per hop.

Each axis (``acc_x``/``acc_y``/``acc_z``, in g, 10-200 Hz) is processed on its own by
:class:`AccAxis`; :func:`combine_axes` then forms the vector features (movement
magnitude, gravity direction, tilt angles) on the hop clock.
"""

from __future__ import annotations

import numpy as np

from crampwatch.signal.filters import IirStage, highpass_sos, lowpass_sos, one_pole_lowpass_sos
from crampwatch.signal.hops import HopBuffer, HopChunk, TrailingSum, hop_sums

__all__ = ["AXIS_COLUMNS", "AccAxis", "angle_deg", "combine_axes"]

# Movement: body motion lies above ~0.5 Hz, posture (gravity) below.
_DYNAMIC_HP_HZ = 0.5
# Gravity: the per-hop means low-passed at 0.5 Hz (settles within ~1-2 s of a turn).
_GRAVITY_LP_HZ = 0.5
# Tilt change compares gravity now with gravity this long ago: turning over or standing
# up takes 1-3 s.
TILT_LAG_S = 3.0
# Slow posture reference for tilt_from_rest_deg: exponential average, time constant 5 min.
REST_POSTURE_TAU_S = 300.0

AXIS_COLUMNS: tuple[str, ...] = ("grav_g", "grav_lag_g", "ref_g", "ss_dyn", "n", "ss_dyn1s", "n1s")
_A = {name: i for i, name in enumerate(AXIS_COLUMNS)}


class AccAxis:
    """One accelerometer axis: raw blocks (g) in, per-hop rows of :data:`AXIS_COLUMNS`
    out (gravity now / ``TILT_LAG_S`` ago / slow reference in g, sums of squared dynamic
    acceleration in g² with their sample counts over the hop and the trailing 1 s)."""

    def __init__(self, fs_hz: float, hop_s: float) -> None:
        self.fs_hz = float(fs_hz)
        self.hop_s = float(hop_s)
        self.buffer = HopBuffer(self.fs_hz, self.hop_s)
        hop_rate = 1.0 / self.hop_s
        self._dynamic = IirStage(highpass_sos(self.fs_hz, _DYNAMIC_HP_HZ))
        self._gravity = IirStage(lowpass_sos(hop_rate, _GRAVITY_LP_HZ))
        self._reference = IirStage(one_pole_lowpass_sos(hop_rate, REST_POSTURE_TAU_S))
        self._lag = max(1, round(TILT_LAG_S / self.hop_s))
        self._history = np.empty(0)  # up to `lag` previous gravity values
        self._ss1 = TrailingSum(max(1, round(1.0 / self.hop_s)))

    def append(self, samples: np.ndarray, t0_s: float) -> None:
        """Queue a raw block (g) starting at ``t0_s`` s."""
        self.buffer.append(samples, t0_s)

    def pop_features(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows ``(m, len(AXIS_COLUMNS))`` and gap flags ``(m,)`` of the next whole hops."""
        chunk = self.buffer.pop_hops(max_samples)
        if chunk is None:
            return None
        return self.features(chunk), chunk.gap

    def features(self, chunk: HopChunk) -> np.ndarray:
        """Per-hop rows for whole hops (advances the axis state)."""
        out = np.empty((chunk.m, len(AXIS_COLUMNS)))
        n = chunk.counts
        # Resample to the hop clock by averaging the hop's samples.
        means = hop_sums(chunk.samples, chunk) / n
        grav = self._gravity.process(means)
        full = np.concatenate((self._history, grav))
        h = self._history.shape[0]
        # Before TILT_LAG_S of data, compare with the first gravity value.
        lag_idx = np.maximum(np.arange(h, h + chunk.m) - self._lag, 0)
        out[:, _A["grav_lag_g"]] = full[lag_idx]
        self._history = full[-self._lag :] if full.shape[0] > self._lag else full
        out[:, _A["grav_g"]] = grav
        out[:, _A["ref_g"]] = self._reference.process(means)
        dyn = self._dynamic.process(chunk.samples)
        ss = hop_sums(dyn * dyn, chunk)
        out[:, _A["ss_dyn"]] = ss
        out[:, _A["n"]] = n
        s1 = self._ss1.process(np.stack((ss, n), axis=1))
        out[:, _A["ss_dyn1s"]] = s1[:, 0]
        out[:, _A["n1s"]] = s1[:, 1]
        return out


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between row vectors ``u`` and ``v`` (``(n, 3)``), degrees; NaN if either is 0.

    ``atan2(|u x v|, u . v)``: accurate near 0° and 180°, unlike ``acos`` of the cosine.
    """
    ux, uy, uz = u[:, 0], u[:, 1], u[:, 2]
    vx, vy, vz = v[:, 0], v[:, 1], v[:, 2]
    cross = np.sqrt((uy * vz - uz * vy) ** 2 + (uz * vx - ux * vz) ** 2 + (ux * vy - uy * vx) ** 2)
    dot = ux * vx + uy * vy + uz * vz
    ang = np.degrees(np.arctan2(cross, dot))
    zero = ((ux == 0) & (uy == 0) & (uz == 0)) | ((vx == 0) & (vy == 0) & (vz == 0))
    ang[zero] = np.nan
    return ang


def combine_axes(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Vector features from the three axes' per-hop rows (same hops).

    Returns ``acc_motion_g``, ``acc_motion1s_g`` (RMS magnitude of the dynamic
    acceleration over the hop / trailing 1 s, g), ``grav_x_g``/``grav_y_g``/``grav_z_g``
    (g), ``tilt_change_deg`` (gravity now vs ``TILT_LAG_S`` before) and
    ``tilt_from_rest_deg`` (gravity now vs the 5-minute reference), degrees.
    """
    axes = (x, y, z)

    def stack(name: str) -> np.ndarray:
        return np.stack([a[:, _A[name]] for a in axes], axis=1)

    grav = stack("grav_g")
    motion = sum(a[:, _A["ss_dyn"]] / a[:, _A["n"]] for a in axes)
    motion1s = sum(a[:, _A["ss_dyn1s"]] / a[:, _A["n1s"]] for a in axes)
    return {
        "acc_motion_g": np.sqrt(motion),
        "acc_motion1s_g": np.sqrt(motion1s),
        "grav_x_g": grav[:, 0],
        "grav_y_g": grav[:, 1],
        "grav_z_g": grav[:, 2],
        "tilt_change_deg": angle_deg(grav, stack("grav_lag_g")),
        "tilt_from_rest_deg": angle_deg(grav, stack("ref_g")),
    }
