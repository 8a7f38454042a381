"""Leg movements and PLMs from leg EMG alone: one or both legs, no accelerometer needed.

What a sleep lab's polysomnogram holds is both legs' tibialis EMG and no shin
accelerometer; the cramp alarm cannot run on it (see :func:`detection_mode`), but leg
movements and periodic limb movements are scored on exactly these channels (WASM 2016):

- each leg: :class:`~crampwatch.signal.emg.EmgChannel` (band-pass, notch, resting
  level) -> :class:`~crampwatch.detect.wasm.LegMovementScorer` (8 µV / 2 µV above rest);
- both legs: monolateral movements that overlap or lie less than 0.5 s apart (offset of
  one to onset of the next) are one *bilateral* movement; it is a candidate (CLM) when
  it lasts at most 15 s and none of its parts is longer than 10 s;
- periodicity (:class:`~crampwatch.detect.wasm.PeriodicityTracker`) runs on the
  combined sequence, so the PLM index counts a bilateral movement once.

Events are per leg (``leg``: ``left``/``right``, or the ``leg`` given for a one-leg
recording); a movement that is part of a bilateral one carries ``details.bilateral``
true and ``details.combined_onset_s``, the onset of the combined movement (count
distinct ``combined_onset_s`` values for the PLM index).

Streaming: :class:`LegMovementDetector` takes blocks of any size; movements are merged
and decided from the scored movements alone, so the events do not depend on the block
size. Pure computation: arrays in, events out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from crampwatch.blocks import SampleBlock
from crampwatch.detect.bad_signal import HARD_REASONS, bad_signal_reasons
from crampwatch.detect.timing import FRAME_S, REPLAY_BATCH_S
from crampwatch.detect.trackers import SignalIssueTracker, Span
from crampwatch.detect.wasm import (
    CLM_MAX_BILATERAL_S,
    CLM_MAX_S,
    REST_REF_UV,
    LegMovement,
    LegMovementScorer,
    PeriodicityTracker,
    plm_index,
    rest_relative_above,
)
from crampwatch.events import Event, event_id, onset_time_iso
from crampwatch.roles import (
    ACC_ROLES,
    LEG_EMG_ROLES,
    LEGS,
    REQUIRED_ROLES,
    channel_key,
    split_key,
)
from crampwatch.signal.emg import EmgChannel
from crampwatch.signal.frames import EMG_FEATURES, FeatureFrames, emg_columns

__all__ = [
    "BILATERAL_GAP_S",
    "DetectionMode",
    "LegMovementDetector",
    "combine_legs",
    "detect_legs",
    "detection_mode",
    "leg_channels",
    "plm_summary",
    "summary_lines",
]

BILATERAL_GAP_S = 0.5  # WASM 2016: < 0.5 s between the legs' movements -> one movement
_COL = {name: i for i, name in enumerate(EMG_FEATURES)}
# one leg's EMG features under the column names the bad-signal rules read
_NAMES = (*emg_columns("tib"), "gap")


@dataclass(frozen=True)
class DetectionMode:
    """What runs on a recording's channels.

    ``cramp_alarm``: the full detector (calf EMG + shin accelerometer). Otherwise leg
    movements only, from ``leg_channels`` (leg -> channel key; leg None for one leg).
    ``line``: the one line that says so to the user.
    """

    cramp_alarm: bool
    leg_channels: dict[str | None, str]
    line: str


def leg_channels(keys: Sequence[str]) -> dict[str | None, str]:
    """Leg -> the channel key to score leg movements on: the tibialis when there is
    one (as in polysomnography), else the calf. Two legs when a role has both sides."""
    out: dict[str | None, str] = {}
    for leg in LEGS:
        for role in LEG_EMG_ROLES:
            if f"{role}.{leg}" in keys:
                out[leg] = f"{role}.{leg}"
                break
    if out:
        return out
    for role in LEG_EMG_ROLES:
        if role in keys:
            return {None: role}
    return {}


def detection_mode(keys: Sequence[str]) -> DetectionMode:
    """Decide what runs from the channel keys of a recording (see :mod:`crampwatch.roles`).

    The cramp alarm needs the calf EMG and the shin accelerometer of one leg: without
    the accelerometer it cannot tell a cramp from a stretch or standing up (its motion
    and posture guards), and that case has not been evaluated, so it does not ring.
    """
    keys = list(keys)
    legs = leg_channels(keys)
    roles = {split_key(k)[0] for k in keys if split_key(k)[1] is None}
    muscles = ", ".join(
        f"{split_key(k)[0].removeprefix('emg_')}{'' if leg is None else ' ' + leg}"
        for leg, k in legs.items()
    )
    if all(r in roles for r in REQUIRED_ROLES) and len(legs) == 1:
        tib = " and tibialis" if "emg_tibialis" in roles else ""
        line = f"cramp alarm and leg movements: calf{tib} EMG, shin accelerometer"
        return DetectionMode(True, legs, line)
    has_acc = all(r in roles for r in ACC_ROLES)
    has_calf = any(split_key(k)[0] == "emg_calf" for k in keys)
    if not has_acc and not has_calf:
        why, alarm = "no accelerometer", "it needs a calf EMG and a shin accelerometer"
    elif not has_acc:
        # the alarm's guards against stretches, standing up and turning over are the
        # shin's motion and posture: evaluated without them (a still-shank stand-in,
        # bench/eval_no_accelerometer.py) it rings for those many times a night
        why, alarm = "no accelerometer", "without a shin accelerometer, stretches, turning "
        alarm += "over and leg movements that fire the calf would set it off"
    elif not has_calf:
        why, alarm = "no calf EMG", "it needs a calf EMG"
    else:
        why, alarm = "two legs", "it runs per leg's sensor set (calf EMG and accelerometer)"
    return DetectionMode(
        False, legs, f"leg movements only: {why} (scored on {muscles}); no cramp alarm: {alarm}"
    )


class _Leg:
    """One leg's EMG channel -> scored movements and signal-issue spans (streaming)."""

    def __init__(
        self, key: str, fs_hz: float, mains_hz: float | None, units_known: bool, batch_s: float
    ) -> None:
        self.key = key
        self.channel = EmgChannel(fs_hz, FRAME_S, mains_hz, shape_features=False)
        self.scorer = LegMovementScorer(FRAME_S)
        self.issues = SignalIssueTracker(split_key(key)[0], min_bad_s=2.0, min_good_s=5.0)
        self.units_known = units_known
        self._batch = max(0, round(batch_s * fs_hz))
        self._k = 0  # frames computed
        self.t_s = 0.0  # end of the last frame computed

    def push(self, block: SampleBlock) -> tuple[list[LegMovement], list[Span]]:
        self.channel.append(block.samples, block.t0_s)
        if self.channel.buffer.buffered < self._batch:
            return [], []
        return self._drain()

    def flush(self) -> tuple[list[LegMovement], list[Span]]:
        self.channel.finish()
        lms, spans = self._drain()
        return lms, spans + self.issues.flush(self.t_s)

    def _drain(self) -> tuple[list[LegMovement], list[Span]]:
        lms: list[LegMovement] = []
        spans: list[Span] = []
        while (res := self.channel.pop_features(65536)) is not None:
            rows, gap = res
            m = rows.shape[0]
            t = (np.arange(self._k, self._k + m) + 1) * FRAME_S
            self._k += m
            self.t_s = float(t[-1])
            frames = FeatureFrames(t, np.column_stack((rows, gap)), _NAMES)
            # the same bad-signal rules as the full detector (gap, electrode off,
            # clipping, hum, poor quality); only a broken frame stops a movement
            reasons = bad_signal_reasons(frames, "tib", units_known=self.units_known)
            spans += self.issues.push(t, reasons).spans
            if self.units_known:
                above = rows[:, _COL["above_rest_uv"]]
            else:  # WASM thresholds relative to the running resting level
                above = rest_relative_above(rows[:, _COL["env_uv"]], rows[:, _COL["rest_uv"]])
            lms += self.scorer.push(t, above, ~np.isin(reasons, HARD_REASONS))
        return lms, spans


def combine_legs(
    movements: Mapping[str | None, Sequence[LegMovement]],
) -> list[tuple[LegMovement, list[tuple[str | None, LegMovement]]]]:
    """Group the legs' movements (WASM 2016): movements on different legs that overlap
    or lie < 0.5 s apart form one bilateral movement (chains included). Returns
    ``(combined, [(leg, part), ...])`` in onset order; ``combined`` spans the parts, is
    decided when its last part is, and is a candidate when it lasts ≤ 15 s (10 s for
    one leg) and no part is longer than 10 s."""
    parts = sorted(
        ((lm, leg) for leg, lms in movements.items() for lm in lms),
        key=lambda p: (p[0].onset_s, p[0].end_s),
    )
    groups: list[list[tuple[LegMovement, str | None]]] = []
    for lm, leg in parts:
        # one leg's own movements are always >= 0.5 s apart (the offset needs 0.5 s of
        # quiet), so anything this close is the other leg: chains included
        if groups and lm.onset_s < max(m.end_s for m, _ in groups[-1]) + BILATERAL_GAP_S - 1e-9:
            groups[-1].append((lm, leg))
        else:
            groups.append([(lm, leg)])
    out = []
    for g in groups:
        onset = min(m.onset_s for m, _ in g)
        end = max(m.end_s for m, _ in g)
        bilateral = len({leg for _, leg in g}) > 1
        limit = CLM_MAX_BILATERAL_S if bilateral else CLM_MAX_S
        candidate = all(m.candidate for m, _ in g) and end - onset <= limit + 1e-9
        combined = LegMovement(
            onset_s=onset,
            end_s=end,
            decided_at_s=max(m.decided_at_s for m, _ in g),
            peak_uv=max(m.peak_uv for m, _ in g),
            mean_uv=float(np.mean([m.mean_uv for m, _ in g])),
            candidate=candidate,
        )
        out.append((combined, [(leg, m) for m, leg in g]))
    return out


class LegMovementDetector:
    """Blocks of leg EMG in, leg-movement events out (one or both legs).

    Parameters
    ----------
    channels:
        leg -> channel key (``emg_tibialis.left``, ``emg_calf``, ...), e.g. from
        :func:`leg_channels`; leg None for a one-leg recording (events then carry
        ``default_leg``).
    fs_hz:
        channel key -> sampling rate, Hz.
    batch_s:
        Seconds gathered per computation (offline replays: fewer, larger calls).
    """

    def __init__(
        self,
        channels: Mapping[str | None, str],
        fs_hz: Mapping[str, float],
        *,
        device_id: str,
        default_leg: str | None = None,
        start_time: datetime | None = None,
        mains_hz: float | None = None,
        emg_units_known: bool = True,
        batch_s: float = 0.0,
    ) -> None:
        self.device_id = device_id
        self.start_time = start_time
        self.default_leg = default_leg
        self.emg_units_known = bool(emg_units_known)
        self._legs = {
            leg: _Leg(key, float(fs_hz[key]), mains_hz, self.emg_units_known, batch_s)
            for leg, key in channels.items()
        }
        self._by_key = {leg_.key: leg for leg, leg_ in self._legs.items()}
        self._pending: dict[str | None, list[LegMovement]] = {leg: [] for leg in self._legs}
        self._periodic = PeriodicityTracker()
        self._groups: dict[float, list[tuple[str | None, LegMovement]]] = {}
        self.movements = 0  # combined movements decided
        self.periodic_onsets: list[float] = []  # onsets of periodic combined movements

    def push(self, block: SampleBlock, key: str | None = None) -> list[Event]:
        """Feed one block of channel ``key`` (default: the block's role and leg, e.g.
        ``emg_tibialis.left``); other channels are ignored. Returns the events decided."""
        if key is None:
            key = block.role if block.role in self._by_key else channel_key(block.role, block.leg)
        leg = self._by_key.get(key, "-")
        if leg == "-":
            return []
        lms, spans = self._legs[leg].push(block)
        self._pending[leg] += lms
        return [self._issue(leg, s) for s in spans] + self._release(final=False)

    def flush(self) -> list[Event]:
        """End of the recording: decide everything."""
        issues = []
        for leg, st in self._legs.items():
            lms, spans = st.flush()
            self._pending[leg] += lms
            issues += [self._issue(leg, s) for s in spans]
        return issues + self._release(final=True)

    def _release(self, *, final: bool) -> list[Event]:
        # a combined movement is final when no movement that could still join it can
        # come: every leg is scored past its end + 0.5 s, and a movement in progress
        # (not yet confirmed by its quiet period) started later than that
        horizon = min(_scored_until_s(st) for st in self._legs.values())
        groups = combine_legs(self._pending)
        n = 0
        while n < len(groups) and (final or groups[n][0].end_s + BILATERAL_GAP_S < horizon):
            n += 1
        ready = groups[:n]
        done = {id(m) for _, parts in ready for _, m in parts}
        for leg in self._pending:
            self._pending[leg] = [m for m in self._pending[leg] if id(m) not in done]
        decided: list[LegMovement] = []
        for combined, parts in ready:
            self._groups[combined.onset_s] = parts
            self.movements += 1
            decided += self._periodic.advance(combined.decided_at_s)
            decided += self._periodic.add(combined)
        if final:
            end = max(st.t_s for st in self._legs.values())
            decided += self._periodic.flush(end)
        events: list[Event] = []
        for c in decided:
            if c.periodic:
                self.periodic_onsets.append(c.onset_s)
            parts = self._groups.pop(c.onset_s)
            if c.candidate:  # only candidate movements are events (as for one leg)
                events += [self._event(c, leg, m, len(parts) > 1) for leg, m in parts]
        return events

    def _issue(self, leg: str | None, s: Span) -> Event:
        leg_out = leg if leg is not None else self.default_leg
        id_type = f"signal_issue:{s.details.get('channel', '')}"
        return Event(
            id=event_id(self.device_id, id_type, s.onset_s, leg_out, self.start_time),
            device_id=self.device_id,
            type="signal_issue",
            onset_s=max(0.0, s.onset_s),
            end_s=s.end_s,
            detected_at_s=s.decided_at_s,
            confidence=1.0,
            leg=leg_out,
            onset_time=onset_time_iso(self.start_time, max(0.0, s.onset_s)),
            details=dict(s.details),
        )

    def _event(self, c: LegMovement, leg: str | None, m: LegMovement, bilateral: bool) -> Event:
        details: dict[str, Any] = {
            "duration_s": round(m.duration_s, 3),
            "channel": split_key(self._legs[leg].key)[0],
            "bilateral": bilateral,
            "combined_onset_s": c.onset_s,
        }
        leg = leg if leg is not None else self.default_leg
        if self.emg_units_known:
            details["peak_above_rest_uv"] = round(m.peak_uv, 2)
            details["mean_above_rest_uv"] = round(m.mean_uv, 2)
        else:
            details["peak_above_rest_x"] = round(m.peak_uv / REST_REF_UV, 2)
            details["mean_above_rest_x"] = round(m.mean_uv / REST_REF_UV, 2)
            details["thresholds"] = "rest_relative"
        return Event(
            id=event_id(self.device_id, "leg_movement", m.onset_s, leg, self.start_time),
            device_id=self.device_id,
            type="leg_movement",
            onset_s=m.onset_s,
            end_s=m.end_s,
            detected_at_s=c.decided_at_s,
            confidence=1.0,
            leg=leg,
            onset_time=onset_time_iso(self.start_time, m.onset_s),
            periodic=bool(c.periodic),
            details=details,
        )


def detect_legs(
    recording,
    channels: Mapping[str | None, str],
    *,
    device_id: str = "offline",
    block_s: float = 60.0,
    leg: str | None = None,
    mains_hz: float | None = None,
    emg_units_known: bool | None = None,
    batch_s: float = REPLAY_BATCH_S,
    progress: Callable[[float], None] | None = None,
) -> list[Event]:
    """Replay the leg EMG channels of ``recording`` through a :class:`LegMovementDetector`;
    events in emission order."""
    from crampwatch.recordings.replay import iter_channel_blocks

    det = LegMovementDetector(
        channels,
        recording.fs_hz,
        device_id=device_id,
        default_leg=leg,
        start_time=recording.start_time,
        mains_hz=mains_hz,
        emg_units_known=recording.emg_units_known if emg_units_known is None else emg_units_known,
        batch_s=batch_s,
    )
    events: list[Event] = []
    for key, block in iter_channel_blocks(recording, block_s, list(channels.values())):
        events += det.push(block, key)
        if progress is not None:
            progress(block.end_s)
    events += det.flush()
    # emission order depends on when the legs' movements could be combined (the block
    # size); the decision times do not
    return sorted(events, key=lambda e: (e.detected_at_s, e.onset_s, e.type, str(e.leg)))


def plm_summary(
    events: Sequence[Event],
    duration_s: float,
    hypnogram=None,
    *,
    recorded_s: float | None = None,
) -> dict[str, Any]:
    """Leg movements and the PLM index from ``leg_movement`` events: a bilateral movement
    (parts sharing ``details.combined_onset_s``) counts once. With a hypnogram
    (:class:`crampwatch.recordings.hypnogram.Hypnogram`): PLMS per hour of sleep and
    PLMW per hour of wake; without, PLM per hour of recording (``recorded_s``: the
    recording's length without its gaps, default ``duration_s``)."""
    hours = (duration_s if recorded_s is None else recorded_s) / 3600.0
    combined: dict[float, bool] = {}
    bilateral = 0
    for ev in events:
        if ev.type != "leg_movement":
            continue
        key = float(ev.details.get("combined_onset_s", ev.onset_s))
        if key not in combined and ev.details.get("bilateral"):
            bilateral += 1
        combined[key] = bool(ev.periodic)
    onsets = np.array(sorted(combined), dtype=np.float64)
    periodic = np.array([combined[k] for k in sorted(combined)], dtype=bool)
    out: dict[str, Any] = {
        "leg_movements": len(combined),
        "bilateral": bilateral,
        "periodic": int(periodic.sum()),
        "hours": hours,
        "plm_index_per_h": plm_index(int(periodic.sum()), hours),
        "hypnogram": None,
    }
    if hypnogram is not None:
        stage = hypnogram.stage_at(onsets) if onsets.size else np.array([], dtype=object)
        sleep = np.isin(stage, hypnogram.sleep_stages)
        wake = stage == "W"
        sleep_h = hypnogram.sleep_hours(duration_s)
        wake_h = hypnogram.wake_hours(duration_s)
        out.update(
            hypnogram=hypnogram.source,
            sleep_hours=sleep_h,
            wake_hours=wake_h,
            plms=int(np.sum(periodic & sleep)),
            plmw=int(np.sum(periodic & wake)),
            plms_index_per_h=plm_index(int(np.sum(periodic & sleep)), sleep_h),
            plmw_index_per_h=plm_index(int(np.sum(periodic & wake)), wake_h),
        )
    return out


def summary_lines(s: Mapping[str, Any]) -> list[str]:
    """The summary of :func:`plm_summary` for people, a line each."""
    lines = [
        f"leg movements: {s['leg_movements']} ({s['bilateral']} bilateral), "
        f"{s['periodic']} periodic"
    ]
    if s["hypnogram"] is not None:
        lines.append(
            f"PLMS index {s['plms_index_per_h']:.1f}/h of sleep ({s['plms']} in "
            f"{s['sleep_hours']:.2f} h asleep); PLMW index {s['plmw_index_per_h']:.1f}/h of "
            f"wake ({s['plmw']} in {s['wake_hours']:.2f} h); hypnogram: {s['hypnogram']}"
        )
    else:
        lines.append(
            f"PLM index {s['plm_index_per_h']:.1f}/h of recording ({s['hours']:.2f} h): "
            "no hypnogram, so per hour of recording, not of sleep"
        )
    return lines


def _scored_until_s(leg: _Leg) -> float:
    """Recording time (s) up to which ``leg``'s movements are final: the onset of a
    movement in progress, else the last frame scored."""
    onset_s = leg.scorer.onset_s if leg.scorer.active else None
    return leg.t_s if onset_s is None else onset_s
