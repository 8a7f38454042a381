"""``FrameDetector``: feature frames in, events out.

The part of the detector after the signal pipeline: the model inputs
(:class:`~crampwatch.detect.features.ContextFeatures`), the frame classifier
(:class:`~crampwatch.detect.model.CrampModel`), the bad-signal rules
(:mod:`crampwatch.detect.bad_signal`) and the event state machines
(:mod:`crampwatch.detect.trackers`, :mod:`crampwatch.detect.wasm`). Time is the frames'
clock: ``detected_at_s`` of an event is the end time of the frame whose arrival made
the decision, whatever the number of frames fed at once.
:class:`~crampwatch.detect.streaming.StreamingDetector` puts the signal pipeline in front
of it (the live service, ``crampwatch detect``); training replays stored frames through
it directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from crampwatch.detect.bad_signal import (
    HARD_REASONS,
    VETO_QUALITY,
    ChannelAssessment,
    HumGrowth,
    assess_channel,
)
from crampwatch.detect.features import ContextFeatures, column
from crampwatch.detect.model import CrampModel, cramp_params, default_model
from crampwatch.detect.timing import FRAME_S
from crampwatch.detect.trackers import (
    CrampInputs,
    CrampParams,
    CrampTracker,
    CrampWarningTracker,
    PositionTracker,
    SignalIssueTracker,
    Span,
)
from crampwatch.detect.upright import UprightDetector
from crampwatch.detect.wasm import (
    ONSET_UV,
    PLM_MAX_INTERVAL_S,
    REST_REF_UV,
    LegMovement,
    LegMovementScorer,
    PeriodicityTracker,
    plm_index,
    rest_relative_above,
)
from crampwatch.events import Event, SignalIssueKind, event_id, onset_time_iso

__all__ = ["DetectorStats", "FrameDetector", "emission_order", "lying_frames"]

log = logging.getLogger(__name__)

HOLD_S = 10.0  # a leg movement waits this long after its offset before it is counted
# walking: the shank's 1-s motion at least this (g) for longer than any leg movement
# the scorer counts (its max_s, WASM 2016); a sleeper's movements are small and brief
WALK_MIN_MOTION_G = 0.2
# Without a tibialis the calf, which joins a leg movement only weakly (it is the
# antagonist of the dorsiflexion), seldom reaches the WASM 8 µV; the shin accelerometer
# shows that the leg moved, as ankle actigraphy scores leg movements. A calf-only
# movement begins in a frame where the shin moves and the calf is at least
# CALF_ONLY_LM_ONSET_UV above rest, and lasts while the shin moves or the calf stays
# above the WASM offset level. "Moves": the 0.1-s shin motion above LM_MOTION_RATIO × its
# resting level + LM_MOTION_MARGIN_G (the margin keeps a near-noiseless accelerometer's
# tremor out). Chosen on development seeds (calf-only dense nights 43000-43011 and
# 45000-45011). A noisy accelerometer hides a small movement's motion, so the calf may
# also start one on its own where it is at the WASM 8 µV, if it then holds that level
# for 0.5 s in a row (LegMovementScorer burst_needed): on 48 calf-only development
# nights (45000-45047) 311 more of 5,744 movements found, 67 more extras (LM F1 0.925
# -> 0.949).
CALF_ONLY_LM_ONSET_UV = 1.0
# an electrode pop inflates the tibialis envelope for about half a second, the shortest
# leg movement WASM scores: a movement no longer than POP_LM_MAX_S that holds a pop and
# is a spike (mean above rest < POP_SPIKE_RATIO × its peak; a muscle's burst is
# flatter) is the pop, not the muscle. Chosen on development seeds (44100-44147).
POP_LM_MAX_S = 1.0
POP_SPIKE_RATIO = 0.5
# A failing tibialis contact is no muscle: its baseline steps and tugs pass the 20-Hz
# high-pass as transients at the bottom of the EMG band (movement artefact lies at
# 0-20 Hz: De Luca et al., J Biomech 2010;43:1573-1579), and hum whose amplitude
# flickers with the contact leaves side bands the notch does not take. A movement for at
# least LOW_BAND_SHARE of which the tibialis is flagged (a bad frame, or its signal
# issue open) with under LOW_BAND_HF_FRAC of its power above the spectral split (100 Hz,
# or the band's middle at low rates: ``hf_frac``) is such an artefact. Both, because
# muscle can be low-pitched too. Per movement, the median share: on development nights
# with the tibialis (44100-44105) no true movement below 0.25; on a second generator's
# nights, true movements with a low MUAP spectrum down to 0.12 at 400 Hz, with many
# frames below 0.1 (7 lost to the spectral test alone, none to both), and the movements
# its failing tibialis electrode made, 0.02.
LOW_BAND_HF_FRAC = 0.1
LOW_BAND_SHARE = 0.5
LM_MOTION_RATIO = 2.0
LM_MOTION_MARGIN_G = 0.004


@dataclass
class DetectorStats:
    """Running counts (for the service's status and the review)."""

    frames: int = 0
    recorded_s: float = 0.0
    cramps: int = 0
    leg_movements: int = 0
    periodic_leg_movements: int = 0
    position_changes: int = 0
    signal_issues: int = 0
    cramp_vetoes: int = 0  # frames with cramp probability ≥ p_on refused by a guard
    cramp_warnings: int = 0
    last_t_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def plm_index(self) -> float:
        """Periodic leg movements per hour of recording."""
        return plm_index(self.periodic_leg_movements, self.recorded_s / 3600.0)


class FrameDetector:
    """Feature frames in, :class:`~crampwatch.events.Event` s out: the classifier and the
    event state machines on the 0.1-s frames of a :class:`crampwatch.signal.SignalPipeline`
    (or of ``extract_features``), with no signal processing and no sampling rates.

    Parameters
    ----------
    has_tib:
        The frames come with a tibialis anterior channel (else its columns are NaN and
        the calf is judged alone).
    device_id, leg, start_time:
        Copied into events (``start_time`` gives ``onset_time``).
    model:
        The frame classifier; default: the shipped model (``crampwatch/models/`` or
        ``$CRAMPWATCH_MODEL``).
    bilateral:
        Score leg movements with the bilateral 15-s limit.
    emg_units_known:
        False when the EMG is not in calibrated volts (device counts, a nominal scale
        such as the Myo's int8, an EDF channel in arbitrary units): leg movements and
        mains hum are then judged relative to the running resting level
        (:func:`crampwatch.detect.wasm.rest_relative_above`) instead of in µV. Cramp
        detection is unit-free either way.
    """

    def __init__(
        self,
        *,
        has_tib: bool,
        device_id: str,
        leg: str | None = None,
        start_time: datetime | None = None,
        model: CrampModel | None = None,
        bilateral: bool = False,
        emg_units_known: bool = True,
    ) -> None:
        self.device_id = device_id
        self.leg = leg
        self.start_time = start_time
        self.model = model if model is not None else default_model()
        self.has_tib = bool(has_tib)
        self.emg_units_known = bool(emg_units_known)
        self._context = ContextFeatures(FRAME_S)
        self._cramp = CrampTracker(cramp_params(self.model))
        self._warning = CrampWarningTracker(self._cramp.p)
        self._hum_growth = HumGrowth("calf", units_known=self.emg_units_known, frame_s=FRAME_S)
        self._open_warning: Event | None = None
        self._lm = LegMovementScorer(
            FRAME_S,
            bilateral=bilateral,
            onset_uv=ONSET_UV if self.has_tib else CALF_ONLY_LM_ONSET_UV,
        )
        self._periodic = PeriodicityTracker()
        self._position = PositionTracker()
        self._upright = UprightDetector(FRAME_S)
        # a lost electrode is reported once: the issue stays open until the channel has
        # been good for 20 s (a failing contact flickers between bad and usable)
        self._issues = {
            m: SignalIssueTracker(role, min_bad_s=2.0, min_good_s=20.0)
            for m, role in (("calf", "emg_calf"), ("tib", "emg_tibialis"))
            if m == "calf" or self.has_tib
        }
        self._open_cramp: Event | None = None
        # (onset, end or None, alarm time): cramps and position changes, to drop LMs in them
        self._cramp_spans: list[tuple[float, float | None, float]] = []
        self._position_spans: list[tuple[float, float, float]] = []
        # the sleeper up — the shin upright, or the shank moving hard for longer than
        # any leg movement (walking): the legs' activity then is not a sleep movement
        self._upright_runs = FlagRuns()
        self._walking_runs = FlagRuns(min_s=self._lm.max_s)
        self._pop_runs = FlagRuns()  # electrode pops on the channel leg movements use
        self._failing_runs = FlagRuns()  # tibialis frames that show a failing contact
        self._held: list[LegMovement] = []
        self.stats = DetectorStats()
        self._i_cramp = self.model.classes.index("cramp")
        self._i_rest = self.model.classes.index("rest")

    # ------------------------------------------------------------------ public API

    def push(self, frames) -> list[Event]:
        """Feed the next feature frames; return the events decided by them (may be empty)."""
        n = len(frames)
        if n == 0:
            return []
        t = np.asarray(frames.t_s, dtype=np.float64)
        ctx = self._context.update(frames)
        self.stats.frames += n
        self.stats.recorded_s += n * FRAME_S
        self.stats.last_t_s = float(t[-1])

        known = self.emg_units_known
        calf = assess_channel(frames, "calf", known)
        reasons = {"calf": calf.reasons}
        if self.has_tib:
            reasons["tib"] = assess_channel(frames, "tib", known).reasons
        spans: list[Span] = []
        issue_open: dict[str, np.ndarray] = {}  # per frame: the channel's issue is open
        for m, tr in self._issues.items():
            step = tr.push(t, reasons[m])
            spans += step.spans
            issue_open[m] = step.open_mask

        env = {m: column(frames, f"{m}_env_uv") for m in ("calf", "tib")}
        rest = {m: column(frames, f"{m}_rest_uv") for m in ("calf", "tib")}
        with np.errstate(divide="ignore", invalid="ignore"):
            calf_rel = env["calf"] / rest["calf"]
            calf_rel1s = column(frames, "calf_env1s_uv") / rest["calf"]
        motion1s = column(frames, "acc_motion1s_g")
        # resting level of shank motion (accelerometer noise, breathing): "still" is
        # judged against it, so a noisy accelerometer does not look like a moving leg
        motion_rest = ctx.motion_rest_g
        cp = self._cramp.p
        p_cramp, p_active = self._classify(ctx.X, calf_rel1s)
        hard = {m: np.isin(r, HARD_REASONS) for m, r in reasons.items()}
        calf_bad, calf_glitch = self._calf_vetoes(calf, hard["calf"], issue_open["calf"])
        grav = np.column_stack([column(frames, f"grav_{a}_g") for a in "xyz"])
        upright = self._upright.push(grav, lying_frames(calf_rel1s, motion1s, motion_rest, cp))
        self._upright_runs.push(t, upright)
        self._walking_runs.push(t, np.nan_to_num(motion1s, nan=0.0) >= WALK_MIN_MOTION_G)
        # the calf/tibialis ratio, NaN without tibialis evidence: no channel, or a broken
        # tibialis (which says nothing about calf dominance)
        ratio = np.full(n, np.nan)
        if self.has_tib:
            ratio = np.where(hard["tib"], np.nan, column(frames, "calf_tib_ratio"))
        trouble = self._hum_growth.push(frames)
        inputs = CrampInputs(
            t_s=t,
            p_cramp=p_cramp,
            p_active=p_active,
            calf_rel=calf_rel,
            calf_rel1s=calf_rel1s,
            calf_tib_ratio=ratio,
            calf_bad=calf_bad,
            calf_glitch=calf_glitch,
            calf_trouble=trouble,
            motion1s_g=motion1s,
            motion_rest_g=motion_rest,
            motion_power_g2=ctx.motion_power_g2,
            motion_floor_g2=ctx.motion_floor_g2,
            motion_known=ctx.motion_known,
            upright=upright,
            upright_known=self._upright.known,
            gravity_g=grav,
        )
        cramp = self._cramp.push(inputs)
        spans += cramp.spans
        # calf tightening on a still, clean, calf-dominated leg, lying down
        calm = cp.shank_still(motion1s, motion_rest)
        calm &= np.nan_to_num(motion1s, nan=1.0) < cp.warn_max_motion_g
        calm &= ~calf_bad & ~calf_glitch & ~upright
        calm &= ~(ratio < cp.min_calf_tib_ratio)  # NaN (no tibialis evidence) passes
        spans += self._warning.push(t, calf_rel1s, calf_rel, calm, cramp.open_mask)
        self.stats.cramp_vetoes += int(
            np.sum((p_cramp >= self._cramp.p.p_on) & (calf_bad | calf_glitch))
        )

        spans += self._position.push(t, grav, motion1s, motion_rest)

        events = [self._event(s) for s in spans]
        untrusted = calf_bad | calf_glitch | trouble  # as for an alarm
        if self.has_tib:  # a flagged frame, or within the channel's open signal issue
            self._push_failing_contact(frames, t, (reasons["tib"] != "") | issue_open["tib"])
        events += self._leg_movements(frames, t, hard, motion_rest, untrusted)
        return sorted(events, key=emission_order)

    def flush(self, end_s: float | None = None) -> list[Event]:
        """End of the recording/run (``end_s``; default: the last frame's time): close
        open events and decide the leg movements still held."""
        end = self.stats.last_t_s if end_s is None else float(end_s)
        spans: list[Span] = self._cramp.flush(end) + self._warning.flush(end)
        for tr in self._issues.values():
            spans += tr.flush(end)
        events = [self._event(s) for s in spans]
        decided: list[LegMovement] = []
        for lm in self._held:
            decided += self._release(lm, end)
        self._held = []
        decided += self._periodic.flush(end)
        events += [self._lm_event(m) for m in decided if m.candidate]
        return sorted(events, key=emission_order)

    def notice_gap(
        self, start_s: float, end_s: float, reason: str = SignalIssueKind.GAP
    ) -> list[Event]:
        """The service lost samples between ``start_s`` and ``end_s`` (s): a
        ``signal_issue`` event; movements in progress are abandoned (their offset is
        unknowable). The pipeline also marks the gap in its frames when blocks resume."""
        self._lm.reset()
        span = Span("signal_issue", start_s, end_s, end_s, 1.0, {"channel": "all", "kind": reason})
        return [self._event(span)]

    # ------------------------------------------------------------------ internals

    def _classify(self, X: np.ndarray, calf_rel1s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per frame: the classifier's cramp probability and its probability of any class
        but rest (0 where not classified). The cramp probability only matters where the
        calf is active (the alarm needs a sustained rise, the end rule ends on a quiet
        calf whatever the probability): classifying only those frames is exact and
        saves most of the night's work."""
        cp = self._cramp.p
        n = X.shape[0]
        need = np.nan_to_num(calf_rel1s, nan=0.0) >= min(cp.min_rel1s, cp.end_rel)
        p_cramp = np.zeros(n)
        p_active = np.zeros(n)
        if need.any():
            rows = _select(X[need], self.model.features)
            proba = self.model.predict_proba(rows)
            p_cramp[need] = proba[:, self._i_cramp]
            p_active[need] = 1.0 - proba[:, self._i_rest]
        return p_cramp, p_active

    def _calf_vetoes(
        self, calf: ChannelAssessment, hard: np.ndarray, issue_open: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per frame: the calf signal vetoes the alarm (bad: 2 s clean needed after it),
        and a transient glitch holds it (1 s)."""
        # a calf frame vetoes the alarm when it is broken (gap, flat, clipped) or hum
        # dominates it; mild background hum does not (a cramp's EMG is far above it).
        # An electrode pop is a transient glitch: it blocks the alarm for the 1 s whose
        # envelope it inflates. (QRS spikes of a large ECG can look like pops at rest;
        # they must not hold a cramp back.)
        bad = hard | (calf.quality_without_pops < VETO_QUALITY)
        # a calf channel with large hum, or whose signal issue is still open (until 20 s
        # clean), is not trusted: an electrode coming off shows hum harmonics and drift
        # that pass the filters as a steady "contraction"
        # (a BLE gap is not the electrode: once data resume, 2 s clean suffice)
        bad |= calf.reasons == SignalIssueKind.MAINS
        if self._issues["calf"].main_reason != SignalIssueKind.GAP:
            bad |= issue_open
        glitch = ~bad & (calf.quality < VETO_QUALITY)
        return bad, glitch

    def _leg_movements(
        self, frames, t: np.ndarray, hard, motion_rest_g, calf_untrusted: np.ndarray
    ) -> list[Event]:
        # WASM scores leg movements on the tibialis anterior; without it, on the calf
        # while the shin moves (CALF_ONLY_LM_ONSET_UV; documented cost in the model card)
        m = "tib" if self.has_tib else "calf"
        if self.has_tib:  # calf-only movements are small in the calf EMG: not judged so
            self._pop_runs.push(t, column(frames, "tib_pop") > 0)
        if self.emg_units_known:
            above = column(frames, f"{m}_above_rest_uv")
        else:  # WASM thresholds relative to the running resting level
            above = rest_relative_above(
                column(frames, f"{m}_env_uv"), column(frames, f"{m}_rest_uv")
            )
        if self.has_tib:
            self._held += self._lm.push(t, above, ~hard[m])
        else:
            limit = np.asarray(motion_rest_g, float) * LM_MOTION_RATIO + LM_MOTION_MARGIN_G
            with np.errstate(invalid="ignore"):  # NaN (motion unknown): not moving
                moving = column(frames, "acc_motion_g") > limit
                # the calf alone: at the WASM onset level on a signal trusted for an
                # alarm (a failing electrode's hum and steps are no muscle)
                at_onset_level = (above >= ONSET_UV) & ~calf_untrusted
            self._held += self._lm.push(
                t,
                above,
                ~hard[m],
                onset_ok=moving | at_onset_level,
                active=moving,
                burst_needed=~moving,
            )
        decided: list[LegMovement] = []
        # a scored movement is held for HOLD_S after its offset: if a position change or a
        # cramp turns out to cover it, it was part of that, not a leg movement (turning
        # over fires both muscles briefly). Release times are frame times, so decisions
        # do not depend on the block size.
        while self._held:
            lm = self._held[0]
            idx = np.flatnonzero(t >= lm.end_s + HOLD_S - 1e-9)
            if idx.size == 0:
                break
            now = float(t[idx[0]])
            self._held.pop(0)
            decided += self._advance_periodicity(t, now)
            decided += self._release(lm, now)
        decided += self._advance_periodicity(t, np.inf)
        return [self._lm_event(x) for x in decided if x.candidate]

    def _advance_periodicity(self, t: np.ndarray, until_s: float) -> list[LegMovement]:
        """Close the open run at the first frame ≤ ``until_s`` after which no movement
        with an onset within 90 s of its last onset can still arrive: 90 s, plus the
        longest candidate movement, plus the hold before a movement is counted (a
        movement starting 89.9 s after the last is only known at its end + ``HOLD_S``).
        A frame time, so the decision does not depend on the block size."""
        last = self._periodic.last_onset_s
        if last is None:
            return []
        close_after = last + PLM_MAX_INTERVAL_S + self._lm.max_s + HOLD_S + 1.0
        idx = np.flatnonzero((t > close_after + 1e-9) & (t <= until_s))
        if idx.size == 0:
            return []
        return self._periodic.advance(float(t[idx[0]]))

    def _covered(self, lm: LegMovement, now: float) -> bool:
        """Inside a position change, a cramp or the shin upright, or a short spike that
        is a tibialis electrode pop (``POP_LM_MAX_S``), known at frame time
        ``now`` (spans decided later in the same chunk are ignored, so the result does
        not depend on chunking). Up and about (walking, standing), the legs move and
        work: not the movements of a sleeper (WASM 2016 scores them in bed)."""
        for a, b, seen in self._position_spans[-8:]:
            if seen <= now and lm.onset_s < b + 1.0 and a - 1.0 < lm.end_s:
                return True
        if self._upright_runs.overlap(lm.onset_s, lm.end_s):
            return True
        if self._walking_runs.overlap(lm.onset_s, lm.end_s):
            return True
        for onset_s, end_s, decided_s in self._cramp_spans[-4:]:
            if decided_s <= now and lm.end_s > onset_s and (end_s is None or lm.onset_s < end_s):
                return True
        spiky = lm.mean_uv < POP_SPIKE_RATIO * lm.peak_uv
        return (
            spiky
            and lm.duration_s <= POP_LM_MAX_S + 1e-9
            and self._pop_runs.overlap(lm.onset_s - FRAME_S, lm.end_s + FRAME_S)
        )

    def _release(self, lm: LegMovement, now: float) -> list[LegMovement]:
        """A held movement's hold is over at frame time ``now``: drop it if something
        else covers it, demote it if a failing contact made it, else add it to the
        periodicity tracker; the movements that decides."""
        if self._covered(lm, now):
            return []
        low_s = self._failing_runs.covered_s(lm.onset_s, lm.end_s)
        if low_s >= LOW_BAND_SHARE * lm.duration_s:
            # not a movement, and whether a series went on through it cannot be told:
            # it ends the series, as a movement too long to be a CLM does
            lm = replace(lm, candidate=False)
        return self._periodic.add(lm, now)

    def _push_failing_contact(self, frames, t: np.ndarray, flagged: np.ndarray) -> None:
        """Note the tibialis frames that show a failing contact: the channel flagged (or
        its signal issue open) and its spectrum no muscle's (``LOW_BAND_HF_FRAC``)."""
        low = column(frames, "tib_hf_frac") < LOW_BAND_HF_FRAC  # NaN (silent): no
        self._failing_runs.push(t, flagged & low)

    def _lm_event(self, lm: LegMovement) -> Event:
        if lm.periodic:
            self.stats.periodic_leg_movements += 1
        self.stats.leg_movements += 1
        return Event(
            id=event_id(self.device_id, "leg_movement", lm.onset_s, self.leg, self.start_time),
            device_id=self.device_id,
            type="leg_movement",
            onset_s=lm.onset_s,
            end_s=lm.end_s,
            detected_at_s=lm.decided_at_s,
            confidence=1.0,
            leg=self.leg,
            onset_time=onset_time_iso(self.start_time, lm.onset_s),
            periodic=bool(lm.periodic),
            details=self._lm_details(lm),
        )

    def _lm_details(self, lm: LegMovement) -> dict[str, Any]:
        details: dict[str, Any] = {
            "duration_s": round(lm.duration_s, 3),
            "channel": "emg_tibialis" if self.has_tib else "emg_calf",
        }
        if self.emg_units_known:
            details["peak_above_rest_uv"] = round(lm.peak_uv, 2)
            details["mean_above_rest_uv"] = round(lm.mean_uv, 2)
        else:  # units unknown: multiples of the resting level above it
            details["peak_above_rest_x"] = round(lm.peak_uv / REST_REF_UV, 2)
            details["mean_above_rest_x"] = round(lm.mean_uv / REST_REF_UV, 2)
            details["thresholds"] = "rest_relative"
        return details

    def _event(self, s: Span) -> Event:
        if s.kind == "cramp":
            if s.end_s is None:
                self.stats.cramps += 1
                # how long after the onset the alarm went off (kept by the end update)
                ev = self._new(s, alert_after_s=round(s.decided_at_s - max(0.0, s.onset_s), 2))
                self._open_cramp = ev
                self._cramp_spans.append((ev.onset_s, None, s.decided_at_s))
                return ev
            assert self._open_cramp is not None
            ev = self._open_cramp.with_end(s.end_s, s.decided_at_s, **s.details)
            a, _, seen = self._cramp_spans[-1]
            self._cramp_spans[-1] = (a, s.end_s, seen)
            self._open_cramp = None
            return ev
        if s.kind == "cramp_warning":
            if s.end_s is None:
                self.stats.cramp_warnings += 1
                self._open_warning = ev = self._new(s)
                return ev
            assert self._open_warning is not None
            ev = self._open_warning.with_end(s.end_s, s.decided_at_s, **s.details)
            self._open_warning = None
            return ev
        if s.kind == "position_change":
            self.stats.position_changes += 1
            self._position_spans.append((s.onset_s, s.end_s or s.onset_s, s.decided_at_s))
            return self._new(s)
        if s.kind == "signal_issue":
            if s.end_s is None or s.details.get("channel") == "all":
                self.stats.signal_issues += 1
            key = f"signal_issue:{s.details.get('channel', '')}"
            return self._new(s, id_type=key)
        raise ValueError(f"unknown span kind {s.kind!r}")

    def _new(self, s: Span, id_type: str | None = None, **extra: Any) -> Event:
        return Event(
            id=event_id(self.device_id, id_type or s.kind, s.onset_s, self.leg, self.start_time),
            device_id=self.device_id,
            type=s.kind,
            onset_s=max(0.0, s.onset_s),
            end_s=s.end_s,
            detected_at_s=s.decided_at_s,
            confidence=float(np.clip(s.confidence, 0.0, 1.0)),
            leg=self.leg,
            onset_time=onset_time_iso(self.start_time, max(0.0, s.onset_s)),
            periodic=None,
            details={**s.details, **extra},
        )


class FlagRuns:
    """The runs of flagged 0.1-s frames that lasted at least ``min_s`` s, as
    ``[start_s, end_s]``, kept for ``keep_s`` s after their end. Streaming: a run
    counts from its first frame once it has lasted ``min_s``, whatever the block size."""

    def __init__(self, min_s: float = 0.0, keep_s: float = 120.0) -> None:
        self.min_s = min_s
        self.keep_s = keep_s
        self.runs: list[list[float]] = []
        self._open_start: float | None = None  # start of a run still flagged

    def push(self, t: np.ndarray, flagged: np.ndarray) -> None:
        """Frames ending at ``t`` (s) and whether each is flagged."""
        if len(t):  # before the block's runs: a movement is decided after its block
            self.runs = [r for r in self.runs if r[1] >= float(t[0]) - self.keep_s]
        idx = np.flatnonzero(flagged)
        if idx.size:
            cut = np.flatnonzero(np.diff(idx) > 1)
            for a, b in zip(np.r_[idx[0], idx[cut + 1]], np.r_[idx[cut], idx[-1]], strict=True):
                carried = a == 0 and self._open_start is not None
                start = self._open_start if carried else float(t[a]) - FRAME_S
                assert start is not None
                self._note(start, float(t[b]))
            self._open_start = start if bool(flagged[-1]) else None
        else:
            self._open_start = None

    def _note(self, start: float, end: float) -> None:
        if end - start < self.min_s - 1e-9:
            return
        if self.runs and self.runs[-1][0] == start:
            self.runs[-1][1] = end
        else:
            self.runs.append([start, end])

    def overlap(self, start_s: float, end_s: float) -> bool:
        """Whether ``[start_s, end_s]`` overlaps a kept run."""
        return any(a < end_s and start_s < b for a, b in self.runs)

    def covered_s(self, start_s: float, end_s: float) -> float:
        """Seconds of ``[start_s, end_s]`` that kept runs cover."""
        return sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self.runs)


def lying_frames(
    calf_rel1s: np.ndarray, motion1s_g: np.ndarray, motion_rest_g: np.ndarray, p: CrampParams
) -> np.ndarray:
    """Frames that look like lying asleep: calf relaxed (1-s envelope below the active
    level) and shank still (the cramp alarm's stillness test). Standing keeps the calf
    working, so these frames teach the upright detector the lying postures."""
    with np.errstate(invalid="ignore"):
        relaxed = calf_rel1s < p.active_rel
    return relaxed & p.shank_still(motion1s_g, motion_rest_g)


def _select(X: np.ndarray, names) -> np.ndarray:
    from crampwatch.detect.features import MODEL_FEATURES

    if tuple(names) == MODEL_FEATURES:
        return X
    idx = [MODEL_FEATURES.index(c) for c in names]
    return X[:, idx]


def emission_order(ev: Event) -> tuple[float, float, str]:
    """Sort key of events decided together: by decision time, then onset, then type."""
    return (ev.detected_at_s, ev.onset_s, ev.type)
