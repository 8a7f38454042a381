"""Feature frames: the per-hop output of the signal pipeline and the column names.

One frame per hop (default :data:`HOP_S` = 0.1 s) on the common sample clock: frame ``k`` covers
``[k * hop_s, (k + 1) * hop_s)`` and is stamped with its end, ``t_s[k] = (k + 1) * hop_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACC_FEATURES",
    "EMG_FEATURES",
    "FEATURE_NAMES",
    "HOP_S",
    "FeatureFrames",
    "emg_columns",
]

# The default hop, s (10 frames/s): the frame the detector and its model work on
# (crampwatch.detect.timing.FRAME_S is this constant).
HOP_S = 0.1

# Per-EMG-channel features (prefix ``calf_`` / ``tib_``); see ``crampwatch.signal.emg``
# for the exact definitions.
EMG_FEATURES: tuple[str, ...] = (
    "env_uv",  # RMS of the band-passed, notched EMG over the hop, µV
    "env1s_uv",  # trailing 1 s RMS, µV
    "env3s_uv",  # trailing 3 s RMS, µV
    "rest_uv",  # robust running resting level, µV (NaN during the first second)
    # (rel*, above_rest_uv and wl are NaN while rest_uv is)
    "rel",  # env_uv / rest_uv, dimensionless
    "rel1s",  # env1s_uv / rest_uv, dimensionless
    "above_rest_uv",  # env_uv - rest_uv, µV (WASM 2016 8 µV / 2 µV rule)
    "wl",  # waveform length per second / rest_uv, 1/s
    "zc_hz",  # zero crossings per second, Hz
    "ssc_hz",  # slope sign changes per second, Hz
    "mnf_hz",  # spectral mean frequency over the trailing 0.5 s, Hz
    "mdf_hz",  # spectral median frequency over the trailing 0.5 s, Hz
    "hf_frac",  # fraction of the trailing 0.5 s power above the high/low split, 0..1
    "mains_ratio",  # hum RMS / RMS of hum + filtered EMG, trailing 2 s, 0..1 (NaN: no notch)
    "hum_uv",  # mains hum RMS over the same trailing 2 s, µV (NaN: no notch)
    "sat_frac",  # fraction of samples stuck at the rails, 0..1
    "flat_frac",  # fraction of samples equal to their predecessor (not at a rail), 0..1
    "pop",  # 1 if the hop holds an electrode pop / baseline step, else 0
    "quality",  # 0..1, 1 = clean (see crampwatch.signal.emg.quality_score)
)

ACC_FEATURES: tuple[str, ...] = (
    "acc_motion_g",  # RMS magnitude of the high-passed (dynamic) acceleration over the hop, g
    "acc_motion1s_g",  # same over the trailing 1 s, g
    "grav_x_g",  # low-passed (gravity) acceleration, g
    "grav_y_g",
    "grav_z_g",
    "tilt_change_deg",  # angle between gravity now and 3 s before, degrees
    "tilt_from_rest_deg",  # angle between gravity now and a slow (5 min) reference, degrees
)


def emg_columns(prefix: str) -> tuple[str, ...]:
    """Column names of one EMG channel, e.g. ``emg_columns("calf")``."""
    return tuple(f"{prefix}_{name}" for name in EMG_FEATURES)


FEATURE_NAMES: tuple[str, ...] = (
    *emg_columns("calf"),
    *emg_columns("tib"),
    "calf_tib_ratio",  # calf_rel1s / tib_rel1s, dimensionless (NaN without tibialis)
    *ACC_FEATURES,
    "gap",  # 1 if any channel has missing samples in the frame
    "has_tib",  # 1 if the tibialis channel is present, else 0
)


@dataclass(frozen=True, eq=False)
class FeatureFrames:
    """Consecutive feature frames.

    Attributes
    ----------
    t_s:
        ``(n,)`` recording time at the end of each frame (= last sample consumed), s.
    values:
        ``(n, len(names))`` float64 feature values; NaN where a feature is undefined
        (absent tibialis channel, warm-up of the resting level, silent hop).
    names:
        Column names, :data:`FEATURE_NAMES` for the pipeline's output.
    """

    t_s: np.ndarray
    values: np.ndarray
    names: tuple[str, ...] = FEATURE_NAMES

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, dtype=np.float64).reshape(-1)
        v = np.asarray(self.values, dtype=np.float64).reshape(t.shape[0], len(self.names))
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "names", tuple(self.names))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One feature column, ``(n,)``; ``KeyError`` naming the unknown column."""
        try:
            return self.values[:, self.names.index(name)]
        except ValueError:
            raise KeyError(f"no feature column {name!r}") from None

    @staticmethod
    def empty(names: Sequence[str] = FEATURE_NAMES) -> FeatureFrames:
        """Zero frames with the given columns."""
        return FeatureFrames(np.empty(0), np.empty((0, len(names))), tuple(names))

    @staticmethod
    def concat(frames: Sequence[FeatureFrames]) -> FeatureFrames:
        """Frames one after the other (all must have the same columns)."""
        if not frames:
            return FeatureFrames.empty()
        names = frames[0].names
        if any(f.names != names for f in frames):
            raise ValueError("cannot concatenate FeatureFrames with different columns")
        return FeatureFrames(
            np.concatenate([f.t_s for f in frames]),
            np.concatenate([f.values for f in frames], axis=0),
            names,
        )
