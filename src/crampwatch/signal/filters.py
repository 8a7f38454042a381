"""Causal IIR filters that adapt to the sampling rate, and mains-frequency detection.

All filters are second-order-section cascades run with :func:`scipy.signal.sosfilt`
and a carried state, so filtering a signal block by block gives exactly the same
output as filtering it at once.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

try:  # the compiled kernel behind scipy.signal.sosfilt (in-place, C-contiguous float64)
    from scipy.signal._sosfilt import _sosfilt
except ImportError:  # pragma: no cover - layout of a future scipy
    _sosfilt = None

__all__ = [
    "EMG_HIGHPASS_HZ",
    "EMG_LOWPASS_MAX_HZ",
    "IirStage",
    "MainsDetector",
    "detect_mains_hz",
    "emg_band_hz",
    "emg_bandpass_sos",
    "highpass_sos",
    "lowpass_sos",
    "mains_notch_sos",
    "one_pole_lowpass_sos",
]

# Surface-EMG band: below ~20 Hz lies motion artefact and baseline wander, above
# ~450 Hz little muscle power (SENIAM / De Luca 2010 recommend 20-450 Hz).
EMG_HIGHPASS_HZ = 20.0
EMG_LOWPASS_MAX_HZ = 450.0
# Keep every corner below 0.45 fs: a Butterworth corner at Nyquist is degenerate.
_NYQ_FRAC = 0.45
# Notch quality factor: ~1.7 Hz wide at 50 Hz, narrow enough to keep EMG power.
_NOTCH_Q = 30.0
# Harmonics notched: fundamental and second harmonic (the strongest), when they lie
# below 0.45 fs and inside the EMG band. At fs = 200 Hz the band is ~20-90 Hz, 50 or
# 60 Hz is notched and 100/120 Hz lie beyond Nyquist; a 120 Hz harmonic would alias to
# 80 Hz there, but sensors low-pass before sampling, so it is not chased.
N_HARMONICS = 2


def emg_band_hz(fs_hz: float) -> tuple[float, float]:
    """EMG pass band (low, high) in Hz for a sampling rate ``fs_hz``.

    20 Hz to ``min(450, 0.45 * fs_hz)``: 20-450 Hz at 1 kHz, 20-90 Hz at 200 Hz.
    """
    high = min(EMG_LOWPASS_MAX_HZ, _NYQ_FRAC * fs_hz)
    if high <= EMG_HIGHPASS_HZ * 1.5:
        raise ValueError(f"EMG sampling rate {fs_hz} Hz is too low for a 20 Hz high-pass")
    return EMG_HIGHPASS_HZ, high


def emg_bandpass_sos(fs_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass over :func:`emg_band_hz` (``order`` per edge), SOS."""
    return sps.butter(order, emg_band_hz(fs_hz), btype="bandpass", fs=fs_hz, output="sos")


def mains_notch_sos(fs_hz: float, mains_hz: float) -> np.ndarray | None:
    """Notches at ``mains_hz`` and its second harmonic where they fit below
    ``min(EMG band top, 0.45 fs)``; None when none fits (or ``mains_hz`` is 0)."""
    if not mains_hz:
        return None
    top = emg_band_hz(fs_hz)[1]
    sections = [
        sps.tf2sos(*sps.iirnotch(h * mains_hz, _NOTCH_Q, fs=fs_hz))
        for h in range(1, N_HARMONICS + 1)
        if h * mains_hz < top
    ]
    return np.vstack(sections) if sections else None


def highpass_sos(fs_hz: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth high-pass, SOS (cutoff clipped below 0.45 fs)."""
    return sps.butter(order, min(cutoff_hz, _NYQ_FRAC * fs_hz), "highpass", fs=fs_hz, output="sos")


def lowpass_sos(fs_hz: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass, SOS (cutoff clipped below 0.45 fs)."""
    return sps.butter(order, min(cutoff_hz, _NYQ_FRAC * fs_hz), "lowpass", fs=fs_hz, output="sos")


def one_pole_lowpass_sos(fs_hz: float, tau_s: float) -> np.ndarray:
    """First-order exponential smoother with time constant ``tau_s`` (s) at ``fs_hz``."""
    a = float(np.exp(-1.0 / (fs_hz * tau_s)))
    return np.array([[1.0 - a, 0.0, 0.0, 1.0, -a, 0.0]])


class IirStage:
    """A causal SOS filter with carried state: ``process(block) -> filtered block``.

    A block is 1-D, or 2-D with one signal per row (e.g. three accelerometer axes; the
    same number of rows every time), each signal with its own state. The state is
    initialised on the first sample as if the input had always been at that value (no
    start-up step from a DC offset). ``sos=None`` passes through.
    """

    def __init__(self, sos: np.ndarray | None) -> None:
        self.sos = None if sos is None else np.ascontiguousarray(sos, dtype=np.float64)
        self._zi: np.ndarray | None = None  # (signals, sections, 2)

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.sos is None or x.size == 0:
            return x
        y = np.array(x, dtype=np.float64, order="C", ndmin=2)  # (signals, samples), a copy
        if self._zi is None:
            self._zi = sps.sosfilt_zi(self.sos)[None] * y[:, :1, None]
        if _sosfilt is None:
            y, zi = sps.sosfilt(self.sos, y, zi=self._zi.transpose(1, 0, 2))
            self._zi = np.ascontiguousarray(zi.transpose(1, 0, 2))
        else:
            # The public wrapper costs ~0.1 ms per call in argument checking, as much as
            # filtering 10,000 samples: streaming makes many small calls, so call the
            # kernel directly (same arithmetic; tests compare with sps.sosfilt). It
            # filters y and updates the state in place.
            _sosfilt(self.sos, y, self._zi)
        return y if x.ndim == 2 else y[0]


def _tone_power(x: np.ndarray, fs_hz: float, f_hz: float) -> float:
    """Power of ``x`` at one frequency (a single DFT bin, Goertzel-style), arbitrary units."""
    n = np.arange(x.size)
    return float(np.abs(np.dot(x, np.exp(-2j * np.pi * f_hz / fs_hz * n))) ** 2)


# off-mains frequencies beside 50 and 60 Hz: the EMG's own noise level in one bin
_NOISE_PROBE_HZ = (44.0, 47.0, 53.0, 56.0, 64.0, 67.0)


def _mains_powers(x: np.ndarray, fs_hz: float) -> tuple[float, float, float]:
    """Single-bin power of ``x`` (raw samples at ``fs_hz``, mean removed) at 50 and
    60 Hz, and the median of the bins at ``_NOISE_PROBE_HZ`` (the noise a bin holds
    without any hum)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    noise = float(np.median([_tone_power(x, fs_hz, f) for f in _NOISE_PROBE_HZ]))
    return _tone_power(x, fs_hz, 50.0), _tone_power(x, fs_hz, 60.0), noise


def detect_mains_hz(x: np.ndarray, fs_hz: float) -> float:
    """50 or 60: the mains frequency with more power in ``x`` (raw samples at ``fs_hz``).

    Compares single-bin power at 50 and 60 Hz after removing the mean; both lie below
    Nyquist for every supported EMG rate (>= 200 Hz). Ties (no mains, silent input)
    give 50.
    """
    if np.asarray(x).size == 0:
        return 50.0
    p50, p60, _ = _mains_powers(x, fs_hz)
    return 60.0 if p60 > p50 else 50.0


# An early decision needs the stronger mains bin this many times the noise bins' median
# (a noise-only bin exceeds it with probability e^-(20 ln 2) ~ 1e-6) and 4 times the
# other mains bin: with a faint hum under the EMG's own noise, 2 s of one bin picked
# the wrong frequency about one channel in twenty, and a later surge of hum at the
# true frequency then passed the notch.
_MAINS_CLEAR_SNR = 20.0
_MAINS_CLEAR_RATIO = 4.0


class MainsDetector:
    """Collects the first ``seconds`` of real (not gap-filled) samples and decides 50 vs
    60 Hz once exactly that many have arrived, if one of them clearly stands out of the
    noise and over the other (``_MAINS_CLEAR_*``); otherwise it waits for
    ``max_seconds`` (a faint tone stands out of the noise as the window grows) and
    takes the stronger. Fixed sample
    counts, so the decision does not depend on how the signal was split into blocks.
    ``process(block)`` returns the decision (Hz) or None while undecided;
    :meth:`decide` forces it (end of recording).
    """

    def __init__(self, fs_hz: float, seconds: float = 2.0, max_seconds: float = 10.0) -> None:
        self.fs_hz = float(fs_hz)
        self.n_needed = max(1, round(seconds * fs_hz))
        self.n_max = max(self.n_needed, round(max_seconds * fs_hz))
        self._parts: list[np.ndarray] = []
        self._n = 0
        self._checked = False  # the first window was looked at and was not clear
        self.mains_hz: float | None = None

    def process(self, x: np.ndarray) -> float | None:
        if self.mains_hz is None and x.size:
            self._parts.append(x[: self.n_max - self._n])
            self._n += self._parts[-1].size
            if self._n >= self.n_needed and not self._checked:
                self._checked = True
                first = np.concatenate(self._parts)[: self.n_needed]
                p50, p60, noise = _mains_powers(first, self.fs_hz)
                top = max(p50, p60)
                if top >= _MAINS_CLEAR_SNR * noise and top >= _MAINS_CLEAR_RATIO * min(p50, p60):
                    self.mains_hz = 60.0 if p60 > p50 else 50.0
                    self._parts = []
            if self.mains_hz is None and self._n >= self.n_max:
                self.decide()
        return self.mains_hz

    def decide(self) -> float:
        if self.mains_hz is None:
            data = np.concatenate(self._parts) if self._parts else np.empty(0)
            self.mains_hz = detect_mains_hz(data, self.fs_hz)
            self._parts = []
        return self.mains_hz
