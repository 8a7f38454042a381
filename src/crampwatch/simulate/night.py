"""``simulate_night``: a synthetic overnight recording with its ground truth."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import edfio
import numpy as np

from crampwatch.errors import CrampwatchError
from crampwatch.recordings import Annotation, Recording, write_edf
from crampwatch.roles import DEFAULT_LABELS
from crampwatch.simulate.events import (
    TRUTH_TYPES,
    ScheduledEvent,
    TruthEvent,
    random_schedule,
)
from crampwatch.simulate.params import draw_params

__all__ = [
    "ACC_RATE_RANGE_HZ",
    "EMG_RATE_RANGE_HZ",
    "SimulatedNight",
    "read_truth",
    "simulate_night",
    "truth_path_for",
    "write_night",
]

EMG_RATE_RANGE_HZ = (200.0, 2000.0)
ACC_RATE_RANGE_HZ = (10.0, 200.0)
TRUTH_FORMAT = "crampwatch-truth"


@dataclass(frozen=True, eq=False)
class SimulatedNight:
    """A simulated recording, its ground truth and the parameters that made it."""

    recording: Recording
    truth: tuple[TruthEvent, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> tuple[TruthEvent, ...]:
        return tuple(e for e in self.truth if e.type == type_)


def _check_rate(name: str, value: float, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise CrampwatchError(f"{name} must be {lo:g}–{hi:g} Hz, got {value:g}")


def simulate_night(
    hours: float,
    seed: int,
    *,
    emg_fs_hz: float = 1000,
    acc_fs_hz: float = 100,
    mains_hz: float | None = None,
    tibialis: bool = True,
    variant: str = "train",
    schedule: Sequence[ScheduledEvent] | None = None,
    start_time: datetime | None = None,
) -> SimulatedNight:
    """Simulate ``hours`` of night (rounded to whole seconds) for ``seed``.

    Deterministic for (seed, variant, mains_hz, schedule): the same seed gives the same
    events at any sampling rate (parameters, schedule and noise use separate child
    streams of ``SeedSequence(seed)``). With ``schedule`` the night holds only those
    events on top of rest; otherwise a random schedule is drawn from the night's
    parameters (see :mod:`crampwatch.simulate.params`). EMG in µV, acceleration in g,
    signals float64. ``start_time`` defaults to a seeded evening start.
    """
    # scipy.signal is slow to import: pay for it only when a night is made
    from crampwatch.simulate.synth import synthesise

    _check_rate("EMG rate", float(emg_fs_hz), EMG_RATE_RANGE_HZ)
    _check_rate("accelerometer rate", float(acc_fs_hz), ACC_RATE_RANGE_HZ)
    if mains_hz is not None and mains_hz not in (50, 60):
        raise CrampwatchError(f"mains frequency must be 50 or 60 Hz, got {mains_hz:g}")
    if not 0 < hours <= 24:
        raise CrampwatchError(f"hours must be in (0, 24], got {hours:g}")
    if variant not in ("train", "shifted"):
        raise CrampwatchError(f"variant must be 'train' or 'shifted', got {variant!r}")
    total_s = float(max(1, round(hours * 3600)))
    ss = np.random.SeedSequence(seed)
    rng_params, rng_schedule, rng_signal = (np.random.default_rng(s) for s in ss.spawn(3))
    params = draw_params(rng_params, variant, mains_hz)
    if start_time is None:
        minutes = int(rng_params.integers(0, 150))
        start_time = datetime(2025, 1, 6, 21, 30, tzinfo=UTC) + timedelta(minutes=minutes)
    elif start_time.tzinfo is None:
        start_time = start_time.replace(tzinfo=UTC)
    scheduled = (
        list(schedule) if schedule is not None else random_schedule(rng_schedule, total_s, params)
    )
    signals, truth, derived = synthesise(
        rng_signal,
        params,
        scheduled,
        total_s=total_s,
        emg_fs_hz=float(emg_fs_hz),
        acc_fs_hz=float(acc_fs_hz),
        tibialis=tibialis,
    )
    fs = {r: float(emg_fs_hz if r.startswith("emg") else acc_fs_hz) for r in signals}
    recording = Recording(
        signals=signals,
        fs_hz=fs,
        start_time=start_time,
        labels={r: DEFAULT_LABELS[r] for r in signals},
    )
    all_params = {
        "seed": int(seed),
        "hours": float(hours),
        "duration_s": total_s,
        "emg_fs_hz": float(emg_fs_hz),
        "acc_fs_hz": float(acc_fs_hz),
        "tibialis": bool(tibialis),
        "scheduled": schedule is not None,
        **params,
        **derived,
    }
    return SimulatedNight(recording=recording, truth=truth, params=all_params)


def truth_path_for(edf_path: str | Path) -> Path:
    """``night.edf`` -> ``night.truth.json`` beside it."""
    p = Path(edf_path)
    return p.with_name(p.stem + ".truth.json")


def write_night(night: SimulatedNight, path_edf: str | Path) -> tuple[Path, Path]:
    """Write the EDF+ (truth as annotations) and ``<stem>.truth.json``; return both paths."""
    path_edf = Path(path_edf)
    annotations = [
        Annotation(e.onset_s, e.end_s - e.onset_s, e.annotation_text()) for e in night.truth
    ]
    write_edf(path_edf, night.recording, annotations)
    rec = night.recording
    doc = {
        "format": TRUTH_FORMAT,
        "version": 1,
        "seed": night.params.get("seed"),
        "variant": night.params.get("variant"),
        "start_time": None if rec.start_time is None else rec.start_time.isoformat(),
        "duration_s": rec.duration_s,
        "fs_hz": rec.fs_hz,
        "labels": rec.labels,
        "params": night.params,
        "truth": [e.to_dict() for e in night.truth],
    }
    truth_path = truth_path_for(path_edf)
    truth_path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path_edf, truth_path


def _truth_from_annotation(onset: float, duration: float | None, text: str) -> TruthEvent | None:
    words = text.split()
    if not words or words[0] not in TRUTH_TYPES:
        return None
    type_, rest = words[0], words[1:]
    periodic = None
    if type_ == "leg_movement":
        periodic = "periodic" in rest
    rest = [w for w in rest if w != "periodic"]
    return TruthEvent(
        type=type_,
        onset_s=float(onset),
        end_s=float(onset) + float(duration or 0.0),
        periodic=periodic,
        kind=rest[0] if rest else None,
    )


def read_truth(path: str | Path) -> tuple[TruthEvent, ...]:
    """Ground truth from a ``.truth.json`` or from an EDF+ file's annotations.

    From EDF+, only annotations whose first word is a truth type are taken (others,
    e.g. a sleep lab's own, are ignored); details are only in the JSON.
    """
    path = Path(path)
    if not path.exists():
        raise CrampwatchError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != TRUTH_FORMAT:
                raise ValueError("not a crampwatch truth file")
            events = tuple(TruthEvent.from_dict(d) for d in doc["truth"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CrampwatchError(f"{path}: unreadable truth JSON ({exc})") from None
        return tuple(sorted(events, key=lambda e: (e.onset_s, e.type)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = path.read_bytes()[:8]
            reader = edfio.read_bdf if head == b"\xffBIOSEMI" else edfio.read_edf
            annotations = reader(path).annotations
    except Exception as exc:
        raise CrampwatchError(f"{path}: cannot read EDF+ annotations ({exc})") from None
    out = [_truth_from_annotation(a.onset, a.duration, a.text) for a in annotations]
    return tuple(sorted((e for e in out if e), key=lambda e: (e.onset_s, e.type)))
