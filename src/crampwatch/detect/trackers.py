"""Event state machines on 0.1-s feature frames: cramp alarm, position change, signal issue.

Each tracker is a small streaming object: ``push(...)`` takes the next frames (arrays
aligned on frame end times ``t_s``, seconds of recording time) and returns
:class:`Span` changes — an onset (``end_s is None``) or the end of a span it opened
before (the cramp and signal-issue trackers wrap them in a :class:`TrackerStep` with
the frames where a span was open). Nothing here knows about devices, ids or JSON;
:mod:`crampwatch.detect.frame_detector` turns spans into
:class:`~crampwatch.events.Event` objects.

The per-frame loops only run where something happens; idle stretches are skipped with
numpy, which keeps an 8-h night (288,000 frames) cheap.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from crampwatch.detect.timing import FRAME_S

# a causal 1-s moving envelope crosses half of a step half a second after it
_ENVELOPE_HALF_S = 0.5
# the foot of a jump: the envelope within this much of the lowest level before the jump
# (1-s envelopes of resting EMG or of a tone wander by some tens of per cent)
_FOOT_RATIO = 1.5
# a rotation of the shank's gravity vector by this much is a position change (turning
# over rotates the shin by tens of degrees; a leg twitch does not)
_POSITION_CHANGE_DEG = 30.0

__all__ = [
    "CrampInputs",
    "CrampParams",
    "CrampTracker",
    "CrampWarningTracker",
    "PositionParams",
    "PositionTracker",
    "SignalIssueTracker",
    "Span",
    "TrackerStep",
]


@dataclass(frozen=True)
class Span:
    """An onset (``end_s`` None) or the end of a span opened earlier (same ``onset_s``).

    ``decided_at_s`` is the frame end time (s) of the frame that made the decision.
    """

    kind: str
    onset_s: float
    end_s: float | None
    decided_at_s: float
    confidence: float = 1.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackerStep:
    """What a tracker decided on a block of frames: its span changes, and per frame
    whether one of its spans was open after that frame."""

    spans: list[Span]
    open_mask: np.ndarray


# ----------------------------------------------------------------------------- cramp


@dataclass(frozen=True)
class CrampParams:
    """Cramp alarm rule (all times in s, frames of 0.1 s).

    The alarm escalates on evidence; it fires on whichever of five paths completes
    first:

    - **confident**: the classifier's cramp probability stays ≥ ``p_on`` for
      ``k_frames`` consecutive frames;
    - **sustained**: the calf has been tonically active — every frame's envelope
      ≥ ``active_rel`` × rest, i.e. the contraction never relaxed — for ``sustain_s``
      s, and over the last ``share_window_s`` s the classifier's cramp share among the
      *active* classes (cramp / (cramp + leg movement + movement + artefact)) averaged
      ≥ ``share_on`` (frames where the classifier gives the active classes less than
      ``min_active_p`` count as that much): the model does not take the contraction for
      a leg movement, a voluntary movement or an artefact, even when it is not yet sure
      it is a cramp (weak, partial cramps). With a tibialis channel this path also needs the calf
      ``sustain_calf_tib_ratio`` times as far above its rest as the tibialis: a calf
      cramp is a calf contraction, a leg movement is tibialis-driven;
    - **persistent** (late): the calf firm (1-s envelope ≥ ``min_rel1s`` × rest) on
      every frame for ``persist_s`` s, lying down, with a mean cramp share over it
      ≥ ``persist_share`` — whatever its force or how it rose (see
      :meth:`CrampTracker._persistent`); it needs the guards below on its frame but not
      the force test, and the shin's axis known (standing cannot be told from lying
      before). The stretch is followed on the 1-s envelope alone (a weak cramp's short
      envelope flickers below ``active_rel`` now and then), and a stretch that has
      raised an alarm on any path cannot raise another;
    - **steep partial**: a partial contraction that jumped out of a calf at rest — the
      1-s median of the 0.1-s envelope ≥ ``steep_rel`` × rest and ≥
      ``steep_jump_ratio`` × its value ``steep_rise_s`` s before — and has held the
      level it jumped to, steady, for ``steep_hold_s`` s, with a mean cramp share over
      that hold ≥ ``steep_share`` (:meth:`CrampTracker._steep_partial`); the guards of
      the sustained path on ``k_frames`` frames in a row, not the force test. A tone
      rise creeps up over ≥ 5 s; a cramp jumps (Norris 1957), often to well below cramp
      force;
    - **stood up** (no tibialis): the calf-only wait cut short by the sleeper standing
      up — the contraction met everything the confident path asks but the wait, and the
      shin comes upright while the calf still holds cramp force
      (:meth:`CrampTracker._stood_up`).

    The first two paths (and the steep one) need the rule guards on each frame:

    - calf EMG sustained above its resting level (1-s envelope ≥ ``min_rel1s`` × rest):
      a cramp is a sustained involuntary contraction of the calf, not a twitch;
    - calf signal usable: no gap, flat line, clipping or dominant hum for the last
      ``clean_s`` s, and no transient glitch (electrode pop, a QRS mistaken for one) in
      the last ``glitch_clean_s`` s — the span of the 1-s envelope it would inflate. A
      channel with bad signal cannot raise an alarm;
    - the shank still: motion over the last second < ``max_motion_g`` and within
      ``still_ratio`` × its own resting level + ``still_margin_g`` (leg movements,
      stretches and turning move the shank; a cramping leg is held stiff); over the first
      ``onset_window_s`` of the calf's rise < ``max_onset_motion_g`` and still by the
      test above (unless its motion is unknown): turning over, stretching and walking
      move the shin while the calf works (voluntary movement), a cramp starts as an
      involuntary contraction of a leg at rest;
    - with a tibialis channel, the calf at least ``min_calf_tib_ratio`` times as far
      above its rest as the tibialis anterior (1-s envelopes), on every frame and over
      the first ``onset_window_s`` of its rise once the calf is ≥ ``min_rel1s`` × rest
      (a leg movement or a stretch works both muscles as the calf starts, and the
      tibialis may relax first; the ratio of two resting levels is noise);
    - without one (or on frames where its ratio is NaN: a lost tibialis electrode), the
      calf continuously active for ``calf_only_min_active_s`` s before evidence counts,
      counted from the start of its jump to force once it has jumped (a leg movement at
      the end of a tone rise gets no credit for the tone's seconds), with the shank
      still: its mean motion power over the contraction so far (at most
      the last ``still_window_s`` s) within ``still_excess_g``² of the motion floor (g²,
      three axes). Leg movements are tibialis-driven, and with the tibialis unseen a leg
      movement that also fires the calf looks like a cramp's first seconds (same
      spectrum). What tells it apart is its brevity — a leg movement lasts at most 10 s
      (WASM 2016), a cramp minutes, so the wait outlasts the longest one — and the
      shank's motion: too small to show in one second of a noisy accelerometer, it shows
      in the power averaged over seconds;
    - and the shin not upright (:class:`crampwatch.detect.upright.UprightDetector`):
      standing or sitting up, the sleeper is awake, and quiet standing keeps the calf
      working in a way that looks like a cramp. The tibialis does not tell: in quiet
      standing it is rarely active in young adults and often in older ones (dos Anjos
      FV et al., Front Hum Neurosci 2017;11:190), so a standing calf may well dominate
      it.

    No path but the stood-up one alarms on a contraction during which the shin has
    turned by ``turned_deg`` from the posture the calf last relaxed in (standing up,
    turning over): a cramping leg is held stiff (:meth:`CrampTracker._track_posture`).

    And on the first two paths, whatever the classifier says, the contraction must have
    **reached cramp force and held it** (:meth:`CrampTracker._force`), judged against
    the night's own resting level and the contraction's own trajectory, never in µV: a
    cramp is a sustained involuntary contraction far above resting tone, while calf
    tone that creeps up to a few times rest and fluctuates (an arousal, an aborted
    cramp) resolves by itself:

    - *strong*: the 1-s envelope ≥ ``cramp_rel`` × rest on every frame of the last
      ``hold_s`` s; or *weak*: ≥ ``weak_rel`` × rest for ``weak_hold_s`` s and steady
      (the window's lowest 1-s envelope ≥ ``steady_ratio`` × its highest): a partial
      cramp that holds, not a fluctuating tone — on the confident path only (below
      cramp force, the classifier must be sure); a partial contraction that *jumped*
      there — the 1-s envelope ≥ ``weak_rel`` × rest for ``quick_rise_s`` s (not a
      twitch burst) and ≥ ``quick_jump_ratio`` × its level ``quick_rise_s`` s before
      that, never below ``weak_rel`` since — needs that steady hold for
      ``quick_hold_s`` s only: a tone rise creeps up over ≥ 5 s, a cramp jumps out of
      a calf at rest within a second or two;
    - reached within seconds: that held level ≥ ``jump_ratio`` (partial:
      ``weak_jump_ratio``) × the 1-s envelope ``rise_allow_s`` s before the hold
      began (a slow creep is a tone rise; a cramp's contraction jumps above whatever
      tone preceded it); once reached, this holds for the rest of the calf's active run;
    - dense: on the frame, the 1-s median of the 0.1-s envelope ≥ ``dense_ratio`` ×
      the 1-s envelope (a contraction's envelope stays up through the second; sparse
      fasciculations and twitches on a tone rise lift the 1-s envelope on a few
      spikes);
    - and the calf channel without building electrode trouble (growing hum) for
      ``trouble_clean_s`` s.

    The cramp ends at the start of ``end_quiet_s`` s with either the calf back near rest
    (1-s envelope < ``end_rel`` × rest) or the cramp share (the cramp probability when
    no class shares are given) < ``p_off``.
    """

    p_on: float = 0.6
    k_frames: int = 5
    p_off: float = 0.3
    min_rel1s: float = 3.0
    clean_s: float = 2.0
    glitch_clean_s: float = 1.0
    max_motion_g: float = 0.35
    max_onset_motion_g: float = 0.1
    dense_ratio: float = 0.5  # dense contraction: 1-s median ≥ this × 1-s envelope
    still_ratio: float = 1.3
    still_margin_g: float = 0.008
    min_active_p: float = 0.1
    min_calf_tib_ratio: float = 1.0
    # a leg movement lasts 0.5–10 s (WASM 2016) and can keep the calf co-active all
    # along; a cramp lasts minutes: without the tibialis, wait past the longest one
    calf_only_min_active_s: float = 10.5
    still_excess_g: float = 0.015
    still_window_s: float = 6.0
    sustain_s: float = 2.0
    share_on: float = 0.5
    share_window_s: float = 1.0
    sustain_calf_tib_ratio: float = 2.0
    onset_window_s: float = 1.5
    active_rel: float = 2.0  # calf "active" (the run an alarm is about): envelope ≥ 2 × rest
    end_rel: float = 2.0
    end_quiet_s: float = 2.0
    refractory_s: float = 10.0
    cramp_rel: float = 8.0
    hold_s: float = 1.5
    weak_hold_s: float = 12.0
    # a partial cramp's level: above resolving tone rises (1.3–5 × nominal rest, which
    # the running low-quantile rest reads as up to ~9 ×); weaker ones need persist_s
    weak_rel: float = 6.0
    steady_ratio: float = 0.5
    jump_ratio: float = 2.0
    weak_jump_ratio: float = 3.0
    rise_allow_s: float = 6.0
    # a partial cramp that jumped from rest: 4× within 2 s is steeper than a tone rise
    # (≥ 5 s to ≤ 5-6 ×, i.e. ≤ ~2× in any 2 s), so a short hold suffices
    quick_hold_s: float = 4.0
    quick_jump_ratio: float = 4.0
    quick_rise_s: float = 2.0
    # a weak cramp that jumps out of a relaxed calf: the 1-s median of the 0.1-s envelope
    # (twitch bursts, shorter than half a second, do not move it) ≥ steep_rel × rest and
    # ≥ steep_jump_ratio × its value steep_rise_s before; a tone rise creeps up over
    # ≥ 5 s: even the steepest (a logistic over 5 s) reads ~2.5–3.5 × in 1.5 s
    steep_rel: float = 3.0
    steep_jump_ratio: float = 4.0
    steep_rise_s: float = 1.5
    steep_hold_s: float = 4.0
    steep_share: float = 0.5
    trouble_clean_s: float = 10.0
    # a contraction still firm after this long is a cramp whatever its force: a tone
    # rise resolves within about two minutes (rise, hold ≤ 1 min, fade), a cramp lasts
    # minutes (see the persistent path)
    persist_s: float = 120.0
    persist_share: float = 0.3
    # a contraction during which the shin changes position (standing up, turning over)
    # is not a cramp in a leg held stiff
    turned_deg: float = _POSITION_CHANGE_DEG
    # cramp_warning ("calf tightening"): the calf's 1-s envelope ≥ warn_rel × rest for
    # warn_s s on a still, clean, calf-dominated leg; ends when the median of the 0.1-s
    # envelope over the last warn_end_s s is below warn_end_rel × rest, or when a cramp
    # alarm starts; at most one per tightening
    warn_rel: float = 3.0
    warn_s: float = 4.0
    warn_end_rel: float = 1.5
    warn_end_s: float = 5.0
    warn_refractory_s: float = 30.0
    warn_max_motion_g: float = 0.1  # "still" for a warning also means 1-s motion below this
    frame_s: float = FRAME_S

    def shank_still(self, motion1s_g: np.ndarray, motion_rest_g: np.ndarray) -> np.ndarray:
        """Frames whose 1-s shank motion (g) is within ``still_ratio`` × its resting
        level (g) + ``still_margin_g``: still, whatever the accelerometer's noise (a NaN
        resting level passes)."""
        limit = np.asarray(motion_rest_g, float) * self.still_ratio + self.still_margin_g
        with np.errstate(invalid="ignore"):
            return ~(np.asarray(motion1s_g, float) > limit)


@dataclass(frozen=True)
class CrampInputs:
    """One block of frames for :meth:`CrampTracker.push`: arrays aligned on ``t_s``
    (frame end times, s), every one required.

    ``p_cramp``: the classifier's cramp probability; ``p_active``: its probability of
    any class but rest (the sustained path and the end rule use the cramp share
    ``p_cramp / max(p_active, min_active_p)``). ``calf_rel`` / ``calf_rel1s``: the
    calf's 0.1-s / 1-s envelope × its resting level. ``calf_tib_ratio``: calf over
    tibialis, each × its rest (1-s envelopes); NaN without tibialis evidence (no
    channel, or a lost electrode). ``calf_bad``: frames with a broken calf signal (gap,
    flat, clipped, hum); ``calf_glitch``: transient glitches (pops); ``calf_trouble``:
    electrode trouble building up (growing hum). ``motion1s_g``: the shank's 1-s motion
    (g); ``motion_rest_g``: its resting level (g; NaN: only ``max_motion_g`` applies).
    ``motion_power_g2``: the shank motion power of each frame (0.1-s mean square, g²,
    NaN: unknown) and ``motion_floor_g2`` its recent floor (g², NaN: unknown).
    ``motion_known``: False where the shank motion says nothing about the leg (the
    accelerometer's filters settling after a gap). ``upright``: the shin upright
    (standing, sitting up: the sleeper is awake); ``upright_known``: the shin's axis is
    known, so a frame not upright is lying. ``gravity_g``: the shank's gravity vector
    (frames × 3 axes, g; NaN: unknown).
    """

    t_s: np.ndarray
    p_cramp: np.ndarray
    p_active: np.ndarray
    calf_rel: np.ndarray
    calf_rel1s: np.ndarray
    calf_tib_ratio: np.ndarray
    calf_bad: np.ndarray
    calf_glitch: np.ndarray
    calf_trouble: np.ndarray
    motion1s_g: np.ndarray
    motion_rest_g: np.ndarray
    motion_power_g2: np.ndarray
    motion_floor_g2: np.ndarray
    motion_known: np.ndarray
    upright: np.ndarray
    upright_known: np.ndarray
    gravity_g: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def __getitem__(self, rows: slice) -> CrampInputs:
        """The same inputs for a slice of the frames."""
        return CrampInputs(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


@dataclass(frozen=True)
class _FrameTests:
    """What :meth:`CrampTracker.push` computes for a whole block before its frame loop."""

    rel1: np.ndarray  # 1-s envelope × rest (NaN: 0)
    prob: np.ndarray  # cramp probability (NaN: 0)
    mot: np.ndarray  # 1-s shank motion, g (NaN: inf)
    bad: np.ndarray
    glitch: np.ndarray
    trouble: np.ndarray
    active: np.ndarray  # calf envelope ≥ active_rel × rest
    strong: np.ndarray  # holding cramp force (see CrampTracker._force)
    weak: np.ndarray  # holding a steady partial contraction
    jumped: np.ndarray  # either reached within seconds
    quick_jump: np.ndarray  # a jump into the partial level within quick_rise_s
    quick_held: np.ndarray  # holding a steady partial contraction for quick_hold_s
    med1: np.ndarray  # 1-s median of the 0.1-s envelope × rest
    steep_jump: np.ndarray  # a steep jump of that median (see CrampTracker._steep)
    power: np.ndarray  # shank motion power, g²
    floor: np.ndarray  # its floor, g²
    tib_seen: np.ndarray  # the tibialis gives evidence (finite ratio)
    onset_ok: np.ndarray  # may lie in a run's onset: shank still, calf dominant
    upright: np.ndarray  # the shin upright (standing, sitting up)
    lying_known: np.ndarray  # the shin's axis known and the shin not upright
    gravity: np.ndarray  # the shank's gravity vector, g (frames × 3; NaN: unknown)
    guard: np.ndarray  # frames where the rule guards hold
    cand: np.ndarray  # confident frames with the guards holding
    sustained_ok: np.ndarray  # the sustained path's guards hold
    share: np.ndarray  # cramp share among the active classes
    keep: np.ndarray  # what keeps a cramp going (≥ p_off)


class CrampTracker:
    """Streaming cramp alarm: emits an onset span, later its end (see :class:`CrampParams`)."""

    def __init__(self, params: CrampParams | None = None) -> None:
        self.p = params or CrampParams()
        fr = self.p.frame_s
        self._clean_needed = round(self.p.clean_s / fr)
        self._glitch_needed = round(self.p.glitch_clean_s / fr)
        self._end_needed = max(1, round(self.p.end_quiet_s / fr))
        self._share_needed = max(1, round(self.p.share_window_s / fr))
        self._since_bad = 0  # frames since the calf channel was last bad / gap
        self._since_glitch = 0  # frames since the last transient glitch (pop)
        self._active_start: float | None = None  # start of the current calf-active run
        # the current active run already raised an alarm: one alarm per contraction (a
        # cramp that ends while the calf stays active, e.g. standing up on the leg, must
        # not re-alarm until the calf has relaxed)
        self._run_alarmed = False
        self._onset_clean = False  # the run's onset: shank still, calf dominant
        # shank motion power (g², NaN: unknown) of the current active run's last frames
        self._still_frames = max(1, round(self.p.still_window_s / fr))
        self._run_power: list[float] = []
        # (frame time, 1-s envelope × rest) of the current active run's last frames: the
        # cramp's onset is where its jump to force began, not a prodrome's first creep
        self._run_rel: deque[tuple[float, float]] = deque(maxlen=self._frames(60.0))
        self._streak = 0
        self._streak_p: list[float] = []
        self._shares: list[float] = []  # cramp share, last frames of the sustained path
        self._cramp_onset: float | None = None
        self._quiet = 0
        self._quiet_start = 0.0
        self._last_end = -np.inf
        # 1-s envelopes (× rest) of the last frames, for the force test's windows
        fr_n = self._frames
        self._hist_needed = fr_n(self.p.weak_hold_s) + fr_n(self.p.rise_allow_s) + 1
        self._rel_hist = np.zeros(0)
        self._run_jumped = False  # the current active run reached force within seconds
        self._run_quick = False  # ... and it jumped into the partial level within seconds
        # the steep path: 0.1-s envelopes (inf before the first: no jump from there) and
        # 1-s medians (NaN: none yet) of the last frames, when the current run jumped
        # steeply, its cramp shares since, and the frames in a row its guards have held
        self._med_window = fr_n(1.0)
        self._env_hist = np.full(self._med_window - 1, np.inf)
        self._med_hist = np.full(fr_n(self.p.steep_rise_s), np.nan)
        self._steep_since: float | None = None
        self._steep_range = (np.inf, 0.0)  # lowest, highest 1-s median since the jump
        self._steep_shares: list[float] = []
        self._steep_streak = 0
        self._jump_at: float | None = None  # where that jump began (s): the wait's start
        # start of the current run's firm stretch (1-s envelope ≥ min_rel1s × rest on
        # every frame) and the cramp shares summed over it: the persistent path
        self._firm_since: float | None = None
        self._firm_share = 0.0
        self._firm_frames = 0
        # an alarm was raised during the current firm stretch: one alarm per firm
        # contraction, even when its short envelope flickers below active_rel
        self._firm_spent = False
        # the calf-only wait: confident frames at cramp force in a row, and whether the
        # current run has had k_frames of them (see _stood_up)
        self._wait_streak = 0
        self._wait_confident = False
        # the shank's gravity vector while the calf was last relaxed, and whether the
        # shin has turned by turned_deg since (see _track_posture)
        self._rest_gravity: np.ndarray | None = None
        self._turned = False
        self._trouble_needed = fr_n(self.p.trouble_clean_s)
        self._since_trouble = 10**9

    def _frames(self, seconds: float) -> int:
        return max(1, round(seconds / self.p.frame_s))

    def _force(self, rel1: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per frame: (holding cramp force now, holding a steady partial contraction
        now, either reached within seconds, a quick jump into the partial level, holding
        it steady for ``quick_hold_s``) — see :class:`CrampParams`. Windows reach into
        the frames of earlier pushes, so the result does not depend on the block size."""
        p = self.p
        ext = np.concatenate([self._rel_hist, rel1])
        n = rel1.shape[0]
        k = np.arange(ext.shape[0] - n, ext.shape[0])
        h, w, g = self._frames(p.hold_s), self._frames(p.weak_hold_s), self._frames(p.rise_allow_s)
        pad = np.full(max(h, w) - 1, np.inf)
        x = np.concatenate([pad, ext])

        def lowest(frames: int) -> np.ndarray:
            """The lowest 1-s envelope over the last ``frames`` frames."""
            return sliding_window_view(x, frames)[-n:].min(axis=1)

        def steady_partial(frames: int) -> tuple[np.ndarray, np.ndarray]:
            """Holding ≥ weak_rel and steady over the last ``frames``; their lowest."""
            wins = sliding_window_view(x, frames)[-n:]
            lo, hi = wins.min(axis=1), wins.max(axis=1)
            with np.errstate(invalid="ignore"):
                return (lo >= p.weak_rel) & (lo >= p.steady_ratio * hi), lo

        def before(frames: int) -> np.ndarray:
            j = k - frames
            return np.where(j >= 0, ext[np.clip(j, 0, None)], 0.0)

        held = lowest(h)
        strong = held >= p.cramp_rel
        weak, wmin = steady_partial(w)
        jumped = (strong & (held >= p.jump_ratio * before(h + g))) | (
            weak & (wmin >= p.weak_jump_ratio * before(w + g))
        )
        quick_held, _ = steady_partial(min(self._frames(p.quick_hold_s), w))
        # jumped: ≥ weak_rel for the last quick_rise_s (not a twitch burst), and now
        # ≥ quick_jump_ratio × the level quick_rise_s before that
        qr = self._frames(p.quick_rise_s)
        quick_jump = (lowest(qr) >= p.weak_rel) & (ext[k] >= p.quick_jump_ratio * before(2 * qr))
        self._rel_hist = ext[-self._hist_needed :]
        return strong, weak, jumped, quick_jump, quick_held

    def _steep(self, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per frame: (the 1-s median of the 0.1-s envelope × rest, a steep jump to it:
        ≥ ``steep_rel`` and ≥ ``steep_jump_ratio`` × its value ``steep_rise_s`` before).
        A median ignores most of a twitch burst, which lasts at most half a second.
        Windows reach into the frames of earlier pushes."""
        p = self.p
        n = rel.shape[0]
        env = np.concatenate([self._env_hist, rel])
        self._env_hist = env[env.shape[0] - (self._med_window - 1) :]
        with np.errstate(invalid="ignore"):
            med = np.median(sliding_window_view(env, self._med_window), axis=1)
            ext = np.concatenate([self._med_hist, med])
            self._med_hist = ext[n:]
            before = ext[:n]  # the median steep_rise_s (the history's length) earlier
            jump = (med >= p.steep_rel) & (med >= p.steep_jump_ratio * before)
        return med, jump

    def push(self, x: CrampInputs) -> TrackerStep:
        """Feed a block of frames: the onsets and ends decided in it, and per frame
        whether a cramp was open."""
        f = self._frame_tests(x)
        n = len(x)
        in_cramp = np.zeros(n, bool)
        out: list[Span] = []
        i = 0
        while i < n:
            if self._cramp_onset is None and self._streak == 0 and not self._shares:
                i = self._skip_idle(f, i, n)
                if i >= n:
                    break
            t = float(x.t_s[i])
            self._count_clean(f, i)
            self._track_posture(f, i)
            self._track_run(f, i, t)
            span = self._try_alarm(f, i, t) if self._cramp_onset is None else self._try_end(f, i, t)
            if span is not None:
                out.append(span)
            in_cramp[i] = self._cramp_onset is not None
            i += 1
        return TrackerStep(out, in_cramp)

    def _frame_tests(self, x: CrampInputs) -> _FrameTests:
        """The per-frame tests of the rule (see :class:`CrampParams`), for a whole block."""
        p = self.p
        rel = np.nan_to_num(np.asarray(x.calf_rel, float), nan=0.0)
        rel1 = np.nan_to_num(np.asarray(x.calf_rel1s, float), nan=0.0)
        prob = np.nan_to_num(np.asarray(x.p_cramp, float), nan=0.0)
        mot = np.nan_to_num(np.asarray(x.motion1s_g, float), nan=np.inf)
        bad = np.asarray(x.calf_bad, bool)
        glitch = np.asarray(x.calf_glitch, bool)
        strong, weak, jumped, quick_jump, quick_held = self._force(rel1)
        med1, steep_jump = self._steep(rel)
        # a contraction is dense: its 0.1-s envelope stays up through the second, while
        # sparse twitches and fasciculations lift the 1-s envelope on a few spikes only
        with np.errstate(invalid="ignore"):
            dense = med1 >= p.dense_ratio * rel1
        strong &= dense
        weak &= dense
        quick_held &= dense
        # frames where the guards hold (either path may use them)
        guard = (rel1 >= p.min_rel1s) & (mot < p.max_motion_g) & ~bad & ~glitch
        guard &= p.shank_still(mot, x.motion_rest_g)
        sustained_ok = guard.copy()
        # frames where the tibialis gives evidence (a finite calf/tibialis ratio); a lost
        # tibialis electrode (NaN) counts as none: the calf-only wait applies
        ratio = np.asarray(x.calf_tib_ratio, float)
        tib_seen = np.isfinite(ratio)
        guard &= ~(ratio < p.min_calf_tib_ratio)  # NaN (no tibialis) passes
        sustained_ok &= ~(ratio < max(p.min_calf_tib_ratio, p.sustain_calf_tib_ratio))
        # a run's onset: the shank still (below max_onset_motion_g and by its own resting
        # level; unknown motion passes) and, once the calf is clearly active, the calf
        # dominant (a voluntary movement moves the shin and works both muscles as the
        # calf starts; a cramp starts in a leg at rest)
        onset_ok = (mot < p.max_onset_motion_g) & p.shank_still(mot, x.motion_rest_g)
        onset_ok |= ~np.asarray(x.motion_known, bool)
        onset_ok &= ~((ratio < p.min_calf_tib_ratio) & (rel1 >= p.min_rel1s))
        # standing or sitting up, the sleeper is awake, and quiet standing works the
        # calf; the tibialis may be silent then (see CrampParams): no alarm while upright
        upright = np.asarray(x.upright, bool)
        guard &= ~upright
        sustained_ok &= ~upright
        pa = np.nan_to_num(np.asarray(x.p_active, float), nan=0.0)
        share = prob / np.maximum(pa, p.min_active_p)
        return _FrameTests(
            rel1=rel1,
            prob=prob,
            mot=mot,
            bad=bad,
            glitch=glitch,
            trouble=np.asarray(x.calf_trouble, bool),
            active=rel >= p.active_rel,
            strong=strong,
            weak=weak,
            jumped=jumped,
            quick_jump=quick_jump,
            quick_held=quick_held,
            med1=med1,
            steep_jump=steep_jump,
            power=np.asarray(x.motion_power_g2, float),
            floor=np.asarray(x.motion_floor_g2, float),
            tib_seen=tib_seen,
            upright=upright,
            lying_known=np.asarray(x.upright_known, bool) & ~upright,
            gravity=np.asarray(x.gravity_g, float).reshape(len(x), 3),
            guard=guard,
            onset_ok=onset_ok,
            cand=guard & (prob >= p.p_on),
            sustained_ok=sustained_ok,
            share=share,
            # a cramp lasts while the classifier keeps preferring it among the active
            # classes (an alarm raised on sustained evidence is not ended by a cramp
            # probability that never was high)
            keep=share,
        )

    def _skip_idle(self, f: _FrameTests, i: int, n: int) -> int:
        """Nothing pending: the next frame from ``i`` that matters (``n`` if none), with
        the clean-signal counters advanced over the skipped frames. Every frame of a
        calf-active run is looked at (onset motion, streaks); quiet stretches are not."""
        interesting = (
            f.cand[i:]
            | f.bad[i:]
            | f.glitch[i:]
            | f.trouble[i:]
            | f.active[i:]
            | (f.rel1[i:] >= self.p.min_rel1s)
            | (self._active_start is not None)
            | (self._firm_since is not None)
        )
        if min(self._since_bad, self._since_glitch) < self._clean_needed:
            interesting = np.ones_like(interesting)
        hits = np.flatnonzero(interesting)
        skip = n - i if hits.size == 0 else int(hits[0])
        # the skipped frames are relaxed ones: the posture a contraction starts from
        g = f.gravity[i : i + skip]
        known = np.flatnonzero(np.isfinite(g).all(axis=1))
        if known.size:
            self._rest_gravity = g[known[-1]].copy()
        if skip:
            self._turned = False
            self._steep_streak = 0
        self._since_bad += skip
        self._since_glitch += skip
        self._since_trouble += skip
        return i + skip

    def _count_clean(self, f: _FrameTests, i: int) -> None:
        """Frames since the calf signal was last bad, glitched, in trouble."""
        self._since_bad = 0 if f.bad[i] else self._since_bad + 1
        self._since_glitch = 0 if f.glitch[i] else self._since_glitch + 1
        self._since_trouble = 0 if f.trouble[i] else self._since_trouble + 1

    def _track_posture(self, f: _FrameTests, i: int) -> None:
        """Whether the shin has turned by ``turned_deg`` since the calf was last relaxed
        (1-s envelope < ``min_rel1s`` × rest). A cramping leg is held stiff; a shin that
        turns while the calf works is a sleeper standing up or turning over: what the
        calf does then is posture or voluntary, and no alarm may come of it until the
        calf has relaxed (the firm stretch is spent)."""
        g = f.gravity[i]
        if f.rel1[i] < self.p.min_rel1s:
            if np.isfinite(g).all():
                self._rest_gravity = g.copy()
            self._turned = False
            return
        if self._turned or self._rest_gravity is None or not np.isfinite(g).all():
            return
        if _angle_deg(g, self._rest_gravity) >= self.p.turned_deg:
            self._turned = True
            self._firm_since, self._firm_spent = None, True

    def _track_run(self, f: _FrameTests, i: int, t: float) -> None:
        """Follow the calf's active run: its start, the shank's motion over its onset,
        its motion power, and whether it reached force within seconds."""
        p = self.p
        self._track_firm(f, i, t)
        if not f.active[i]:
            self._active_start = None
            self._run_alarmed = False
            self._run_jumped = False
            self._run_quick = False
            self._steep_since = None
            return
        if self._active_start is None:
            self._active_start = t - p.frame_s
            self._onset_clean = bool(f.onset_ok[i])
            self._run_power = []
            self._run_rel.clear()
            self._run_jumped = False
            self._run_quick = False
            self._wait_streak, self._wait_confident = 0, False
        elif t - self._active_start <= p.onset_window_s + 1e-9:
            self._onset_clean &= bool(f.onset_ok[i])
        self._run_rel.append((t, float(f.rel1[i])))
        self._run_power.append(float(f.power[i]))
        del self._run_power[: -self._still_frames]
        # a quick jump counts while the contraction stays at the partial level: a dip
        # below it ends that jump's hold (the 12-s hold still applies)
        self._run_quick |= bool(f.quick_jump[i])
        if f.rel1[i] < p.weak_rel:
            self._run_quick = False
        if f.jumped[i] and not self._run_jumped:
            self._run_jumped = True
            self._jump_at = self._jump_foot()
        self._track_steep(f, i, t)

    def _track_steep(self, f: _FrameTests, i: int, t: float) -> None:
        """Follow the steep path from a steep jump while the 1-s median stays at the
        steep level: the median's range since the jump landed (its last frame) and the
        cramp shares of the last ``steep_hold_s``."""
        p = self.p
        med = float(f.med1[i])
        if med < p.steep_rel:
            self._steep_since = None
            return
        if self._steep_since is None:
            if not f.steep_jump[i]:
                return
            self._steep_since = t - p.frame_s
            self._steep_shares = []
        if f.steep_jump[i]:  # still jumping: the level it lands on is yet to come
            self._steep_range = (med, med)
        lo, hi = self._steep_range
        self._steep_range = (min(lo, med), max(hi, med))
        self._steep_shares.append(float(f.share[i]))
        del self._steep_shares[: -self._frames(p.steep_hold_s)]

    def _track_firm(self, f: _FrameTests, i: int, t: float) -> None:
        """Follow the firm stretch of the persistent path on the 1-s envelope alone: a
        weak cramp's short envelope dips below ``active_rel`` for a frame now and then,
        which must not restart minutes of evidence."""
        p = self.p
        # standing keeps the calf working: only a contraction lying down counts
        if f.rel1[i] < p.min_rel1s or f.upright[i]:
            self._firm_since = None
            self._firm_spent = False
            return
        if self._firm_spent:
            return
        if self._firm_since is None:
            self._firm_since = t - p.frame_s
            self._firm_share, self._firm_frames = 0.0, 0
        self._firm_share += float(f.share[i])
        self._firm_frames += 1

    def _try_alarm(self, f: _FrameTests, i: int, t: float) -> Span | None:
        """No cramp open: the alarm on any path, if the run and the signal allow it."""
        p = self.p
        signal_ok = (
            not self._run_alarmed
            and self._since_trouble > self._trouble_needed
            and self._since_bad > self._clean_needed
            and self._since_glitch > self._glitch_needed
            and self._onset_clean
            and t - self._last_end >= p.refractory_s
        )
        # without a tibialis, evidence counts once the calf has been active longer
        # than most leg movements last
        waited = bool(f.tib_seen[i]) or self._calf_only_ready(t, float(f.floor[i]))
        # a shin that turned while the calf worked holds every path but the one for
        # standing up on a cramp
        allowed = signal_ok and waited and not self._turned
        # a partial contraction below cramp force alarms only when the classifier is
        # sure of a cramp; cramp force also on the sustained path
        held = bool(f.strong[i]) or bool(f.weak[i])
        span = self._stood_up(f, i, t, signal_ok and not waited and self._run_jumped)
        if span is not None:
            return span
        # the contraction reached its force within seconds and holds it (a partial cramp
        # that jumped there from rest: for a shorter time, that jump its own proof)
        ready = allowed and self._run_jumped
        confident = (ready and held) or (allowed and self._run_quick and bool(f.quick_held[i]))
        span = self._confident(t, confident and bool(f.cand[i]), float(f.prob[i]))
        if span is not None:
            return span
        ok = ready and bool(f.strong[i]) and bool(f.sustained_ok[i]) and bool(f.active[i])
        span = self._sustained(t, ok, float(f.share[i]))
        if span is not None:
            return span
        span = self._steep_partial(t, allowed and bool(f.sustained_ok[i]))
        if span is not None:
            return span
        # minutes of a firm calf tell a cramp only lying down: until the shin's axis is
        # known, standing (up to minutes of calf work) cannot be told from lying
        return self._persistent(t, allowed and bool(f.guard[i]) and bool(f.lying_known[i]))

    def _try_end(self, f: _FrameTests, i: int, t: float) -> Span | None:
        """A cramp open: it ends after ``end_quiet_s`` of a relaxed calf or a low cramp
        share, at once on a broken signal."""
        p = self.p
        bad = bool(f.bad[i])
        if not (f.rel1[i] < p.end_rel or f.keep[i] < p.p_off or bad):
            self._quiet = 0
            return None
        if self._quiet == 0:
            self._quiet_start = t - p.frame_s
        self._quiet += 1
        if self._quiet >= self._end_needed or bad:
            return self._end(t, "signal" if bad else "relaxed")
        return None

    def _calf_only_ready(self, t: float, floor_g2: float) -> bool:
        """Without tibialis evidence: the calf active for ``calf_only_min_active_s`` s
        (longer than any leg movement) and the shank still: its mean motion power over
        the contraction so far (at most the last ``still_window_s`` s) within
        ``still_excess_g``² of the floor (g²). Averaged over seconds, a leg movement's
        small shank motion shows even where one second of a noisy accelerometer hides
        it. Unknown power or floor (an accelerometer gap): the wait alone.

        Once the run has jumped to force the wait counts from the jump's start: a tone
        rise that ends in a brief movement (an arousal) is a long run whose last seconds
        look like a cramp's first."""
        waited = self._active_for(t)
        if self._run_jumped and self._jump_at is not None:
            waited = min(waited, t - self._jump_at + 1e-9)
        if waited < self.p.calf_only_min_active_s:
            return False
        known = [x for x in self._run_power if x == x]  # not NaN
        if not known or 2 * len(known) < len(self._run_power) or math.isnan(floor_g2):
            return True
        return sum(known) / len(known) - floor_g2 <= self.p.still_excess_g**2

    def _active_for(self, t: float) -> float:
        """Seconds the calf has been continuously active at frame time ``t`` (0 if not)."""
        return t - self._active_start + 1e-9 if self._active_start is not None else 0.0

    def _confident(self, t: float, ok: bool, prob: float) -> Span | None:
        """Path 1: ``k_frames`` consecutive confident frames."""
        if not ok:
            self._streak = 0
            self._streak_p = []
            return None
        self._streak += 1
        self._streak_p.append(prob)
        if self._streak < self.p.k_frames:
            return None
        conf = float(np.mean(self._streak_p))
        return self._start(t, conf, "p_cramp_sustained")

    def _stood_up(self, f: _FrameTests, i: int, t: float, waiting: bool) -> Span | None:
        """Path 4 (no tibialis): the calf-only wait cut short by the sleeper standing up.
        The contraction met everything the confident path asks but the wait — a still
        onset, cramp force reached within seconds, ``k_frames`` confident frames — and
        the shin comes upright while the calf still holds cramp force: woken by the
        cramp, the sleeper stands and puts weight on the leg to end it (the usual
        advice, see the stretch prompts). A leg movement is over before anyone stands;
        a trip out of bed starts with the shin moving (the onset-motion veto)."""
        if not waiting:
            self._wait_streak = 0
            return None
        if f.upright[i]:
            if self._wait_confident and f.strong[i]:
                return self._start(t, 1.0, "stood_up_in_cramp")
            return None
        strong_confident = bool(f.cand[i]) and bool(f.strong[i])
        self._wait_streak = self._wait_streak + 1 if strong_confident else 0
        self._wait_confident |= self._wait_streak >= self.p.k_frames
        return None

    def _sustained(self, t: float, ok: bool, share: float) -> Span | None:
        """Path 2: a tonic calf contraction for ``sustain_s`` s that the classifier
        prefers to call a cramp among the active classes."""
        if not ok:
            self._shares = []
            return None
        self._shares.append(share)
        del self._shares[: -self._share_needed]
        assert self._active_start is not None
        if t - self._active_start < self.p.sustain_s - 1e-9:
            return None
        if len(self._shares) < self._share_needed:
            return None
        mean = float(np.mean(self._shares))
        if mean < self.p.share_on:
            return None
        return self._start(t, mean, "tonic_calf_sustained")

    def _steep_partial(self, t: float, ok: bool) -> Span | None:
        """Path 5: a partial contraction that jumped steeply out of a calf at rest
        (:meth:`_steep`) and holds the level it landed on, steady (its lowest 1-s median
        ≥ ``steady_ratio`` × its highest since the jump's last frame), ``steep_hold_s`` s
        after the jump, the guards holding for ``k_frames`` frames in a row and the mean
        cramp share over the hold ≥ ``steep_share``: a tone rise creeps up, a cramp
        jumps. A twitch burst that lifts the median on a tone is no jump the tone then
        holds."""
        p = self.p
        self._steep_streak = self._steep_streak + 1 if ok else 0
        since = self._steep_since
        if since is None or t - since < p.steep_hold_s - 1e-9 or self._steep_streak < p.k_frames:
            return None
        lo, hi = self._steep_range
        if lo < p.steady_ratio * hi:
            return None
        mean = float(np.mean(self._steep_shares))
        if mean < p.steep_share:
            return None
        return self._start(t, mean, "steep_partial_contraction")

    def _persistent(self, t: float, ok: bool) -> Span | None:
        """Path 3: the calf firm (1-s envelope ≥ ``min_rel1s`` × rest) for ``persist_s``
        s, whatever its force or how it rose, with a mean cramp share over that stretch
        ≥ ``persist_share``. A tone rise resolves within about two minutes, a cramp goes
        on for minutes: a late alarm for a weak cramp the other paths could not tell
        from a tone. The stretch restarts when the shin is upright, tibialis or not:
        standing works the calf for minutes."""
        if not ok or self._firm_since is None or t - self._firm_since < self.p.persist_s:
            return None
        mean = self._firm_share / max(self._firm_frames, 1)
        if mean < self.p.persist_share:
            return None
        return self._start(t, mean, "persistent_calf_contraction", onset=self._firm_since)

    def _jump_half_way(self) -> int | None:
        """Index in the run's envelope history of the last frame below the present
        level / ``jump_ratio`` (the jump to the present force was half-way there); None
        if there is none in the frames kept."""
        run = self._run_rel
        if not run:
            return None
        low = run[-1][1] / self.p.jump_ratio
        return next((k for k in range(len(run) - 1, -1, -1) if run[k][1] < low), None)

    def _jump_start(self) -> float | None:
        """Where the current run's jump to its present force began (s): half a second
        (the 1-s envelope's lag) before the envelope last stood below the present level
        / ``jump_ratio``; None if it never did in the frames kept. A calf that crept up
        first (a prodrome, a tone) does not move the cramp's onset back to the creep."""
        k = self._jump_half_way()
        return None if k is None else self._run_rel[k][0] - _ENVELOPE_HALF_S

    def _jump_foot(self) -> float | None:
        """Where the current run's jump left the level before it (s): half a second
        before the envelope last stood within ``_FOOT_RATIO`` × the lowest level of the
        ``rise_allow_s`` s before the jump's half-way point (and so below at least
        ``active_rel``); None if the run holds no jump. From rest that is about the
        run's start; after a tone, the start of what rose above it."""
        k = self._jump_half_way()
        if k is None:
            return None
        run = self._run_rel
        t_half = run[k][0]
        level = min(r for t_s, r in list(run)[: k + 1] if t_s >= t_half - self.p.rise_allow_s)
        foot = max(self.p.active_rel, _FOOT_RATIO * level)
        j = next((j for j in range(k, -1, -1) if run[j][1] <= foot), 0)
        return run[j][0] - _ENVELOPE_HALF_S

    def _start(self, t: float, conf: float, rule: str, onset: float | None = None) -> Span:
        # the onset is where the contraction the alarm is about began: the start of its
        # jump to cramp force, and never before the calf's active run (the persistent
        # path gives the start of its firm stretch)
        if onset is None:
            onset = self._active_start if self._active_start is not None else t - self.p.frame_s
            jump = self._jump_start()
            if jump is not None:
                onset = min(max(onset, jump), t - self.p.frame_s)
        self._cramp_onset = onset
        self._run_alarmed = self._active_start is not None
        self._firm_since, self._firm_spent = None, True
        self._steep_since, self._steep_streak = None, 0
        self._streak = 0
        self._streak_p = []
        self._shares = []
        self._quiet = 0
        return Span("cramp", onset, None, t, conf, {"rule": rule})

    def _end(self, t: float, reason: str) -> Span:
        onset = self._cramp_onset
        assert onset is not None
        end = self._quiet_start if reason == "relaxed" else t - self.p.frame_s
        end = max(end, onset)
        self._cramp_onset = None
        self._quiet = 0
        self._last_end = t
        return Span(
            "cramp",
            onset,
            end,
            t,
            1.0,
            {"end_reason": reason, "duration_s": round(end - onset, 3)},
        )

    def flush(self, end_s: float) -> list[Span]:
        """Close an ongoing cramp at the end of the recording."""
        if self._cramp_onset is None:
            return []
        onset = self._cramp_onset
        self._cramp_onset = None
        return [
            Span(
                "cramp",
                onset,
                max(end_s, onset),
                end_s,
                1.0,
                {"end_reason": "end_of_recording", "duration_s": round(end_s - onset, 3)},
            )
        ]


class CrampWarningTracker:
    """``cramp_warning`` ("calf tightening"): the calf rising above its resting tone on
    a still, clean leg, before any cramp (see the ``warn_*`` fields of
    :class:`CrampParams`). Informative only: it never raises the alarm, and a cramp that
    follows keeps its own. One warning per tightening: after a warning or a cramp the
    calf must relax first.

    Relaxed is judged on the median of the 0.1-s envelope over the last ``warn_end_s``
    s, not on the 1-s envelope: the resting level is the quiet between heartbeats, and
    where the ECG shows in the calf channel every 1-s window holds a QRS complex, so a
    resting calf's 1-s envelope can stay near 2 × rest all night (a warning that never
    ended, or a night without warnings after the first cramp)."""

    def __init__(self, params: CrampParams | None = None) -> None:
        self.p = params or CrampParams()
        fr = self.p.frame_s
        self._warn_needed = max(1, round(self.p.warn_s / fr))
        self._end_window = max(1, round(self.p.warn_end_s / fr))
        # the 0.1-s envelope of the frames before this block (for the relaxed median)
        self._rel_hist = np.full(self._end_window - 1, np.inf)
        self._run = 0  # consecutive frames meeting the warning condition
        self._onset: float | None = None  # open warning
        self._blocked = False  # a warning or cramp in this tightening: wait for relax
        self._last_end = -np.inf

    def _relaxed(self, rel: np.ndarray) -> np.ndarray:
        """Per frame of the block: the median 0.1-s envelope (× rest) of the last
        ``warn_end_s`` s is below ``warn_end_rel`` (windows reach into earlier blocks,
        so the result does not depend on the block size)."""
        ext = np.concatenate([self._rel_hist, rel])
        self._rel_hist = ext[ext.shape[0] - (self._end_window - 1) :]
        wins = sliding_window_view(ext, self._end_window)
        return np.median(wins, axis=1) < self.p.warn_end_rel

    def push(
        self,
        t_s: np.ndarray,
        calf_rel1s: np.ndarray,
        calf_rel: np.ndarray,
        ok: np.ndarray,
        in_cramp: np.ndarray,
    ) -> list[Span]:
        """``calf_rel1s`` / ``calf_rel``: the calf's 1-s / 0.1-s envelope × rest; ``ok``:
        frames where the leg is still, the calf signal clean and the calf dominant;
        ``in_cramp``: a cramp is open."""
        p = self.p
        rel1 = np.nan_to_num(np.asarray(calf_rel1s, float), nan=0.0)
        # a gap or an unknown level is no sign of a tightening
        relaxed = self._relaxed(np.nan_to_num(np.asarray(calf_rel, float), nan=0.0))
        cramp = np.asarray(in_cramp, bool)
        cond = np.asarray(ok, bool) & (rel1 >= p.warn_rel) & ~cramp
        out: list[Span] = []
        n, i = t_s.shape[0], 0
        while i < n:
            if self._onset is None and self._run == 0 and not self._blocked:
                hits = np.flatnonzero(cond[i:] | cramp[i:])
                if hits.size == 0:
                    return out
                i += int(hits[0])
            t = float(t_s[i])
            if self._onset is not None or self._blocked:
                # the tightening lasts until the calf relaxes
                if cramp[i] and self._onset is not None:
                    out.append(self._close(t, t - p.frame_s, "cramp"))
                if relaxed[i]:
                    # the median fell below half-way through the window
                    if self._onset is not None:
                        out.append(self._close(t, t - p.warn_end_s / 2, "relaxed"))
                    self._blocked = False
                self._blocked = self._blocked or bool(cramp[i])
            elif cramp[i]:
                self._blocked = True
                self._run = 0
            elif cond[i]:
                self._run += 1
                if self._run >= self._warn_needed and t - self._last_end >= p.warn_refractory_s:
                    self._onset = t - self._run * p.frame_s
                    self._blocked = True
                    self._run = 0
                    out.append(Span("cramp_warning", self._onset, None, t, 1.0))
            else:
                self._run = 0
            i += 1
        return out

    def _close(self, t: float, end: float, reason: str) -> Span:
        onset = self._onset
        assert onset is not None
        self._onset = None
        self._last_end = t
        end = max(end, onset)
        return Span(
            "cramp_warning",
            onset,
            end,
            t,
            1.0,
            {"end_reason": reason, "duration_s": round(end - onset, 3)},
        )

    def flush(self, end_s: float) -> list[Span]:
        """Close an open warning at the end of the recording."""
        if self._onset is None:
            return []
        return [self._close(end_s, end_s, "end_of_recording")]


# ---------------------------------------------------------------------- position change


@dataclass(frozen=True)
class PositionParams:
    """Position change: a bout of shin motion after which the gravity direction differs.

    ``motion_g``: 1-s motion (g) above the shank's resting motion level (the
    accelerometer's noise floor, when given) that starts a bout; the bout ends after
    ``settle_s`` s below it; a change of the gravity vector by ≥ ``min_angle_deg``
    between before and after the bout is a position change (turning over rotates the
    shin by tens of degrees; a leg twitch does not).
    """

    motion_g: float = 0.03
    settle_s: float = 1.0
    min_angle_deg: float = _POSITION_CHANGE_DEG
    frame_s: float = FRAME_S


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if not (na > 0 and nb > 0):
        return 0.0
    c = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
    return float(np.degrees(np.arccos(c)))


class PositionTracker:
    """Streaming position-change detector on gravity (g) and motion (g) frames."""

    def __init__(self, params: PositionParams | None = None) -> None:
        self.p = params or PositionParams()
        self._settle_needed = max(1, round(self.p.settle_s / self.p.frame_s))
        self._ref: np.ndarray | None = None  # gravity direction before the bout
        self._bout_start: float | None = None
        self._still = 0
        self._still_start = 0.0
        self._peak = 0.0

    def push(
        self,
        t_s: np.ndarray,
        grav_g: np.ndarray,
        motion1s_g: np.ndarray,
        motion_rest_g: np.ndarray | None = None,
    ) -> list[Span]:
        """``grav_g`` (n, 3): low-passed acceleration (g); ``motion1s_g`` (n,);
        ``motion_rest_g`` (n,): resting motion level, g (None/NaN: 0). A noisy
        accelerometer must not look like a leg that never stops moving."""
        out: list[Span] = []
        mot = np.nan_to_num(np.asarray(motion1s_g, float), nan=0.0)
        grav = np.asarray(grav_g, float)
        floor = 0.0 if motion_rest_g is None else np.nan_to_num(motion_rest_g, nan=0.0)
        moving = mot >= self.p.motion_g + floor
        n = t_s.shape[0]
        i = 0
        while i < n:
            if self._bout_start is None:
                hits = np.flatnonzero(moving[i:])
                stop = n if hits.size == 0 else i + int(hits[0])
                # remember the last finite resting orientation before the bout
                seg = grav[i:stop]
                fin = np.flatnonzero(np.all(np.isfinite(seg), axis=1))
                if fin.size:
                    self._ref = seg[fin[-1]].copy()
                if hits.size == 0:
                    return out
                i = stop
                self._bout_start = float(t_s[i]) - self.p.frame_s
                self._still = 0
                self._peak = float(mot[i])
                i += 1
                continue
            if moving[i]:
                self._still = 0
                self._peak = max(self._peak, float(mot[i]))
            else:
                if self._still == 0:
                    self._still_start = float(t_s[i]) - self.p.frame_s
                self._still += 1
                if self._still >= self._settle_needed:
                    span = self._finish(float(t_s[i]), grav[i])
                    if span is not None:
                        out.append(span)
            i += 1
        return out

    def _finish(self, t: float, g_now: np.ndarray) -> Span | None:
        start = self._bout_start
        assert start is not None
        self._bout_start = None
        self._still = 0
        if self._ref is None or not np.all(np.isfinite(g_now)):
            self._ref = g_now.copy() if np.all(np.isfinite(g_now)) else self._ref
            return None
        angle = _angle_deg(self._ref, g_now)
        self._ref = g_now.copy()
        if angle < self.p.min_angle_deg:
            return None
        conf = float(min(1.0, angle / (2 * self.p.min_angle_deg)))
        return Span(
            "position_change",
            start,
            self._still_start,
            t,
            conf,
            {"angle_deg": round(angle, 1), "peak_motion_g": round(self._peak, 3)},
        )


# ------------------------------------------------------------------------ signal issue


class SignalIssueTracker:
    """Streaming bad-signal spans for one channel (or for gaps).

    A span opens after ``min_bad_s`` s of consecutive bad frames (onset = first bad frame)
    and closes after ``min_good_s`` s of good frames (end = first good frame). The reason
    reported is the most frequent one during the span.
    """

    def __init__(
        self,
        channel: str,
        *,
        min_bad_s: float = 1.0,
        min_good_s: float = 2.0,
        frame_s: float = FRAME_S,
    ) -> None:
        self.channel = channel
        self.frame_s = frame_s
        self._bad_needed = max(1, round(min_bad_s / frame_s))
        self._good_needed = max(1, round(min_good_s / frame_s))
        self._open = False
        self._run = 0
        self._run_start = 0.0
        self._onset = 0.0
        self._reasons: dict[str, int] = {}

    @property
    def main_reason(self) -> str:
        """The most frequent reason of the open (or last) span, '' if none yet."""
        return max(self._reasons, key=self._reasons.__getitem__) if self._reasons else ""

    def push(self, t_s: np.ndarray, reason: np.ndarray) -> TrackerStep:
        """``reason``: per frame, '' when the signal is good, else a short reason code.
        Returns the span changes and per frame whether a span was open."""
        out: list[Span] = []
        bad = reason != ""
        n = t_s.shape[0]
        mask = np.zeros(n, bool)
        i = 0
        while i < n:
            if not self._open and self._run == 0:
                hits = np.flatnonzero(bad[i:])
                if hits.size == 0:
                    break
                i += int(hits[0])
            t = float(t_s[i])
            if not self._open:
                if bad[i]:
                    if self._run == 0:
                        self._run_start = t - self.frame_s
                        self._reasons = {}
                    self._run += 1
                    self._reasons[reason[i]] = self._reasons.get(reason[i], 0) + 1
                    if self._run >= self._bad_needed:
                        self._open = True
                        self._onset = self._run_start
                        self._run = 0
                        out.append(self._span(None, t))
                else:
                    self._run = 0
            else:
                if bad[i]:
                    self._run = 0
                    self._reasons[reason[i]] = self._reasons.get(reason[i], 0) + 1
                else:
                    if self._run == 0:
                        self._run_start = t - self.frame_s
                    self._run += 1
                    if self._run >= self._good_needed:
                        self._open = False
                        self._run = 0
                        out.append(self._span(self._run_start, t))
            mask[i] = self._open
            i += 1
        return TrackerStep(out, mask)

    def flush(self, end_s: float) -> list[Span]:
        if not self._open:
            return []
        self._open = False
        return [self._span(max(end_s, self._onset), end_s)]

    def _span(self, end: float | None, t: float) -> Span:
        # a span opens on a bad frame, so its reasons are never empty
        return Span(
            "signal_issue",
            self._onset,
            end,
            t,
            1.0,
            {"channel": self.channel, "kind": self.main_reason},
        )
