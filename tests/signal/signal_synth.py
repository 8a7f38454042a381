"""Synthetic signals for the signal-pipeline tests (generated, never stored).

A uniquely named module (not ``conftest``) so that test folders of other areas cannot
shadow it on ``sys.path``.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from crampwatch.blocks import SampleBlock
from crampwatch.signal import FeatureFrames, SignalPipeline


def emg_noise(rng: np.random.Generator, n: int, fs_hz: float, rms_uv: float) -> np.ndarray:
    """Band-limited Gaussian noise (30 Hz .. 0.4 fs, zero phase) with the given RMS, µV."""
    sos = sps.butter(4, [30.0, min(300.0, 0.4 * fs_hz)], "bandpass", fs=fs_hz, output="sos")
    x = sps.sosfiltfilt(sos, rng.standard_normal(n + 400))[200:-200]
    return x * (rms_uv / np.sqrt(np.mean(x**2)))


def night(
    seconds: float,
    *,
    emg_fs: float = 1000.0,
    acc_fs: float = 50.0,
    tib: bool = True,
    seed: int = 0,
    rest_uv: float = 3.0,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Resting EMG on calf (and tibialis), a still shin lying flat (gravity on z)."""
    rng = np.random.default_rng(seed)
    n_e, n_a = round(seconds * emg_fs), round(seconds * acc_fs)
    sig = {"emg_calf": emg_noise(rng, n_e, emg_fs, rest_uv)}
    if tib:
        sig["emg_tibialis"] = emg_noise(rng, n_e, emg_fs, rest_uv)
    sig["acc_x"] = 0.002 * rng.standard_normal(n_a)
    sig["acc_y"] = 0.002 * rng.standard_normal(n_a)
    sig["acc_z"] = 1.0 + 0.002 * rng.standard_normal(n_a)
    fs = {r: (emg_fs if r.startswith("emg") else acc_fs) for r in sig}
    return sig, fs


def run_whole(signals: dict[str, np.ndarray], fs: dict[str, float], **kw: object) -> FeatureFrames:
    """One block per role (the reference for block-size invariance)."""
    pipe = SignalPipeline(fs, **kw)
    out = [pipe.push(SampleBlock(r, 0.0, fs[r], x)) for r, x in signals.items()]
    out.append(pipe.flush())
    return FeatureFrames.concat(out)
