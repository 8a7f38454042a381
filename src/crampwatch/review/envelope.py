"""The calf EMG envelope the review plots around each cramp.

Offline and zero-phase (the review looks back at a finished night, so there is no
causality constraint, unlike ``crampwatch.signal``): band-pass 20-450 Hz (the surface
EMG band; the upper edge is lowered below Nyquist for slow devices), then a moving RMS
over 0.5 s, decimated to a few points per second for plotting.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfiltfilt

__all__ = ["calf_envelope"]

# Surface-EMG band: below 20 Hz is motion artefact, above ~450 Hz little EMG power.
_LOW_HZ = 20.0
_HIGH_HZ = 450.0


def calf_envelope(
    x_uv: np.ndarray, fs_hz: float, *, window_s: float = 0.5, out_hz: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Moving-RMS envelope of a calf EMG excerpt.

    Parameters
    ----------
    x_uv:
        1-D EMG in µV sampled at ``fs_hz`` (Hz).
    window_s:
        RMS window in seconds.
    out_hz:
        Rate of the returned envelope in Hz (decimated by picking samples).

    Returns
    -------
    (t_s, env_uv): times in seconds from the first sample, envelope in µV.
    """
    x = np.asarray(x_uv, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0), np.zeros(0)
    high = min(_HIGH_HZ, 0.45 * fs_hz)
    if high > _LOW_HZ * 1.2 and x.size > 30:
        sos = butter(4, [_LOW_HZ, high], btype="bandpass", fs=fs_hz, output="sos")
        pad = min(x.size - 1, 3 * 2 * (4 + 1))
        x = sosfiltfilt(sos, x, padlen=pad)
    else:  # a rate too low for the EMG band: remove the offset and keep what there is
        x = x - np.mean(x)
    win = max(1, round(window_s * fs_hz))
    env = np.sqrt(uniform_filter1d(x * x, size=win, mode="nearest"))
    step = max(1, round(fs_hz / out_hz))
    idx = np.arange(0, x.size, step)
    return idx / fs_hz, env[idx]
