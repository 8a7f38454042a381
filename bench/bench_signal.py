"""Benchmark: the streaming signal pipeline over a night, against NeuroKit2.

Usage: ``python bench/bench_signal.py [--hours 8] [--seed 1] [--nk-minutes 20]
[--repeat 3] [--synthetic] [--no-pin] [--no-small-blocks]``

Builds a night (EMG calf + tibialis at 1 kHz, accelerometer at 100 Hz) with the
simulator (``crampwatch.simulate.simulate_night``) when it is importable, else with
a simple synthetic signal, and feeds it to :class:`crampwatch.signal.SignalPipeline`
in 60-s blocks and in 1-s blocks (all roles interleaved, features included; 1-s
blocks once as live, once with ``batch_s=30``). Only the
``push``/``flush`` calls are timed. Then runs NeuroKit2's ``emg_process`` on the calf
channel (first ``--nk-minutes``, resampled to 500 Hz, the rate of the project's reference
figure) and prints both real-time factors (recording seconds per second of computing)
and their ratio. Everything runs single-threaded; the figures use the CPU time of this
process (``time.process_time``), so other load on a shared machine slows them less
than wall-clock time would (wall-clock figures are printed too), though not by nothing:
other processes still evict this one's caches, so the load average is printed before
and after. The process is pinned to one CPU unless ``--no-pin``. The 60-s-block run
and NeuroKit2 are repeated (``--repeat``, default 3); every run is printed, the summary
gives the best and the median. The header names the command, seed, versions and CPU so
that a figure can be reproduced. It prints; it does not judge (exit 0 below the target
as well).
"""

from __future__ import annotations

import os

# One core: pin BLAS/OpenMP thread pools before numpy is imported, and the process.
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from crampwatch.blocks import SampleBlock  # noqa: E402
from crampwatch.signal import SignalPipeline  # noqa: E402

TARGET_RTF = 10_000
EMG_FS, ACC_FS = 1000.0, 100.0


def pin_one_core() -> str:
    """Restrict this process to one CPU (Linux); return a description."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def synthetic_night(hours: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Resting EMG with bursts, 50 Hz hum, DC offset; shin turning now and then."""
    rng = np.random.default_rng(seed)
    n_e, n_a = round(hours * 3600 * EMG_FS), round(hours * 3600 * ACC_FS)
    sig = {}
    for role in ("emg_calf", "emg_tibialis"):
        x = rng.standard_normal(n_e)
        x *= 4.0
        gain = np.ones(n_e // 1000 + 1)
        gain[rng.integers(0, gain.size, gain.size // 200)] = 30.0  # 1-s bursts
        x *= np.repeat(gain, 1000)[:n_e]
        x += 300.0 + 5.0 * np.sin(2 * np.pi * 50.0 * np.arange(n_e) / EMG_FS)
        sig[role] = x
    posture = np.repeat(rng.integers(0, 3, n_a // 60_000 + 1), 60_000)[:n_a]  # 10-min postures
    for i, role in enumerate(("acc_x", "acc_y", "acc_z")):
        sig[role] = (posture == i) + 0.01 * rng.standard_normal(n_a)
    return sig


def build_night(hours: float, synthetic: bool, seed: int) -> tuple[dict[str, np.ndarray], str]:
    if not synthetic:
        try:
            from crampwatch.simulate import simulate_night

            night = simulate_night(hours, seed, emg_fs_hz=EMG_FS, acc_fs_hz=ACC_FS)
            rec = night.recording
            sig = {r: np.asarray(rec.signals[r], dtype=np.float64) for r in rec.signals}
            if all(rec.fs_hz[r] == (EMG_FS if r.startswith("emg") else ACC_FS) for r in sig):
                return sig, f"crampwatch.simulate.simulate_night(seed={seed})"
        except Exception as exc:  # the simulator is optional here: fall back, say why
            print(f"(simulator not usable: {type(exc).__name__}: {exc}; synthetic night)")
    return synthetic_night(hours, seed), f"synthetic (noise, bursts, hum, postures; seed={seed})"


def run_pipeline(
    sig: dict[str, np.ndarray], block_s: float, batch_s: float = 0.0
) -> tuple[float, float, int]:
    """CPU and wall seconds spent in push/flush feeding ``block_s`` blocks; frames."""
    fs = {r: (EMG_FS if r.startswith("emg") else ACC_FS) for r in sig}
    pipe = SignalPipeline(fs, batch_s=batch_s)
    duration = min(x.size / fs[r] for r, x in sig.items())
    n_blocks = int(np.ceil(duration / block_s))
    blocks = []
    cpu, wall, frames = 0.0, 0.0, 0
    for b in range(n_blocks):
        blocks.clear()
        for role, x in sig.items():
            f = fs[role]
            i0, i1 = round(b * block_s * f), round((b + 1) * block_s * f)
            blocks.append(SampleBlock(role, i0 / f, f, x[i0:i1]))
        c0, t0 = time.process_time(), time.perf_counter()
        for blk in blocks:
            frames += len(pipe.push(blk))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    frames += len(pipe.flush())
    cpu += time.process_time() - c0
    wall += time.perf_counter() - t0
    return cpu, wall, frames


def run_neurokit(calf: np.ndarray, minutes: float, fs_hz: float) -> tuple[float, float, float]:
    """NeuroKit2 ``emg_process`` on the first ``minutes`` of the calf channel resampled
    (polyphase, untimed) to ``fs_hz``: (CPU s, wall s, recording s)."""
    import neurokit2 as nk
    from scipy.signal import resample_poly

    seg = calf[: round(minutes * 60 * EMG_FS)]
    if fs_hz != EMG_FS:
        seg = resample_poly(seg, round(fs_hz), round(EMG_FS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c0, t0 = time.process_time(), time.perf_counter()
        nk.emg_process(seg, sampling_rate=round(fs_hz))
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return cpu, wall, seg.size / fs_hz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0, help="night length (default 8)")
    ap.add_argument("--nk-minutes", type=float, default=20.0, help="NeuroKit2 segment")
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulated night (default 1)")
    ap.add_argument("--synthetic", action="store_true", help="do not use the simulator")
    ap.add_argument("--nk-fs", type=float, default=500.0, help="NeuroKit2 rate (Hz)")
    ap.add_argument("--no-small-blocks", action="store_true", help="skip the 1-s-block run")
    ap.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pin the process to one CPU (default; --no-pin to let it float)",
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of the 60-s case and of NeuroKit2 (best kept)"
    )
    args = ap.parse_args()

    pinned = pin_one_core() if args.pin else "not pinned"
    print(f"command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__};"
        f" CPU {_cpu_model()}; {os.cpu_count()} CPUs, load average {_load()}"
    )
    print(f"single-threaded (BLAS/OpenMP threads = 1), {pinned}; figures from CPU time")
    t0 = time.perf_counter()
    sig, source = build_night(args.hours, args.synthetic, args.seed)
    rec_s = min(x.size / (EMG_FS if r.startswith("emg") else ACC_FS) for r, x in sig.items())
    print(
        f"night: {rec_s / 3600:.2f} h, roles {sorted(sig)}, EMG {EMG_FS:g} Hz, "
        f"acc {ACC_FS:g} Hz, from {source} (built in {time.perf_counter() - t0:.1f} s)"
    )

    results, medians = {}, {}
    runs = [(60.0, 0.0)] if args.no_small_blocks else [(60.0, 0.0), (1.0, 0.0), (1.0, 30.0)]
    for block_s, batch_s in runs:
        reps = args.repeat if block_s >= 60.0 else 1  # small-block runs are long
        timed = [run_pipeline(sig, block_s, batch_s) for _ in range(reps)]
        cpu, wall, frames = min(timed)
        results[block_s, batch_s] = rec_s / cpu
        medians[block_s, batch_s] = statistics.median(rec_s / t[0] for t in timed)
        how = f"{block_s:g}-s blocks" + (f", batch_s={batch_s:g}" if batch_s else "")
        print(
            f"signal pipeline, {how}: {frames} frames, CPU {cpu:.2f} s -> "
            f"{rec_s / cpu:,.0f}x real time (wall {wall:.2f} s -> {rec_s / wall:,.0f}x)"
            + (f" [best of {reps}; all: {_rtfs(rec_s, timed)}]" if reps > 1 else "")
        )

    timed = [run_neurokit(sig["emg_calf"], args.nk_minutes, args.nk_fs) for _ in range(args.repeat)]
    nk_cpu, nk_wall, nk_rec = min(timed)
    nk_rtf = nk_rec / nk_cpu
    print(
        f"neurokit2 emg_process, calf {nk_rec / 60:.0f} min at {args.nk_fs:g} Hz: "
        f"CPU {nk_cpu:.2f} s -> {nk_rtf:,.0f}x real time (wall {nk_rec / nk_wall:,.0f}x)"
        + (f" [best of {args.repeat}; all: {_rtfs(nk_rec, timed)}]" if args.repeat > 1 else "")
    )
    best, median = results[60.0, 0.0], medians[60.0, 0.0]
    print(f"load average after: {_load()}")
    print(
        f"signal pipeline: {best:.0f}x real time (median {median:.0f}x; target >= {TARGET_RTF}x)"
        f" | neurokit2 emg_process: {nk_rtf:.0f}x | ratio {best / nk_rtf:.1f}"
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _rtfs(rec_s: float, timed: list[tuple[float, ...]]) -> str:
    return ", ".join(f"{rec_s / t[0]:,.0f}x" for t in timed)


if __name__ == "__main__":
    main()
