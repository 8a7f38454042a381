"""Benchmark: ``detect`` on an 8-h simulated night, including reading the EDF, one core.

Night: seed 777, 1 kHz calf + tibialis EMG, accelerometer 100 Hz (``simulate_night``).
Target: ≥ 3,000× real time (an 8-h night in ≤ 9.6 s). Threads are pinned to one core
(OMP/BLAS env vars set before numpy is imported, CPU affinity to one CPU).

Run: ``.venv/bin/python bench/bench_detect.py [--hours H]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

TARGET_X = 3000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--block-s", type=float, default=60.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from crampwatch.detect.model import default_model
    from crampwatch.detect.streaming import detect_recording
    from crampwatch.recordings import read_recording
    from crampwatch.simulate import simulate_night, write_night

    model = default_model()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        night = simulate_night(args.hours, 777, emg_fs_hz=1000, acc_fs_hz=100, tibialis=True)
        edf, _ = write_night(night, Path(tmp) / "night.edf")
        print(f"simulated and wrote {args.hours:g} h in {time.perf_counter() - t:.1f} s")

        t0 = time.perf_counter()
        rec = read_recording(edf)
        t1 = time.perf_counter()
        events = detect_recording(rec, device_id="bench", model=model, block_s=args.block_s)
        t2 = time.perf_counter()
    dur = rec.duration_s
    total = t2 - t0
    print(f"read EDF      {t1 - t0:7.2f} s")
    print(f"detect        {t2 - t1:7.2f} s  ({len(events)} events, block {args.block_s:g} s)")
    print(f"total         {total:7.2f} s for {dur / 3600:.2f} h")
    print(f"real-time factor {dur / total:,.0f}x (target {TARGET_X:,.0f}x)")


if __name__ == "__main__":
    main()
