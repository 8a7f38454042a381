"""Causal IIR filters that adapt to the sampling rate, and mains-frequency detection.

All filters are second-order-section cascades run with :func:`scipy.signal.sosfilt`
and a carried state, so filtering a signal block by block gives exactly the same
output as filtering it at once.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    "vote_mains",
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

# (power at 50 Hz, power at 60 Hz), each over the median of the noise bins
MainsSnr = tuple[float, float]


def _mains_snr(x: np.ndarray, fs_hz: float) -> MainsSnr:
    p50, p60, noise = _mains_powers(x, fs_hz)
    if noise > 0:
        return p50 / noise, p60 / noise
    return (np.inf if p50 > 0 else 0.0), (np.inf if p60 > 0 else 0.0)


def _clear(snr: MainsSnr) -> bool:
    top = max(snr)
    return top >= _MAINS_CLEAR_SNR and top >= _MAINS_CLEAR_RATIO * min(snr)


def _pick(snrs: Sequence[MainsSnr]) -> float:
    """60 if the channels' summed 60-Hz evidence beats their 50-Hz evidence, else 50."""
    s50 = sum(s[0] for s in snrs)
    s60 = sum(s[1] for s in snrs)
    return 60.0 if s60 > s50 else 50.0


class MainsDetector:
    """Collects the first ``seconds`` and then up to ``max_seconds`` of a channel's real
    (not gap-filled) samples and holds their evidence of 50 vs 60 Hz hum
    (:func:`vote_mains` decides). Fixed sample counts, so the evidence does not depend
    on how the signal was split into blocks. ``process(block)`` returns the channel's
    own decision (Hz) or None while undecided; :meth:`decide` forces it (end of
    recording).
    """

    def __init__(self, fs_hz: float, seconds: float = 2.0, max_seconds: float = 10.0) -> None:
        self.fs_hz = float(fs_hz)
        self.n_needed = max(1, round(seconds * fs_hz))
        self.n_max = max(self.n_needed, round(max_seconds * fs_hz))
        self._parts: list[np.ndarray] = []
        self._n = 0
        self.first: MainsSnr | None = None  # evidence of the first ``seconds``
        self.long: MainsSnr | None = None  # ... of the first ``max_seconds``
        self.mains_hz: float | None = None

    def collect(self, x: np.ndarray) -> None:
        """Add a block of real samples to the evidence."""
        if self.long is not None or not x.size:
            return
        self._parts.append(x[: self.n_max - self._n])
        self._n += self._parts[-1].size
        if self._n >= self.n_needed and self.first is None:
            self.first = _mains_snr(np.concatenate(self._parts)[: self.n_needed], self.fs_hz)
        if self._n >= self.n_max:
            self.long = _mains_snr(np.concatenate(self._parts), self.fs_hz)
            self._parts = []

    def so_far(self) -> MainsSnr | None:
        """Evidence of all the samples collected (None: none)."""
        if self.long is not None:
            return self.long
        if not self._parts:
            return None
        return _mains_snr(np.concatenate(self._parts), self.fs_hz)

    def process(self, x: np.ndarray) -> float | None:
        if self.mains_hz is None:
            self.collect(x)
            self.mains_hz = vote_mains([self])
        return self.mains_hz

    def decide(self) -> float:
        if self.mains_hz is None:
            self.mains_hz = vote_mains([self], final=True)
            self._parts = []
        assert self.mains_hz is not None
        return self.mains_hz


def vote_mains(detectors: Sequence[MainsDetector], final: bool = False) -> float | None:
    """One mains frequency (50 or 60 Hz) for the channels of one sensor set, or None
    while the evidence is not in. The hum comes from the power grid, so every channel
    shares it; a channel with a faint hum alone can pick the wrong one (and a later surge
    of hum then passes its notch as a "contraction").

    Once every channel has its first window: the channels whose first window is clear
    (:data:`_MAINS_CLEAR_SNR`, :data:`_MAINS_CLEAR_RATIO`) decide, their evidence summed;
    if none is clear, once every channel has its long window, all of them, summed.
    ``final`` (end of recording): the same with whatever each channel collected. Ties
    and no evidence give 50. A function of fixed sample windows: the decision does not
    depend on how the signals were split into blocks, nor on their order.
    """
    firsts = [d.first for d in detectors]
    if not final and any(f is None for f in firsts):
        return None
    clear = [f for f in firsts if f is not None and _clear(f)]
    if clear:
        return _pick(clear)
    longs = [d.so_far() if final else d.long for d in detectors]
    if not final and any(x is None for x in longs):
        return None
    return _pick([x for x in longs if x is not None])
