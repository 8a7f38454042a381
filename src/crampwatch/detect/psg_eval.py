"""Leg-movement scoring on held-out simulated PSG nights (``crampwatch evaluate --psg``).

Each night (:func:`crampwatch.simulate.psg.simulate_psg`: both legs' tibialis, no
accelerometer, a hypnogram) is replayed through :func:`crampwatch.detect.legs.detect_legs`
exactly as ``crampwatch detect`` runs it, and scored against the simulator's truth:

- leg movements per leg: a detected movement matches a true candidate movement of the
  same leg that it overlaps (one-to-one, greedy in onset order, as
  :mod:`crampwatch.detect.metrics`); precision, recall, F1 pooled over nights and legs;
- PLMS index (periodic combined movements in sleep per hour of sleep, bilateral
  movements counted once): absolute error against the truth's, per night.

Targets: F1 ≥ 0.95, PLMS index error ≤ 2/h.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from crampwatch.detect.legs import detect_legs, leg_channels, plm_summary
from crampwatch.detect.wasm import CLM_MAX_S
from crampwatch.events import Event

__all__ = ["PSG_SEED_BASE", "evaluate_psg", "match_movements"]

PSG_SEED_BASE = 50000  # held out: the PSG simulator's tests use small seeds


def match_movements(found: Sequence[Event], truth: Sequence[Any]) -> int:
    """Matches between detected and true movements of one leg (objects with ``onset_s``
    and ``end_s``; overlap, one-to-one, greedy in onset order)."""
    used = [False] * len(truth)
    hits = 0
    for ev in sorted(found, key=lambda e: e.onset_s):
        end = ev.end_s if ev.end_s is not None else ev.onset_s
        for j, t in enumerate(truth):
            if not used[j] and ev.onset_s < t.end_s and t.onset_s < end:
                used[j] = True
                hits += 1
                break
    return hits


def evaluate_psg(
    nights: int,
    hours: float,
    seed_base: int = PSG_SEED_BASE,
    *,
    emg_fs_hz: float = 500.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Simulate ``nights`` PSG nights of ``hours`` from ``seed_base`` and score them."""
    from crampwatch.recordings.hypnogram import Hypnogram
    from crampwatch.recordings.model import Annotation, Recording
    from crampwatch.simulate.psg import simulate_psg

    n_found = n_truth = n_hit = 0
    errors, per_night = [], []
    for i in range(nights):
        seed = seed_base + i
        night = simulate_psg(hours, seed, emg_fs_hz=emg_fs_hz)
        signals = {f"emg_tibialis.{leg}": x for leg, x in night.legs.items()}
        rec = Recording(
            signals=signals,
            fs_hz=dict.fromkeys(signals, night.emg_fs_hz),
            start_time=night.start_time,
        )
        events = detect_legs(rec, leg_channels(list(signals)), device_id="eval")
        for leg, truth in night.movements.items():
            found = [e for e in events if e.type == "leg_movement" and e.leg == leg]
            cand = [m for m in truth if m.end_s - m.onset_s <= CLM_MAX_S]
            n_found += len(found)
            n_truth += len(cand)
            n_hit += match_movements(found, cand)
        hyp = Hypnogram.from_annotations(Annotation(a, b - a, s) for a, b, s in night.hypnogram)
        s = plm_summary(events, night.duration_s, hyp)
        err = abs(s["plms_index_per_h"] - night.plms_index)
        errors.append(err)
        per_night.append(
            {"seed": seed, "plms_index": s["plms_index_per_h"], "truth": night.plms_index}
        )
        if progress:
            progress(f"PSG night seed {seed}: PLMS error {err:.2f}/h")
    precision = n_hit / n_found if n_found else float("nan")
    recall = n_hit / n_truth if n_truth else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if n_hit else 0.0
    return {
        "nights": nights,
        "hours": nights * hours,
        "seeds": f"{seed_base}..{seed_base + nights - 1}",
        "lm_precision": precision,
        "lm_recall": recall,
        "lm_f1": f1,
        "plms_index_error_per_h": float(np.mean(errors)) if errors else float("nan"),
        "plms_index_error_max_per_h": float(np.max(errors)) if errors else float("nan"),
        "per_night": per_night,
    }
