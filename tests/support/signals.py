"""Realistic sensor signals for the emulated peripherals.

Uses the project simulator (``crampwatch.simulate.simulate_night``) when it is importable,
else a small synthetic stand-in: band-limited noise for EMG with a resting level of a few
µV and occasional bursts, gravity plus slow tilt for the accelerometer. Switching is one
function: :func:`night_signals`.
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["night_signals"]

logger = logging.getLogger(__name__)


def _synthetic(seconds: float, rates_hz: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for role, fs in rates_hz.items():
        n = round(seconds * fs)
        if role.startswith("emg"):
            noise = rng.normal(0.0, 4.0, n)  # resting surface EMG, a few µV RMS
            envelope = np.ones(n)
            for start in rng.integers(0, max(1, n - 1), size=max(1, int(seconds // 60))):
                envelope[start : start + int(2 * fs)] = 25.0  # a 2 s burst of activity
            out[role] = noise * envelope
        else:
            axis = {"acc_x": 0.1, "acc_y": -0.2, "acc_z": 0.97}[role]
            t = np.arange(n) / fs
            out[role] = axis + 0.02 * np.sin(2 * np.pi * t / 300.0) + rng.normal(0, 0.005, n)
    return out


def night_signals(
    seconds: float, rates_hz: dict[str, float], seed: int = 0
) -> dict[str, np.ndarray]:
    """Signals per role (µV / g) of ``seconds`` duration at ``rates_hz`` (Hz)."""
    try:
        from crampwatch.simulate import simulate_night  # type: ignore[attr-defined]
    except ImportError:
        return _synthetic(seconds, rates_hz, seed)
    try:
        emg_fs = max(fs for r, fs in rates_hz.items() if r.startswith("emg"))
        acc_fs = max(fs for r, fs in rates_hz.items() if r.startswith("acc"))
        night = simulate_night(seconds / 3600.0, seed, emg_fs_hz=emg_fs, acc_fs_hz=acc_fs)
        rec = night.recording
        out = {}
        for role, fs in rates_hz.items():
            signal = np.asarray(rec.signals[role], dtype=float)
            assert rec.fs_hz[role] == fs
            out[role] = signal[: round(seconds * fs)]
        return out
    except Exception:  # the simulator is another team's moving target: never block BLE tests
        logger.warning("simulator unusable here; synthetic signals instead", exc_info=True)
        return _synthetic(seconds, rates_hz, seed)
