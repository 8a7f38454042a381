"""Bad-signal assessment of an EMG channel, per 0.1-s feature frame.

The detector's rules for when a channel cannot be trusted: a frame is unusable (a gap,
a flat line, clipping), or hum dominates it, or its quality score is poor; and, over
seconds, electrode trouble building up (hum growing as an electrode loosens). The
reasons feed the ``signal_issue`` events (:class:`~crampwatch.detect.trackers.SignalIssueTracker`),
the cramp alarm's vetoes and the leg-movement scorer; the full detector
(:mod:`crampwatch.detect.frame_detector`) and the leg-movement-only one
(:mod:`crampwatch.detect.legs`) apply the same rules.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from crampwatch.detect.features import column
from crampwatch.detect.wasm import REST_REF_UV
from crampwatch.events import SignalIssueKind
from crampwatch.signal.emg import quality_score

__all__ = [
    "HARD_REASONS",
    "VETO_QUALITY",
    "ChannelAssessment",
    "HumGrowth",
    "assess_channel",
    "bad_signal_reasons",
    "hum_uv",
]

# Bad-signal rules per EMG channel (fractions per 0.1-s frame from the signal pipeline).
# Where several match, the most specific reason is reported (see assess_channel).
FLAT_ISSUE_FRAC = 0.5  # electrode off / disconnected: a flat line for half the frame
# Clipping at the amplifier rails: 5 % of a frame's samples at a rail make it a
# ``saturation`` frame (unusable). Not the 10 % of crampwatch.signal.emg, which only
# decides which hops may update the resting level.
SATURATION_ISSUE_FRAC = 0.05
# mains_ratio is the share of the raw channel's RMS that is hum (crampwatch.signal.emg);
# 0.3 means hum is a large part of what the channel shows. But a steady hum is what the
# notch removes (>= 40 dB): it only threatens the signal when it is large in absolute
# terms, as when an electrode lifts off (hundreds of µV). Below _MAINS_MIN_UV of hum a
# high ratio just means a quiet muscle next to a mains cable, and is not an issue.
_MAINS_RATIO = 0.3
_MAINS_MIN_UV = 40.0
_MIN_QUALITY = 0.5
# a single frame this poor vetoes the cramp alarm (large hum, a pop, a gap)
VETO_QUALITY = 0.3

# reasons that make a single frame unusable (no samples or no real signal in it)
HARD_REASONS = tuple(
    k.value
    for k in (SignalIssueKind.GAP, SignalIssueKind.ELECTRODE_OFF, SignalIssueKind.SATURATION)
)

# Electrode trouble building up: the hum (µV, 2-s window; × rest when units are unknown)
# has grown over the last _TROUBLE_LOOKBACK_S s by at least _TROUBLE_MIN_UV and to at
# least _TROUBLE_GROWTH × what it was, and is now a large share of the channel (mains
# ratio ≥ _TROUBLE_RATIO; the EMG's own leak into the mains bins gives 0–0.2 in a
# cramp). A loosening electrode's hum grows from nothing to hundreds of µV over seconds
# (rising impedance raises the mains pick-up) while the EMG does not. Growth is judged
# on the hum itself, not on its share: on a channel already humming (ratio 0.8) the
# share cannot double while the hum grows 70-fold. "What it was" is the highest hum of
# the _TROUBLE_SPAN_S s before the lookback: a contraction makes the 2-s estimates of a
# steady hum scatter (the hum × EMG cross terms), and the return from a low one is not
# growth.
_TROUBLE_GROWTH = 2.0
_TROUBLE_MIN_UV = 4.0
_TROUBLE_RATIO = 0.3
_TROUBLE_LOOKBACK_S = 5.0
_TROUBLE_SPAN_S = 5.0


class ChannelAssessment(NamedTuple):
    """Per frame of one EMG channel: the reason it is bad ('' when usable), its quality
    score (0..1) and the same score with electrode pops left out."""

    reasons: np.ndarray
    quality: np.ndarray
    quality_without_pops: np.ndarray


def hum_uv(frames, prefix: str) -> np.ndarray:
    """Mains hum per frame of the ``prefix`` channel, µV RMS over the trailing 2 s (the
    mains ratio's window; NaN, no notch, counts as 0)."""
    return np.nan_to_num(column(frames, f"{prefix}_hum_uv"))


def _hum_small(hum: np.ndarray, rest: np.ndarray, units_known: bool) -> np.ndarray:
    """Hum too small to matter: < ``_MAINS_MIN_UV``, or, when the EMG units are unknown,
    < the same multiple of the resting level as 40 µV is of a nominal 2-µV rest."""
    if units_known:
        return hum < _MAINS_MIN_UV
    with np.errstate(invalid="ignore"):
        # NaN rest (first second): judged small, as a quiet channel would be
        return ~(hum >= rest * (_MAINS_MIN_UV / REST_REF_UV))


def assess_channel(frames, prefix: str, units_known: bool = True) -> ChannelAssessment:
    """Reasons and quality of one EMG channel (``calf``/``tib``) per frame, in one pass
    over its columns (see :func:`bad_signal_reasons`)."""
    col = {
        c: column(frames, f"{prefix}_{c}")
        for c in ("quality", "sat_frac", "flat_frac", "pop", "mains_ratio", "rest_uv")
    }
    gap = np.nan_to_num(column(frames, "gap"))
    ratio = col["mains_ratio"]
    hum = hum_uv(frames, prefix)
    small = _hum_small(hum, col["rest_uv"], units_known)
    sat, flat, pop = (np.nan_to_num(col[c]) for c in ("sat_frac", "flat_frac", "pop"))
    mains = np.where(small, 0.0, ratio)  # NaN (no notch / no channel) counts as 0
    q = np.where(
        small, quality_score(sat, flat, pop, mains, gap), np.nan_to_num(col["quality"], nan=1.0)
    )
    q_no_pops = quality_score(sat, flat, np.zeros_like(pop), mains, gap)
    reason = np.full(len(frames), "", dtype=object)
    checks = [
        (SignalIssueKind.POOR_QUALITY, q < _MIN_QUALITY),
        (SignalIssueKind.MAINS, (ratio >= _MAINS_RATIO) & ~small),
        (SignalIssueKind.SATURATION, col["sat_frac"] >= SATURATION_ISSUE_FRAC),
        (SignalIssueKind.ELECTRODE_OFF, col["flat_frac"] >= FLAT_ISSUE_FRAC),
        (SignalIssueKind.GAP, gap > 0),
    ]
    for code, mask in checks:  # later checks win: the most specific reason last
        reason[mask] = code.value
    return ChannelAssessment(reason, q, q_no_pops)


def bad_signal_reasons(frames, prefix: str, *, units_known: bool = True) -> np.ndarray:
    """Per frame, '' for a usable ``prefix`` channel (``calf``/``tib``) or a reason code.

    Codes: ``gap`` (no samples), ``electrode_off`` (flat line), ``saturation``,
    ``mains`` (hum dominates), ``poor_quality`` (pipeline quality score < 0.5).
    ``units_known=False``: the EMG is in unknown units, hum is judged against the
    resting level instead of in µV.
    """
    return assess_channel(frames, prefix, units_known).reasons


class HumGrowth:
    """Per frame of one EMG channel: electrode trouble building up, hum growing fast
    (see ``_TROUBLE_*``), with the values of earlier frames kept across pushes
    (block-size independent). ``units_known=False``: the rise is judged against the
    resting level instead of in µV."""

    def __init__(self, prefix: str, *, units_known: bool, frame_s: float) -> None:
        self.prefix = prefix
        self.units_known = bool(units_known)
        self._lag = round(_TROUBLE_LOOKBACK_S / frame_s)
        self._span = max(1, round(_TROUBLE_SPAN_S / frame_s))
        # hum of the last lag + span - 1 frames; -inf before the recording's first frame
        self._hist = np.full(self._lag + self._span - 1, -np.inf)

    def push(self, frames) -> np.ndarray:
        hum = hum_uv(frames, self.prefix)
        ratio = np.nan_to_num(column(frames, f"{self.prefix}_mains_ratio"))
        if self.units_known:
            min_rise = np.full(len(frames), _TROUBLE_MIN_UV)
        else:  # units unknown: the same multiple of the resting level as 4 µV of 2 µV
            rest = column(frames, f"{self.prefix}_rest_uv")
            min_rise = np.nan_to_num(rest, nan=np.inf) * (_TROUBLE_MIN_UV / REST_REF_UV)
        ext = np.concatenate([self._hist, hum])
        n = hum.shape[0]
        # frame i's span ends lag frames before it: ext[i : i + span]
        before = sliding_window_view(ext[: n + self._span - 1], self._span).max(axis=1)
        before[np.isneginf(before)] = np.inf  # no frame that far back yet: no growth known
        self._hist = ext[n:]
        with np.errstate(invalid="ignore"):
            return (
                (hum - before >= min_rise)
                & (hum >= _TROUBLE_GROWTH * before)
                & (ratio >= _TROUBLE_RATIO)
            )
