"""Event-level scoring of detected events against ground truth.

Matching rules (documented in ``crampwatch/models/MODEL_CARD.md``):

- **cramp alarm**: the onset event of a detected cramp (its first emission) is a *hit*
  when its alarm time ``detected_at_s`` lies in ``[truth onset − prodrome − 5 s,
  truth end]`` of a truth cramp (the prodrome is the slow calf rise before the
  sustained contraction; waking the sleeper during it is welcome). Each truth cramp is
  matched at most once; further alarms inside an already matched cramp are counted as
  ``duplicates``, not false alarms. Latency = alarm time − truth onset (negative when
  the alarm came during the prodrome); also reported over cramps without a prodrome
  only, where an early warning is impossible.
- **false alarm**: an alarm that matches no truth cramp; it is attributed to the truth
  event overlapping the alarm time ± 2 s (``position_change``/``stretch``/
  ``leg_movement``/``restless_bout``/``tone_rise``/``signal_issue:<kind>``), else
  ``none``.
- **cramp_warning**: a prodromal cramp counts as *warned before onset* when a warning's
  first emission falls in ``[truth onset − prodrome − 5 s, truth onset)``; warnings are
  also counted per 8 h of nights without a cramp.
- **leg movement**: a detected and a truth leg movement match when their intervals
  overlap (one-to-one, greedy in onset order); precision, recall and F1 over matches.
- **PLM index**: periodic leg movements per hour, detected vs truth (truth periodic
  flags come with the truth; else WASM 2016 is applied to the truth onsets).
- **weak cramps**: where the night's resting calf EMG level is known (simulated
  nights), a truth cramp whose peak is below :data:`WEAK_CRAMP_X` × that level is
  *weak*; sensitivity is also reported over weak cramps and over the others.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crampwatch.events import Event

__all__ = [
    "METRICS",
    "WEAK_CRAMP_X",
    "Metric",
    "NightScore",
    "final_events",
    "first_emissions",
    "format_causes",
    "format_value",
    "score_night",
    "summarize",
]

_PRE_MARGIN_S = 5.0
# A cramp below this multiple of the night's resting calf EMG is "weak" (a partial
# cramp): below the cramp force the alarm looks for (CrampParams.cramp_rel), where it
# has to be told from calf tone that rises to a few times rest and resolves.
WEAK_CRAMP_X = 8.0
_CONFOUNDER_PAD_S = 2.0
_CONFOUNDER_ORDER = (
    "signal_issue",
    "position_change",
    "out_of_bed",
    "stretch",
    "restless_bout",
    "leg_movement",
    "tone_rise",
)


@dataclass(frozen=True)
class Metric:
    """One row of the metrics table: a key of :func:`summarize`'s result (or of the
    per-channel split ``crampwatch evaluate`` adds), how it is labelled, its target
    (empty: reported, no target) and the digits it is shown with."""

    key: str
    label: str
    target: str
    digits: int


# The one table of event-level metrics: ``crampwatch evaluate`` prints it, the model card
# and the README's targets are rendered from it. Labels starting "—" break the row above
# down (by channel set, or cramps without a prodrome).
METRICS: tuple[Metric, ...] = (
    Metric("cramp_sensitivity", "cramp sensitivity", "≥ 0.95", 3),
    Metric(
        "cramp_sensitivity_weak", f"— sensitivity, weak cramps (< {WEAK_CRAMP_X:g} × rest)", "", 3
    ),
    Metric("cramp_sensitivity_strong", "— sensitivity, the other cramps", "", 3),
    Metric("cramp_sensitivity_tib", "— sensitivity, nights with tibialis", "", 3),
    Metric("cramp_sensitivity_calf_only", "— sensitivity, calf-only nights", "", 3),
    Metric("false_alarms_per_8h", "false alarms per 8 h", "≤ 0.1", 3),
    Metric("false_alarms_per_100_nights", "false alarms per 100 nights of 8 h", "soak ≤ 3", 1),
    Metric("warned_before_onset_share", "prodromal cramps warned before onset", "aim ≥ 0.5", 2),
    Metric("warnings_per_cramp_free_8h", "cramp_warning per cramp-free 8 h", "aim ≤ a few", 2),
    Metric("latency_p50_s", "alarm latency p50 (s)", "≤ 3", 2),
    Metric("latency_p95_s", "alarm latency p95 (s)", "≤ 6", 2),
    Metric("latency_no_prodrome_p50_s", "— latency p50, cramps without prodrome (s)", "≤ 3", 2),
    Metric("latency_no_prodrome_p95_s", "— latency p95, cramps without prodrome (s)", "≤ 6", 2),
    Metric("lm_precision", "leg-movement precision", "", 3),
    Metric("lm_recall", "leg-movement recall", "", 3),
    Metric("lm_f1", "leg-movement F1", "≥ 0.9", 3),
    Metric("plm_index_error_per_h", "PLM-index error (/h)", "≤ 2", 2),
    Metric("lm_f1_tib", "— LM F1, nights with tibialis", "", 3),
    Metric("lm_f1_calf_only", "— LM F1, calf-only nights", "", 3),
    Metric("plm_index_error_tib", "— PLM error, nights with tibialis (/h)", "", 2),
    Metric("plm_index_error_calf_only", "— PLM error, calf-only nights (/h)", "", 2),
    Metric("latency_p50_s_tib", "— latency p50, nights with tibialis (s)", "", 2),
    Metric("latency_p95_s_tib", "— latency p95, nights with tibialis (s)", "", 2),
    Metric("latency_p50_s_calf_only", "— latency p50, calf-only nights (s)", "", 2),
    Metric("latency_p95_s_calf_only", "— latency p95, calf-only nights (s)", "", 2),
    Metric("false_alarms_per_8h_tib", "— false alarms per 8 h, nights with tibialis", "", 3),
    Metric("false_alarms_per_8h_calf_only", "— false alarms per 8 h, calf-only nights", "", 3),
    Metric("cramps", "truth cramps", "", 0),
    Metric("hours", "hours scored", "", 1),
)


def format_value(value: Any, digits: int) -> str:
    """A figure as the metrics table shows it: floats to ``digits`` decimals (NaN, a
    figure without data such as latency on cramp-free nights: ``n/a``), others as is."""
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def format_causes(causes: Mapping[str, int]) -> str:
    """False alarms by cause, e.g. ``leg_movement 5, none 1`` (``-``: none)."""
    return ", ".join(f"{k} {v}" for k, v in sorted(causes.items())) or "-"


@dataclass
class NightScore:
    """Counts for one night (sum them over nights with :func:`summarize`)."""

    hours: float
    truth_cramps: int = 0
    hit_cramps: int = 0
    weak_cramps: int = 0  # of truth_cramps (0 where the resting level is unknown)
    weak_hits: int = 0
    strength_known: bool = False
    false_alarms: int = 0
    duplicates: int = 0
    latencies_s: list[float] = field(default_factory=list)
    latencies_no_prodrome_s: list[float] = field(default_factory=list)
    false_alarm_causes: Counter = field(default_factory=Counter)
    lm_truth: int = 0
    lm_detected: int = 0
    lm_matched: int = 0
    plm_truth: int = 0
    plm_detected: int = 0
    prodromal_cramps: int = 0
    warned_before_onset: int = 0
    warnings: int = 0
    false_alarm_times_s: list[tuple[float, str]] = field(default_factory=list)
    label: str = ""

    @property
    def plm_index_error(self) -> float:
        return abs(self.plm_detected - self.plm_truth) / self.hours if self.hours > 0 else 0.0


def final_events(events: Iterable[Event]) -> list[Event]:
    """The last emission of each id (an ongoing cramp's end update replaces its onset)."""
    last: dict[str, Event] = {}
    for ev in events:
        last[ev.id] = ev
    return sorted(last.values(), key=lambda e: (e.onset_s, e.type))


def first_emissions(events: Iterable[Event]) -> list[Event]:
    """The first emission of each id (for a cramp: the alarm)."""
    first: dict[str, Event] = {}
    for ev in events:
        first.setdefault(ev.id, ev)
    return sorted(first.values(), key=lambda e: (e.onset_s, e.type))


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 and b0 < a1


def _confounder(t: float, truth: Sequence[Any]) -> str:
    near = {
        ev.type: ev
        for ev in truth
        if ev.type != "cramp"
        and _overlaps(t - _CONFOUNDER_PAD_S, t + _CONFOUNDER_PAD_S, ev.onset_s, ev.end_s)
    }
    for kind in _CONFOUNDER_ORDER:
        if kind in near:
            sub = near[kind].kind if kind == "signal_issue" else None
            return f"{kind}:{sub}" if sub else kind
    return "none"


def _truth_periodic(lms: Sequence[Any]) -> list[bool]:
    if all(ev.periodic is not None for ev in lms):
        return [bool(ev.periodic) for ev in lms]
    from crampwatch.detect.wasm import LegMovement, periodic_flags

    fake = [LegMovement(e.onset_s, e.end_s, e.end_s, 0.0, 0.0, True) for e in lms]
    return periodic_flags(fake)


def score_night(
    events: Sequence[Event],
    truth: Sequence[Any],
    hours: float,
    *,
    label: str = "",
    calf_rest_uv: float | None = None,
) -> NightScore:
    """Score one night's emitted ``events`` against ``truth`` (objects with ``type``,
    ``onset_s``, ``end_s``, optional ``periodic`` and ``details``), ``hours`` long.
    ``calf_rest_uv``: the night's resting calf EMG level (µV, the unit of the truth
    cramps' ``details["peak_uv"]``), if known: cramps are then split weak / other."""
    s = NightScore(hours=hours, label=label)
    cramps = sorted((e for e in truth if e.type == "cramp"), key=lambda e: e.onset_s)
    s.truth_cramps = len(cramps)
    matched: set[int] = set()
    alarms = [e for e in first_emissions(events) if e.type == "cramp"]
    for al in sorted(alarms, key=lambda e: e.detected_at_s):
        t = al.detected_at_s
        hit = None
        for j, c in enumerate(cramps):
            pro = float((c.details or {}).get("prodrome_s") or 0.0)
            if c.onset_s - pro - _PRE_MARGIN_S <= t <= c.end_s:
                hit = j
                break
        if hit is None:
            s.false_alarms += 1
            cause = _confounder(t, truth)
            s.false_alarm_causes[cause] += 1
            s.false_alarm_times_s.append((round(t, 1), cause))
        elif hit in matched:
            s.duplicates += 1
        else:
            matched.add(hit)
            s.latencies_s.append(t - cramps[hit].onset_s)
            if not float((cramps[hit].details or {}).get("prodrome_s") or 0.0):
                s.latencies_no_prodrome_s.append(t - cramps[hit].onset_s)
    s.hit_cramps = len(matched)
    if calf_rest_uv is not None and calf_rest_uv > 0:
        s.strength_known = True
        for j, c in enumerate(cramps):
            peak = (c.details or {}).get("peak_uv")
            if peak is not None and float(peak) < WEAK_CRAMP_X * calf_rest_uv:
                s.weak_cramps += 1
                s.weak_hits += j in matched
    _score_warnings(s, events, cramps)

    t_lms = sorted((e for e in truth if e.type == "leg_movement"), key=lambda e: e.onset_s)
    d_lms = [e for e in final_events(events) if e.type == "leg_movement"]
    s.lm_truth, s.lm_detected = len(t_lms), len(d_lms)
    used = np.zeros(len(t_lms), bool)
    j0 = 0
    for d in d_lms:
        end = d.end_s if d.end_s is not None else d.onset_s
        while j0 < len(t_lms) and t_lms[j0].end_s <= d.onset_s:
            j0 += 1
        for j in range(j0, len(t_lms)):
            if t_lms[j].onset_s >= end:
                break
            if not used[j] and _overlaps(d.onset_s, end, t_lms[j].onset_s, t_lms[j].end_s):
                used[j] = True
                s.lm_matched += 1
                break
    s.plm_truth = int(sum(_truth_periodic(t_lms))) if t_lms else 0
    s.plm_detected = sum(1 for e in d_lms if e.periodic)
    return s


def _score_warnings(s: NightScore, events: Sequence[Event], cramps: Sequence[Any]) -> None:
    """``cramp_warning`` figures: warnings emitted, and prodromal cramps (a slow rise
    before the sustained contraction) with a warning raised during that rise, before
    the cramp's onset."""
    warns = [e for e in first_emissions(events) if e.type == "cramp_warning"]
    s.warnings = len(warns)
    for c in cramps:
        pro = float((c.details or {}).get("prodrome_s") or 0.0)
        if pro <= 0:
            continue
        s.prodromal_cramps += 1
        lo = c.onset_s - pro - _PRE_MARGIN_S
        if any(lo <= w.detected_at_s < c.onset_s for w in warns):
            s.warned_before_onset += 1


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else float("nan")


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def summarize(scores: Sequence[NightScore]) -> dict[str, Any]:
    """Pooled metrics over nights (event counts summed, latencies pooled)."""
    hours = sum(s.hours for s in scores)
    truth = sum(s.truth_cramps for s in scores)
    hits = sum(s.hit_cramps for s in scores)
    fa = sum(s.false_alarms for s in scores)
    lat = np.array([x for s in scores for x in s.latencies_s])
    lat_np = np.array([x for s in scores for x in s.latencies_no_prodrome_s])
    lm_t = sum(s.lm_truth for s in scores)
    lm_d = sum(s.lm_detected for s in scores)
    lm_m = sum(s.lm_matched for s in scores)
    prec, rec = _ratio(lm_m, lm_d), _ratio(lm_m, lm_t)
    causes: Counter = Counter()
    for s in scores:
        causes.update(s.false_alarm_causes)
    pro = sum(s.prodromal_cramps for s in scores)
    cramp_free = [s for s in scores if s.truth_cramps == 0]
    free_h = sum(s.hours for s in cramp_free)
    known = [s for s in scores if s.strength_known]
    weak = sum(s.weak_cramps for s in known)
    weak_hits = sum(s.weak_hits for s in known)
    known_truth = sum(s.truth_cramps for s in known)
    known_hits = sum(s.hit_cramps for s in known)
    return {
        "nights": len(scores),
        "hours": hours,
        "cramps": truth,
        "cramp_sensitivity": _ratio(hits, truth),
        "weak_cramps": weak,
        "cramp_sensitivity_weak": _ratio(weak_hits, weak),
        "cramp_sensitivity_strong": _ratio(known_hits - weak_hits, known_truth - weak),
        "false_alarms": fa,
        "false_alarms_per_8h": _ratio(fa * 8.0, hours),
        "latency_p50_s": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "latency_p95_s": float(np.percentile(lat, 95)) if lat.size else float("nan"),
        "latency_no_prodrome_p50_s": _pct(lat_np, 50),
        "latency_no_prodrome_p95_s": _pct(lat_np, 95),
        "lm_precision": prec,
        "lm_recall": rec,
        "lm_f1": _ratio(2 * prec * rec, prec + rec) if lm_d and lm_t else float("nan"),
        "plm_index_error_per_h": float(np.mean([s.plm_index_error for s in scores]))
        if scores
        else float("nan"),
        "false_alarm_causes": dict(causes),
        "false_alarms_per_100_nights": _ratio(fa * 800.0, hours),
        "prodromal_cramps": pro,
        "warned_before_onset_share": _ratio(sum(s.warned_before_onset for s in scores), pro),
        "warnings": sum(s.warnings for s in scores),
        "warnings_per_cramp_free_8h": _ratio(sum(s.warnings for s in cramp_free) * 8.0, free_h),
    }
