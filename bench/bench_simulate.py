"""How long an 8-hour night at 1 kHz EMG / 100 Hz accelerometer takes to simulate and write.

Run: ``.venv/bin/python bench/bench_simulate.py [hours]`` (``make bench`` runs it too).
Prints timings; asserts nothing (the target from issue #2: well under a minute).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from crampwatch.recordings import read_recording
from crampwatch.simulate import simulate_night, write_night


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    t0, cpu0 = time.perf_counter(), time.process_time()
    night = simulate_night(hours, seed=1, emg_fs_hz=1000, acc_fs_hz=100)
    t1, cpu1 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        edf, _ = write_night(night, Path(tmp) / "night.edf")
        t2 = time.perf_counter()
        size_mb = edf.stat().st_size / 1e6
        read_recording(edf)
        t3 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"simulate {hours:g} h @ 1 kHz: {t1 - t0:.1f} s ({cpu1 - cpu0:.1f} s CPU); "
        f"write EDF+ ({size_mb:.0f} MB): {t2 - t1:.1f} s; read back: {t3 - t2:.1f} s; "
        f"{len(night.truth)} truth events; peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
