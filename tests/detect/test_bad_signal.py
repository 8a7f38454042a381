"""Electrode trouble building up (HumGrowth) on frames from the real signal pipeline:
growing hum is trouble, a contraction on a channel that hums steadily is not."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from crampwatch.detect.bad_signal import HumGrowth, bad_signal_reasons
from crampwatch.signal import extract_features

FS_HZ = 1000.0
MAINS_HZ = 50.0
SECONDS = 60.0


def _noise(rng: np.random.Generator, n: int, rms_uv: float) -> np.ndarray:
    sos = sps.butter(4, [30.0, 300.0], "bandpass", fs=FS_HZ, output="sos")
    x = sps.sosfiltfilt(sos, rng.standard_normal(n))
    return x * rms_uv / np.sqrt(np.mean(x**2))


def _trouble(rest_uv: float, emg_gain, hum_amp_uv) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame times (s), the trouble mask and the bad-signal reasons of a calf channel:
    resting EMG × ``emg_gain(t)`` plus a 50-Hz hum of amplitude ``hum_amp_uv(t)`` µV."""
    rng = np.random.default_rng(3)
    n = round(SECONDS * FS_HZ)
    t = np.arange(n) / FS_HZ
    emg = _noise(rng, n, rest_uv) * emg_gain(t)
    hum = hum_amp_uv(t) * np.sin(2 * np.pi * MAINS_HZ * t + 0.4)
    n_acc = round(SECONDS * 50.0)
    sig = {
        "emg_calf": emg + hum,
        "acc_x": np.zeros(n_acc),
        "acc_y": np.zeros(n_acc),
        "acc_z": np.ones(n_acc),
    }
    fs = {"emg_calf": FS_HZ, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}
    frames = extract_features(sig, fs, mains_hz=MAINS_HZ)
    mask = HumGrowth("calf", units_known=True, frame_s=0.1).push(frames)
    return np.asarray(frames.t_s), mask, bad_signal_reasons(frames, "calf")


def _contraction(t: np.ndarray, start_s: float, peak: float) -> np.ndarray:
    """1 at rest, rising over 3 s to ``peak`` × rest at ``start_s``, held 10 s, fading 3 s."""
    up = np.clip((t - start_s) / 3.0, 0.0, 1.0)
    down = np.clip((start_s + 16.0 - t) / 3.0, 0.0, 1.0)
    return 1.0 + (peak - 1.0) * np.minimum(up, down)


def test_a_contraction_on_a_steadily_humming_channel_is_not_trouble() -> None:
    """A hum of 8 µV next to a 2-µV resting calf (most of what the channel shows): a weak
    contraction (10 ×) and a strong one (150 ×) come and go; the hum never changes, and
    it is never large enough to be a mains issue either."""
    for peak in (10.0, 150.0):
        t, mask, reasons = _trouble(2.0, lambda t, p=peak: _contraction(t, 25.0, p), lambda t: 8.0)
        assert not mask.any(), f"{peak} x rest: flagged at {t[mask][:3]} s"
        assert "mains" not in set(reasons), f"{peak} x rest: mains at {t[reasons == 'mains'][:3]} s"


def test_hum_growing_on_an_already_humming_channel_is_trouble() -> None:
    """Hum 4 µV on a 2-µV calf (mains ratio ~0.8), growing to 300 µV from 30 s over 4 s
    (an electrode lifting): the share can no longer double, the hum grows 75-fold."""
    growing = lambda t: 4.0 * 75.0 ** np.clip((t - 30.0) / 4.0, 0, 1)  # noqa: E731
    t, mask, _reasons = _trouble(2.0, lambda t: 1.0, growing)
    assert not mask[t < 30.0].any()
    assert mask[(t >= 30.0) & (t < 33.0)].any()


def test_hum_growing_from_nothing_is_trouble() -> None:
    growing = lambda t: 300.0 * np.clip((t - 30.0) / 4.0, 0, 1)  # noqa: E731
    t, mask, _reasons = _trouble(2.0, lambda t: 1.0, growing)
    assert not mask[t < 30.0].any()
    assert mask[(t >= 30.0) & (t < 33.0)].any()
