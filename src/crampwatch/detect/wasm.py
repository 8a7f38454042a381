"""Leg-movement scoring per the WASM 2016 / AASM rules, on an EMG envelope.

Frames arrive at a fixed hop (0.1 s in crampwatch, i.e. a 10 Hz frame rate) carrying the
EMG envelope *above the resting level* in µV (the signal pipeline tracks the resting
level). The rules (Ferri et al., Sleep Med 2016, WASM standards; AASM manual 2.6):

- onset: the first frame with EMG ≥ 8 µV above the resting EMG — or the frame before
  it when that one is already above the 2-µV offset level: a frame's RMS averages the
  movement's first fraction of a frame with the rest before it, so the frame in which
  the EMG reaches 8 µV often reads less (without this a 0.5-s movement measures 0.4 s);
- offset: the start of a period of ≥ 0.5 s during which EMG stays ≤ 2 µV above rest;
- a *candidate* leg movement (CLM) lasts 0.5–10 s (monolateral) or 0.5–15 s
  (bilateral); shorter bursts are not movements, longer ones are not CLMs but still
  interrupt a periodic series;
- a periodic series (PLM) is ≥ 4 consecutive CLMs whose onset-to-onset interval is
  10–90 s; a CLM preceded by an interval < 10 s, an interval > 90 s or a non-CLM LM
  ends the series (WASM 2016 dropped the older 5-s lower bound of the AASM).

Recordings whose EMG units are unknown or uncalibrated (device counts, a nominal scale)
use the rule *relative to the running resting level*: the envelope above rest is
expressed in units of the resting level and scaled to a nominal resting EMG of
:data:`REST_REF_UV` (2 µV RMS, a typical well-prepared leg EMG at rest), so the same
8 / 2 thresholds mean "onset at 5 × the resting level, offset at ≤ 2 × rest for 0.5 s"
(:func:`rest_relative_above`). A gain change of the amplifier changes nothing.

Both scorers are streaming state machines (one ``push`` per chunk of frames) so the
live service and the offline replay run the same code; :func:`score_leg_movements`
and :func:`periodic_flags` are whole-array wrappers around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from crampwatch.detect.timing import FRAME_S

__all__ = [
    "CLM_MAX_BILATERAL_S",
    "CLM_MAX_S",
    "LM_MIN_S",
    "OFFSET_QUIET_S",
    "OFFSET_UV",
    "ONSET_UV",
    "PLM_MAX_INTERVAL_S",
    "PLM_MIN_COUNT",
    "PLM_MIN_INTERVAL_S",
    "REST_REF_UV",
    "LegMovement",
    "LegMovementScorer",
    "PeriodicityTracker",
    "periodic_flags",
    "plm_index",
    "rest_relative_above",
    "score_leg_movements",
]

ONSET_UV = 8.0  # WASM/AASM: onset at 8 µV above resting EMG
OFFSET_UV = 2.0  # offset: EMG no more than 2 µV above rest ...
OFFSET_QUIET_S = 0.5  # ... for at least 0.5 s
LM_MIN_S = 0.5
CLM_MAX_S = 10.0  # monolateral candidate LM
CLM_MAX_BILATERAL_S = 15.0  # bilateral candidate LM (WASM 2016)
PLM_MIN_COUNT = 4
PLM_MIN_INTERVAL_S = 10.0  # WASM 2016 onset-to-onset interval 10-90 s
PLM_MAX_INTERVAL_S = 90.0
# Nominal resting leg EMG (µV RMS) for the rest-relative rule: 8 µV above a 2-µV rest is
# 5 × rest, 2 µV above it 2 × rest (the "active" level used throughout crampwatch).
REST_REF_UV = 2.0


def rest_relative_above(env: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Envelope above rest in "nominal µV": ``(env / rest - 1) · REST_REF_UV``.

    Unit-free (any gain cancels); feed it to :class:`LegMovementScorer` with the usual
    8 / 2 µV thresholds for the rest-relative WASM rule. NaN where ``rest`` is unknown.
    """
    env = np.asarray(env, dtype=np.float64)
    rest = np.asarray(rest, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (env / rest - 1.0) * REST_REF_UV
    return np.where(rest > 0, out, np.nan)


@dataclass(frozen=True)
class LegMovement:
    """One scored leg movement.

    Attributes
    ----------
    onset_s, end_s:
        Recording seconds of onset and offset (offset = start of the quiet period).
    decided_at_s:
        Recording time of the last frame the scoring depended on (end of the 0.5-s
        quiet period), s.
    peak_uv, mean_uv:
        Peak and mean envelope above rest during the movement, µV.
    candidate:
        True for a CLM (duration within the WASM limits).
    periodic:
        Member of a periodic series; ``None`` until decided.
    """

    onset_s: float
    end_s: float
    decided_at_s: float
    peak_uv: float
    mean_uv: float
    candidate: bool
    periodic: bool | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.onset_s


class LegMovementScorer:
    """Streaming WASM leg-movement scorer on envelope-above-rest frames.

    Parameters
    ----------
    frame_s:
        Frame hop in s (0.1 s at the crampwatch 10 Hz frame rate). A frame value covers
        the interval ``(t - frame_s, t]`` where ``t`` is the frame's time stamp.
    bilateral:
        Use the 15-s bilateral CLM limit instead of 10 s.
    onset_uv, offset_uv:
        Thresholds above rest, µV (defaults: WASM 8 and 2 µV).
    """

    def __init__(
        self,
        frame_s: float = FRAME_S,
        *,
        bilateral: bool = False,
        onset_uv: float = ONSET_UV,
        offset_uv: float = OFFSET_UV,
    ) -> None:
        self.frame_s = float(frame_s)
        self.max_s = CLM_MAX_BILATERAL_S if bilateral else CLM_MAX_S
        self.onset_uv = float(onset_uv)
        self.offset_uv = float(offset_uv)
        # frames of quiet needed; round() so 0.5 s at 0.1 s hop is exactly 5 frames
        self._quiet_needed = max(1, round(OFFSET_QUIET_S / self.frame_s))
        self._active = False
        self._onset_s = 0.0
        self._quiet = 0
        self._quiet_start_s = 0.0
        self._peak = 0.0
        self._sum = 0.0
        self._count = 0
        # a movement begun where no other sensor saw it: its EMG must hold the onset
        # level for the shortest movement in a row (frames so far in the current run,
        # and the longest run)
        self._burst_frames = max(1, round(LM_MIN_S / self.frame_s))
        self._emg_only = False
        self._run = 0
        self._longest_run = 0
        self._rearm = False
        # the last frame of the previous push was above the offset level where a
        # movement may start (an onset in the next push may have begun inside it)
        self._prev_onset_frame = False

    @property
    def active(self) -> bool:
        """True while a movement is in progress (onset seen, offset not yet)."""
        return self._active

    @property
    def onset_s(self) -> float | None:
        """Onset of the movement in progress, s (None when idle)."""
        return self._onset_s if self._active else None

    def reset(self) -> None:
        """Abandon a movement in progress (e.g. on a gap: its offset is unknowable)."""
        self._active = False
        self._quiet = 0
        # the EMG must come back near rest before a new onset: a movement already under
        # way when the signal returns has no known onset
        self._rearm = True

    def push(
        self,
        t_s: np.ndarray,
        above_rest_uv: np.ndarray,
        valid: np.ndarray | None = None,
        onset_ok: np.ndarray | None = None,
        active: np.ndarray | None = None,
        burst_needed: np.ndarray | None = None,
    ) -> list[LegMovement]:
        """Feed frames; return the movements whose offset was confirmed in them.

        ``t_s`` are frame end times (s), ``above_rest_uv`` the envelope above rest (µV),
        ``valid`` a boolean mask (False = gap or unusable signal: the movement in
        progress is abandoned). Two optional boolean masks widen the rules for a
        movement seen by another sensor as well (default: neither): ``onset_ok``, the
        frames where a movement may begin, and ``active``, frames that keep a movement
        going whatever the EMG (its offset is then the start of 0.5 s with neither).
        Movements shorter than 0.5 s are dropped. ``burst_needed`` (default: none) marks
        frames where the other sensor saw nothing: a movement that begins there, and
        that the other sensor does not see later either, counts only if its EMG stays
        at ≥ ``ONSET_UV`` (8 µV) above rest for 0.5 s in a row somewhere in it (WASM's
        onset level for its shortest movement). A QRS spike or an electrode pop lifts
        one or two 0.1-s frames, a muscle's burst more.
        """
        t_s = np.asarray(t_s, dtype=np.float64)
        x = np.asarray(above_rest_uv, dtype=np.float64)
        ok = np.ones(x.shape, bool) if valid is None else np.asarray(valid, bool)
        ok = ok & np.isfinite(x)
        may_start = ok if onset_ok is None else ok & np.asarray(onset_ok, bool)
        busy = np.zeros(x.shape, bool) if active is None else np.asarray(active, bool)
        unseen = np.zeros(x.shape, bool) if burst_needed is None else np.asarray(burst_needed, bool)
        out: list[LegMovement] = []
        i, n = 0, x.shape[0]
        before = self._prev_onset_frame
        if n:
            self._prev_onset_frame = bool(x[-1] > self.offset_uv and may_start[-1])
        while i < n:
            if not self._active and self._rearm:
                calm = np.flatnonzero((x[i:] <= self.offset_uv) & ok[i:] & ~busy[i:])
                if calm.size == 0:
                    return out
                i += int(calm[0])
                self._rearm = False
                continue
            if not self._active:
                # fast path: jump to the next onset candidate
                hits = np.flatnonzero((x[i:] >= self.onset_uv) & may_start[i:])
                if hits.size == 0:
                    return out
                i += int(hits[0])
                partial = before if i == 0 else x[i - 1] > self.offset_uv and may_start[i - 1]
                self._start(t_s[i], x[i], bool(partial), bool(unseen[i]))
                i += 1
                continue
            if not ok[i]:
                self.reset()
                i += 1
                continue
            v = x[i]
            # seen by the other sensor after all: no burst needed
            self._emg_only = self._emg_only and bool(unseen[i])
            if v <= self.offset_uv and not busy[i]:
                self._run = 0
                if self._quiet == 0:
                    self._quiet_start_s = t_s[i] - self.frame_s
                self._quiet += 1
                if self._quiet >= self._quiet_needed:
                    lm = self._finish(t_s[i])
                    if lm is not None:
                        out.append(lm)
            else:
                self._quiet = 0
                self._run = self._run + 1 if v >= ONSET_UV else 0
                self._longest_run = max(self._longest_run, self._run)
                self._peak = max(self._peak, v)
                self._sum += v
                self._count += 1
            i += 1
        return out

    def _start(self, t: float, v: float, began_in_frame_before: bool, emg_only: bool) -> None:
        self._active = True
        self._onset_s = float(t) - self.frame_s * (2 if began_in_frame_before else 1)
        self._emg_only = emg_only
        self._run = self._longest_run = 1 if v >= ONSET_UV else 0
        self._quiet = 0
        self._peak = float(v)
        self._sum = float(v)
        self._count = 1

    def _finish(self, t_decided: float) -> LegMovement | None:
        self._active = False
        self._quiet = 0
        dur = self._quiet_start_s - self._onset_s
        if dur < LM_MIN_S - 1e-9:
            return None
        if self._emg_only and self._longest_run < self._burst_frames:
            return None
        return LegMovement(
            onset_s=round(float(self._onset_s), 6),
            end_s=round(float(self._quiet_start_s), 6),
            decided_at_s=float(t_decided),
            peak_uv=float(self._peak),
            mean_uv=float(self._sum / max(self._count, 1)),
            candidate=bool(dur <= self.max_s + 1e-9),
        )


class PeriodicityTracker:
    """Streaming WASM 2016 periodicity: decides ``periodic`` for each scored movement.

    Feed movements in onset order with :meth:`add` and advance time with :meth:`advance`;
    each returns the movements whose ``periodic`` flag became final (a CLM waits until
    its run reaches 4 members or is broken). Non-candidate movements end the run and
    are returned with ``periodic=False``. ``decided_at_s`` of a returned movement is the
    time at which its flag became known.
    """

    def __init__(self) -> None:
        self._run: list[LegMovement] = []
        self._emitted = 0  # members of the current run already returned

    @property
    def last_onset_s(self) -> float | None:
        """Onset of the last movement of the open run (None when no run is open)."""
        return self._run[-1].onset_s if self._run else None

    def add(self, lm: LegMovement, now_s: float | None = None) -> list[LegMovement]:
        """Add one movement (decided at ``now_s``, default its own ``decided_at_s``)."""
        now = lm.decided_at_s if now_s is None else float(now_s)
        out: list[LegMovement] = []
        if not lm.candidate:
            out += self._close(now)
            out.append(replace(lm, periodic=False, decided_at_s=now))
            return out
        if self._run:
            imi = lm.onset_s - self._run[-1].onset_s
            if not (PLM_MIN_INTERVAL_S <= imi <= PLM_MAX_INTERVAL_S):
                out += self._close(now)
        self._run.append(lm)
        if len(self._run) >= PLM_MIN_COUNT:
            out += [replace(m, periodic=True, decided_at_s=now) for m in self._run[self._emitted :]]
            self._emitted = len(self._run)
        return out

    def advance(self, now_s: float) -> list[LegMovement]:
        """Close the run once no further CLM can extend it (> 90 s since the last onset)."""
        if self._run and now_s - self._run[-1].onset_s > PLM_MAX_INTERVAL_S:
            return self._close(now_s)
        return []

    def flush(self, now_s: float) -> list[LegMovement]:
        """End of recording: decide every pending movement."""
        return self._close(now_s)

    def _close(self, now: float) -> list[LegMovement]:
        periodic = len(self._run) >= PLM_MIN_COUNT
        out = [replace(m, periodic=periodic, decided_at_s=now) for m in self._run[self._emitted :]]
        self._run = []
        self._emitted = 0
        return out


def score_leg_movements(
    above_rest_uv: np.ndarray,
    frame_s: float = FRAME_S,
    *,
    t0_s: float = 0.0,
    bilateral: bool = False,
) -> list[LegMovement]:
    """Score leg movements on a whole envelope-above-rest array (µV, one value per frame).

    Frame ``i`` covers ``(t0_s + i*frame_s, t0_s + (i+1)*frame_s]``. Returns every
    movement ≥ 0.5 s (``candidate`` tells whether it is a CLM); ``periodic`` unset.
    """
    x = np.asarray(above_rest_uv, dtype=np.float64)
    t = t0_s + frame_s * np.arange(1, x.shape[0] + 1)
    return LegMovementScorer(frame_s, bilateral=bilateral).push(t, x)


def periodic_flags(movements: Sequence[LegMovement]) -> list[bool]:
    """WASM 2016 periodic flag of each movement (same order as given, sorted by onset)."""
    tracker = PeriodicityTracker()
    decided: list[LegMovement] = []
    for lm in movements:
        decided += tracker.add(lm)
    decided += tracker.flush(float("inf"))
    flag = {(m.onset_s, m.end_s): bool(m.periodic) for m in decided}
    return [flag[(m.onset_s, m.end_s)] for m in movements]


def plm_index(n_periodic: int, hours: float) -> float:
    """Periodic-limb-movement index: periodic movements per hour of recording."""
    return n_periodic / hours if hours > 0 else 0.0
