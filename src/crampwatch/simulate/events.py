"""What happens in a simulated night: scheduled events in, ground truth out.

:class:`ScheduledEvent` says what to put where (tests build them by hand; the random
schedule draws them from the night's parameters). :class:`TruthEvent` is the ground
truth the simulator reports for what it actually placed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SCHEDULE_TYPES",
    "SIGNAL_ISSUE_KINDS",
    "TRUTH_TYPES",
    "ScheduledEvent",
    "TruthEvent",
    "random_schedule",
    "wasm_periodic",
]

TRUTH_TYPES: tuple[str, ...] = (
    "cramp",
    "leg_movement",
    "position_change",
    "stretch",
    "signal_issue",
    "restless_bout",
    "tone_rise",
    "out_of_bed",
)
SIGNAL_ISSUE_KINDS: tuple[str, ...] = (
    "electrode_off",
    "pop",
    "flat_line",
    "mains",
    "electrode_failing",
)
SCHEDULE_TYPES: tuple[str, ...] = (
    "cramp",
    "leg_movement",
    "plm_series",
    "restless_bout",
    "turn_over",
    "stretch",
    "tone_rise",
    "get_up",
    *SIGNAL_ISSUE_KINDS,
)
REACTIONS: tuple[str, ...] = ("stand_up", "stretch", "none")


@dataclass(frozen=True)
class ScheduledEvent:
    """One event to place in a night; ``None`` fields are drawn from the night's ranges.

    ``type`` is one of :data:`SCHEDULE_TYPES`. Fields after ``onset_s`` are keyword-only.

    - ``cramp``: ``onset_s`` = start of the sustained contraction (after the
      prodrome); ``duration_s`` of the sustained part; ``peak_uv`` RMS; ``prodrome_s``
      (0 = none); ``fasciculations`` (number of twitches before); ``reaction``
      (``stand_up``, ``stretch``, ``none``).
    - ``leg_movement``: one movement, ``duration_s`` 0.5–10 s, ``peak_uv`` tibialis RMS.
    - ``plm_series``: ``count`` movements ``interval_s`` apart (onset to onset, ±10 %).
    - ``restless_bout``: ``duration_s`` of irregular movements a few seconds apart.
    - ``turn_over``: both muscles and a posture change; ``posture`` the new one.
    - ``stretch``: voluntary plantar flexion with limb movement; ``peak_uv`` calf RMS.
    - ``tone_rise``: a calf tone rise that resolves without a cramp; ``duration_s``
      rise + hold + fade; ``peak_uv`` the peak level as a multiple of the resting level
      (× rest, not µV); ``fasciculations`` twitches during it.
    - ``get_up``: out of bed and back (stand up, walk, stand, walk, lie down); truth:
      the two position changes and ``out_of_bed`` over the whole.
    - ``electrode_off`` / ``pop`` / ``flat_line`` / ``mains`` / ``electrode_failing``:
      signal issues on ``muscle`` (``emg_calf``, ``emg_tibialis`` or ``both``);
      ``peak_uv`` is the hum amplitude, the pop step or the mains amplitude
      (``electrode_failing``: the largest hum).
    """

    type: str
    onset_s: float
    _: KW_ONLY
    duration_s: float | None = None
    peak_uv: float | None = None
    prodrome_s: float | None = None
    fasciculations: int | None = None
    reaction: str | None = None
    count: int | None = None
    interval_s: float | None = None
    posture: str | None = None
    muscle: str | None = None
    hf_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.type not in SCHEDULE_TYPES:
            raise ValueError(f"unknown event type {self.type!r}; expected one of {SCHEDULE_TYPES}")
        if self.reaction is not None and self.reaction not in REACTIONS:
            raise ValueError(f"reaction must be one of {REACTIONS}, got {self.reaction!r}")


@dataclass(frozen=True)
class TruthEvent:
    """Ground truth of one placed event, in recording seconds.

    ``type`` is one of :data:`TRUTH_TYPES`. For a cramp, ``onset_s`` is the moment the
    sustained contraction starts (the end of any prodrome; ``details["prodrome_s"]``
    says how long the slow rise before it lasted) and ``end_s`` the end of its decay.
    ``leg_movement`` carries ``periodic`` (WASM 2016 series rule over the movements
    actually placed); ``signal_issue`` carries ``kind``; ``position_change`` carries
    ``kind`` (``turn_over``, ``stand_up``, ``lie_down``). ``tone_rise`` is a rise of
    calf tone that resolved without a cramp (a look-alike, never to be alarmed).
    ``out_of_bed``: the sleeper up, from standing up to lying down again (the calf works,
    no cramp for it).
    """

    type: str
    onset_s: float
    end_s: float
    leg: str | None = None
    periodic: bool | None = None
    kind: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.onset_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "onset_s": round(float(self.onset_s), 4),
            "end_s": round(float(self.end_s), 4),
            "leg": self.leg,
            "periodic": self.periodic,
            "kind": self.kind,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TruthEvent:
        return cls(
            type=str(d["type"]),
            onset_s=float(d["onset_s"]),
            end_s=float(d["end_s"]),
            leg=d.get("leg"),
            periodic=d.get("periodic"),
            kind=d.get("kind"),
            details=dict(d.get("details") or {}),
        )

    def annotation_text(self) -> str:
        """EDF+ annotation text: the type, then ``periodic`` and/or the kind."""
        words = [self.type]
        if self.periodic:
            words.append("periodic")
        if self.kind:
            words.append(self.kind)
        return " ".join(words)


def wasm_periodic(
    onsets_s: Sequence[float],
    *,
    min_count: int = 4,
    min_interval_s: float = 10.0,
    max_interval_s: float = 90.0,
) -> list[bool]:
    """Periodic flags for leg movements by the WASM 2016 series rule.

    A PLM series is a run of at least ``min_count`` consecutive movements whose
    onset-to-onset intervals all lie in [10, 90] s (Ferri et al., Sleep Med
    2016;26:86–95); an interval outside that range ends a series. Simplified: the
    rule's exclusions (movements tied to respiratory events, bilateral merging) do not
    arise in a one-leg simulation. Flags are returned in the order of ``onsets_s``.
    """
    order = np.argsort(np.asarray(onsets_s, dtype=float), kind="stable")
    t = np.asarray(onsets_s, dtype=float)[order]
    flags_sorted = np.zeros(len(t), dtype=bool)
    start = 0
    for i in range(1, len(t) + 1):
        ok = i < len(t) and min_interval_s <= t[i] - t[i - 1] <= max_interval_s
        if not ok:
            if i - start >= min_count:
                flags_sorted[start:i] = True
            start = i
    flags = np.zeros(len(t), dtype=bool)
    flags[order] = flags_sorted
    return [bool(f) for f in flags]


class _Timeline:
    """Busy intervals of a night; events are placed where nothing else happens."""

    def __init__(self, total_s: float, margin_s: float = 3.0) -> None:
        self.total_s = total_s
        self.margin_s = margin_s
        self.busy: list[tuple[float, float]] = []

    def is_free(self, a: float, b: float) -> bool:
        if a < 1.0 or b > self.total_s - 1.0:
            return False
        m = self.margin_s
        return all(b + m <= x or a >= y + m for x, y in self.busy)

    def place(
        self,
        rng: np.random.Generator,
        span_s: float,
        lead_s: float = 0.0,
        window: tuple[float, float] | None = None,
        tries: int = 300,
    ) -> float | None:
        """An onset with ``[onset - lead_s, onset - lead_s + span_s]`` free, or None."""
        lo, hi = window or (0.0, self.total_s)
        hi = min(hi, self.total_s) - span_s
        if hi <= lo:
            return None
        for _ in range(tries):
            a = float(rng.uniform(lo, hi))
            if self.is_free(a, a + span_s):
                self.busy.append((a, a + span_s))
                return a + lead_s
        return None


# rise, hold and fade of a resolving tone rise, s (issue #13)
TONE_PARTS_S = ((5.0, 120.0), (2.0, 60.0), (5.0, 60.0))


def _count(rng: np.random.Generator, mean: float) -> int:
    return int(rng.poisson(max(mean, 0.0)))


def random_schedule(
    rng: np.random.Generator, total_s: float, params: dict[str, Any]
) -> list[ScheduledEvent]:
    """A random night: counts from the night's rates, placed without overlap.

    Cramps are placed first (at least one in a ``train`` night of 30 min or more, so
    that every training night has positives), then trips out of bed, restless bouts
    (preferably in the first 90 min, around sleep onset), PLM series, signal issues,
    stretches, turns, isolated movements and pops. Parameters left ``None`` are drawn
    at synthesis.
    """
    hours = total_s / 3600.0
    per_night = hours / 8.0
    tl = _Timeline(total_s)
    out: list[ScheduledEvent] = []

    n_cramps = _count(rng, params["cramps_per_night"] * per_night)
    if params["variant"] == "train" and hours >= 0.5:
        n_cramps = max(n_cramps, 1)
    for _ in range(n_cramps):
        dur = float(np.clip(rng.lognormal(np.log(params["cramp_median_s"]), 0.6), 8.0, 900.0))
        prodrome = float(rng.uniform(10.0, 60.0)) if rng.random() < params["p_prodrome"] else 0.0
        fasc = int(rng.integers(3, 15)) if rng.random() < params["p_fasciculation"] else 0
        lead = prodrome + (60.0 if fasc else 0.0)
        tail = 320.0  # room for the waking reaction (standing up lasts up to 5 min)
        onset = tl.place(rng, lead + dur + tail, lead_s=lead, window=(30.0, total_s))
        if onset is not None:
            out.append(
                ScheduledEvent(
                    "cramp", onset, duration_s=dur, prodrome_s=prodrome, fasciculations=fasc
                )
            )

    # trips out of bed next: long (up to 4 min, in a 400-s slot), they need room a busy
    # night lacks later
    for _ in range(_count(rng, params.get("get_ups_per_night", 0.0) * per_night)):
        onset = tl.place(rng, 400.0)
        if onset is not None:
            out.append(ScheduledEvent("get_up", onset))

    for _ in range(_count(rng, params["restless_per_night"] * per_night)):
        dur = float(rng.uniform(60.0, 600.0))
        window = (0.0, 5400.0) if rng.random() < 0.6 else None
        onset = tl.place(rng, dur, window=window) or tl.place(rng, dur)
        if onset is not None:
            out.append(ScheduledEvent("restless_bout", onset, duration_s=dur))

    for _ in range(_count(rng, params["plm_series_per_night"] * per_night)):
        count = int(rng.integers(4, 80))
        interval = float(params["plm_interval_s"] * rng.uniform(0.85, 1.15))
        onset = tl.place(rng, count * interval * 1.15 + 12.0)
        if onset is not None:
            out.append(ScheduledEvent("plm_series", onset, count=count, interval_s=interval))

    for _ in range(_count(rng, params.get("tone_rises_per_night", 0.0) * per_night)):
        # rise 5–120 s, hold 2–60 s, fade 5–60 s (log-uniform each), + an ending
        parts = [float(np.exp(rng.uniform(np.log(a), np.log(b)))) for a, b in TONE_PARTS_S]
        dur = sum(parts)
        onset = tl.place(rng, dur + 8.0)
        if onset is not None:
            out.append(ScheduledEvent("tone_rise", onset, duration_s=dur))

    issues = (
        ("electrode_off", params["electrode_off_per_night"] * per_night, (10.0, 300.0)),
        (
            "electrode_failing",
            params.get("electrode_failing_per_night", 0.0) * per_night,
            (15.0, 200.0),
        ),
        ("flat_line", params["flat_per_night"] * per_night, (5.0, 120.0)),
        ("mains", params["mains_surges_per_night"] * per_night, (30.0, 600.0)),
        ("stretch", params["stretches_per_night"] * per_night, (3.0, 30.0)),
        ("turn_over", params["turns_per_h"] * hours, (1.0, 6.0)),
        ("leg_movement", params["isolated_lm_per_h"] * hours, (0.5, 10.0)),
        ("pop", params["pops_per_h"] * hours, (0.5, 3.0)),
    )
    for type_, mean, (dmin, dmax) in issues:
        for _ in range(_count(rng, mean)):
            if type_ == "leg_movement":
                dur = float(np.clip(rng.lognormal(np.log(2.0), 0.6), dmin, dmax))
            else:
                dur = float(np.exp(rng.uniform(np.log(dmin), np.log(dmax))))
            onset = tl.place(rng, dur)
            if onset is not None:
                out.append(ScheduledEvent(type_, onset, duration_s=dur))
    out.sort(key=lambda e: e.onset_s)
    return out
