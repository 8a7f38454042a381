"""Can the cramp alarm be trusted with a calf EMG but no shin accelerometer?

The detector needs the three accelerometer roles; a calf-only sensor has none. The
nearest thing it could run on is a stand-in for a motionless, lying shank (constant
gravity along z, 5 mg of noise): that is what "no motion information" amounts to. This
scores held-out simulated nights (the ``evaluate`` seeds, 4x the cramp rate) with the
real accelerometer and with the stand-in. With the stand-in, stretches, turning over
and leg movements that fire the calf raise the alarm (false alarms per 8 h in the
output): ``crampwatch detect`` therefore runs no cramp alarm without an accelerometer.

Run: ``.venv/bin/python bench/eval_no_accelerometer.py [--nights N] [--hours H]``.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from crampwatch.detect.metrics import score_night, summarize
    from crampwatch.detect.model import default_model
    from crampwatch.detect.streaming import detect_recording
    from crampwatch.detect.training import EVAL_SEED_BASE, simulated_night
    from crampwatch.recordings.model import Recording

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nights", type=int, default=12)
    ap.add_argument("--hours", type=float, default=2.0)
    args = ap.parse_args()
    model = default_model()
    runs: dict[str, list] = {"shin accelerometer": [], "still-shank stand-in": []}
    for i in range(args.nights):
        seed = EVAL_SEED_BASE + i
        night = simulated_night(seed, args.hours, "train", cramp_boost=4.0)
        rec = night.recording
        rng = np.random.default_rng(seed)
        signals = dict(rec.signals)
        for axis, g in zip(("acc_x", "acc_y", "acc_z"), (0.0, 0.0, 1.0), strict=True):
            signals[axis] = g + rng.normal(0.0, 0.005, rec.signals[axis].size)
        still = Recording(signals, rec.fs_hz, rec.start_time)
        for name, r in (("shin accelerometer", rec), ("still-shank stand-in", still)):
            events = detect_recording(r, device_id="eval", model=model)
            runs[name].append(score_night(events, night.truth, rec.duration_s / 3600))
        print(f"night seed {seed} done", flush=True)
    print(f"\n{args.nights} nights of {args.hours:g} h (seeds {EVAL_SEED_BASE}..)")
    for name, scores in runs.items():
        s = summarize(scores)
        causes = ", ".join(f"{k}: {v}" for k, v in sorted(s["false_alarm_causes"].items()))
        print(
            f"{name:22s} sensitivity {s['cramp_sensitivity']:.2f} ({s['cramps']} cramps), "
            f"false alarms / 8 h {s['false_alarms_per_8h']:.2f} ({causes or 'none'})"
        )


if __name__ == "__main__":
    main()
