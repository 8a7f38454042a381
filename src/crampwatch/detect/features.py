"""Model inputs: unit-free frame features plus short causal history, computed in streaming.

The classifier sees only features that mean the same thing on any amplifier and any
simulator: ratios of the EMG envelope to its own resting level (log10), spectral shape
(zero crossings, slope sign changes, mean/median frequency, high-frequency fraction),
signal-quality fractions, the calf/tibialis ratio, and shin motion relative to its own
resting level (log10). Absolute µV amplitudes are left out on purpose: they depend on
electrodes, skin and the simulator's choice of scale, and a model that learned them
would not transfer to real recordings. Absolute shin motion (g) is left out for the same
reason: at rest it is the accelerometer's noise, which differs between sensors by an
order of magnitude, and a model that learned "0.03 g means a moving leg" on quiet
sensors calls a still, cramping leg on a noisy sensor a leg movement.

History features (last 1–3 s of 0.1-s frames) are computed from a tail buffer of the
previous frames with the same arithmetic whatever the block size, so replaying a
recording in 20-ms or 5-s blocks yields bit-identical inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from crampwatch.detect.timing import FRAME_S
from crampwatch.detect.trackers import CrampParams
from crampwatch.signal.emg import RestTracker

__all__ = [
    "ACTIVE_REL",
    "MODEL_FEATURES",
    "ContextFeatures",
    "ContextUpdate",
    "column",
    "period_ends",
]

# A muscle is "active" when its envelope is ≥ this × its resting level: the alarm rule's
# default (CrampParams.active_rel). The model's inputs keep the default the shipped
# model was trained on, whatever a model's own thresholds say.
ACTIVE_REL = CrampParams.active_rel
_HIST_S = 3.0  # history kept: the longest window
_MAX_RUN_S = 30.0  # run-length features saturate at 30 s
# Shank-motion floor: median 1-s motion power of the last 30 resting seconds (one sample a
# second).
_FLOOR_SAMPLES = 30
_FLOOR_STEP_S = 1.0
# After an accelerometer gap (zero-filled) the motion high-pass needs ~2 s to settle: the
# motion power of frames within 3 s of a gap says nothing about the leg.
_GAP_SETTLE_S = 3.0

_FRAME_COLUMNS = [
    f"{m}_{c}"
    for m in ("calf", "tib")
    for c in (
        "zc_hz",
        "ssc_hz",
        "mnf_hz",
        "mdf_hz",
        "hf_frac",
        "mains_ratio",
        "sat_frac",
        "flat_frac",
        "pop",
        "quality",
    )
] + [
    "calf_tib_ratio",
    "tilt_change_deg",
    "tilt_from_rest_deg",
    "gap",
    "has_tib",
]

_DERIVED = [
    f"{m}_{c}"
    for m in ("calf", "tib")
    for c in (
        "lrel",
        "lrel1s",
        "lrel3s",
        "lrel_min1s",
        "lrel_std3s",
        "lrel_rise1s",
        "active_s",
    )
] + ["motion_lrel", "motion1s_lrel", "motion_max3s_lrel", "motion_mean3s_lrel"]

MODEL_FEATURES: tuple[str, ...] = tuple(_FRAME_COLUMNS + _DERIVED)


def column(frames, name: str) -> np.ndarray:
    """One column of a ``FeatureFrames`` as float64; ``KeyError`` naming a column the
    frames lack. Strict on purpose: a misspelt name read as all-NaN would pass guards
    such as ``~(ratio < x)`` and silently switch a safety check off. A channel that may
    be absent (the tibialis) is a column of NaN in the pipeline's frames, and callers
    decide by the channel's presence, not by the column's."""
    return np.asarray(frames.column(name), dtype=np.float64)


def _log_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    return np.log10(np.clip(r, 1e-3, 1e6))


def _windowed(hist: np.ndarray, new_n: int, w: int, fn: Callable) -> np.ndarray:
    """``fn`` over the last ``w`` values ending at each of the ``new_n`` newest rows.

    ``hist`` holds (tail + new) values; windows that reach before the first value are
    padded with NaN, so the first frames of a recording see a short history. Each
    window is reduced on its own, so the result does not depend on how the values were
    split into blocks.
    """
    pad = np.full(w - 1, np.nan)
    x = np.concatenate([pad, hist])
    win = sliding_window_view(x, w)[-new_n:]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN
        return fn(win, axis=1)


def _median_of_5_or_more(win: np.ndarray, axis: int = 1) -> np.ndarray:
    """NaN-ignoring median of each window, NaN where fewer than 5 values are finite."""
    out = np.nanmedian(win, axis=axis)
    out[np.isfinite(win).sum(axis=axis) < 5] = np.nan
    return out


def period_ends(first: int, n: int, period: int) -> np.ndarray:
    """Indices, within a block of ``n`` frames whose first frame is frame ``first`` of
    the recording, of the frames that end a period of ``period`` frames (recording
    index ``% period == period - 1``): a schedule that ignores block boundaries."""
    return np.arange((-first - 1) % period, n, period)


@dataclass(frozen=True)
class ContextUpdate:
    """What :meth:`ContextFeatures.update` gives for a block of frames (rows aligned
    with the frames' ``t_s``).

    Attributes
    ----------
    X:
        The model inputs (:data:`MODEL_FEATURES` columns).
    motion_rest_g:
        Resting level of the shin motion (g RMS) (NaN during the first second): the
        accelerometer's noise plus breathing, tracked like the EMG resting level.
        "Still" is judged against it.
    motion_known:
        False for frames within 3 s after a gap (zero-filled samples, then the motion
        high-pass settling): their shank motion says nothing about the leg.
    motion_power_g2:
        The shin motion power of each frame (0.1-s mean square, g², summed over the
        three axes), NaN within 3 s after an accelerometer gap (zero-filled samples and
        the settling high-pass are not the leg).
    motion_floor_g2:
        Its floor for the same frames (g²): the median of the 1-s motion power over the
        last 30 seconds with the calf relaxed (one value per second; NaN until 5 exist):
        the shank at rest, not standing or moving. Unlike ``motion_rest_g`` (a low
        quantile of 0.1-s values, biased low when an accelerometer gives few samples per
        hop) it estimates the noise power itself, so motion power above it is movement.
    """

    X: np.ndarray
    motion_rest_g: np.ndarray
    motion_known: np.ndarray
    motion_power_g2: np.ndarray
    motion_floor_g2: np.ndarray


class ContextFeatures:
    """Streaming builder of the model input matrix (:data:`MODEL_FEATURES` columns) and
    the shank-motion context of each frame (:class:`ContextUpdate`)."""

    def __init__(self, frame_s: float = FRAME_S) -> None:
        self.frame_s = frame_s
        # windows in frames: 1 s, 3 s, and the ones above
        self._n1s = round(1.0 / frame_s)
        self._n3s = round(3.0 / frame_s)
        self._hist_frames = round(_HIST_S / frame_s)
        self._max_run = round(_MAX_RUN_S / frame_s)
        self._floor_step = round(_FLOOR_STEP_S / frame_s)
        self._settle_frames = round(_GAP_SETTLE_S / frame_s)
        self._tail: dict[str, np.ndarray] = {}
        self._run: dict[str, int] = {"calf": 0, "tib": 0}
        self._motion_rest = RestTracker(self._n1s)
        self._floor_tail = np.empty(0)  # the last once-a-second power samples (g²)
        self._floor_last = np.nan
        self._frames_seen = 0

    def update(self, frames) -> ContextUpdate:
        """Model inputs and shank-motion context for the new ``frames``."""
        n = len(frames)
        if n == 0:
            empty = np.empty(0)
            return ContextUpdate(
                np.empty((0, len(MODEL_FEATURES))), empty, np.empty(0, bool), empty, empty
            )
        cols: dict[str, np.ndarray] = {c: column(frames, c) for c in _FRAME_COLUMNS}
        for m in ("calf", "tib"):
            env = column(frames, f"{m}_env_uv")
            rest = column(frames, f"{m}_rest_uv")
            lrel = _log_ratio(env, rest)
            lrel[~np.isfinite(env) | ~np.isfinite(rest)] = np.nan
            cols[f"{m}_lrel"] = lrel
            for src, dst in (("env1s", "lrel1s"), ("env3s", "lrel3s")):
                e = column(frames, f"{m}_{src}_uv")
                v = _log_ratio(e, rest)
                v[~np.isfinite(e) | ~np.isfinite(rest)] = np.nan
                cols[f"{m}_{dst}"] = v
            hist = self._history(f"{m}_lrel", lrel)
            w1, w3 = self._n1s, self._n3s
            cols[f"{m}_lrel_min1s"] = _windowed(hist, n, w1, np.nanmin)
            cols[f"{m}_lrel_std3s"] = _windowed(hist, n, w3, np.nanstd)
            lag = np.concatenate([np.full(w1, np.nan), hist])[-n - w1 : -w1] if n else lrel
            cols[f"{m}_lrel_rise1s"] = lrel - lag
            active = lrel >= np.log10(ACTIVE_REL)
            cols[f"{m}_active_s"] = self._run_length(m, active) * self.frame_s
        mot = column(frames, "acc_motion_g")
        rest = self._motion_rest.process(mot, np.isfinite(mot))
        mot1s = column(frames, "acc_motion1s_g")
        gap = np.nan_to_num(column(frames, "gap"), nan=0.0)
        settling = _windowed(self._history("gap", gap), n, self._settle_frames, np.nanmax) > 0
        power = np.where(settling, np.nan, mot * mot)
        # the floor is the shank at rest: seconds with the calf relaxed (not standing,
        # not in a leg movement or a cramp), away from accelerometer gaps
        with np.errstate(invalid="ignore"):
            resting = ~settling & (cols["calf_lrel1s"] < np.log10(ACTIVE_REL))
        floor = self._motion_floor(mot1s * mot1s, resting)
        hist = self._history("acc_motion_g", mot)
        cols["motion_lrel"] = _log_ratio(mot, rest)
        cols["motion1s_lrel"] = _log_ratio(mot1s, rest)
        cols["motion_max3s_lrel"] = _log_ratio(_windowed(hist, n, self._n3s, np.nanmax), rest)
        cols["motion_mean3s_lrel"] = _log_ratio(_windowed(hist, n, self._n3s, np.nanmean), rest)
        X = np.column_stack([cols[c] for c in MODEL_FEATURES])
        return ContextUpdate(X, rest, ~settling, power, floor)

    def _motion_floor(self, power: np.ndarray, resting: np.ndarray) -> np.ndarray:
        """Per frame: the median of the last 30 once-a-second samples of the 1-s motion
        power (g²) taken while ``resting`` (a sample every 10th frame of the recording,
        so the same whatever the block size); NaN until 5 such samples exist."""
        n = power.shape[0]
        at = period_ends(self._frames_seen, n, self._floor_step)
        self._frames_seen += n
        ok = resting[at] & np.isfinite(power[at])
        new = power[at][ok]
        if new.size == 0:
            return np.full(n, self._floor_last)
        samples = np.concatenate([self._floor_tail, new])
        self._floor_tail = samples[-(_FLOOR_SAMPLES - 1) :]
        medians = _windowed(samples, new.size, _FLOOR_SAMPLES, _median_of_5_or_more)
        # from each qualifying sample on, frames hold its median
        taken = at[ok]
        which = np.searchsorted(taken, np.arange(n), side="right") - 1
        out = np.where(which >= 0, medians[np.maximum(which, 0)], self._floor_last)
        self._floor_last = float(medians[-1])
        return out

    def _history(self, key: str, new: np.ndarray) -> np.ndarray:
        tail = self._tail.get(key, np.empty(0))
        hist = np.concatenate([tail, new])
        self._tail[key] = hist[-self._hist_frames :]
        return hist

    def _run_length(self, key: str, active: np.ndarray) -> np.ndarray:
        """Frames since the muscle became continuously active (0 when inactive)."""
        n = active.shape[0]
        if n == 0:
            return np.empty(0)
        idx = np.arange(1, n + 1)
        # index of the last inactive frame at or before each frame (0 = before chunk)
        last_off = np.maximum.accumulate(np.where(active, 0, idx))
        run = np.where(last_off == 0, self._run[key] + idx, idx - last_off)
        run = np.where(active, run, 0)
        self._run[key] = int(run[-1])
        return np.minimum(run, self._max_run).astype(np.float64)
