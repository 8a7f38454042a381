"""Per-channel EMG processing: filters, envelope, resting level, quality, features.

:class:`EmgChannel` turns whole hops of raw EMG (µV, or counts for devices without µV
units) into one row of :data:`crampwatch.signal.frames.EMG_FEATURES` per hop.

Chain (all causal): band-pass 20 Hz..min(450 Hz, 0.45 fs) -> mains notch (50/60 Hz,
found from the first 2 s unless given) -> per-hop statistics.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.fft

from crampwatch.signal.filters import (
    IirStage,
    MainsDetector,
    emg_band_hz,
    emg_bandpass_sos,
    mains_notch_sos,
)
from crampwatch.signal.frames import EMG_FEATURES
from crampwatch.signal.hops import HopBuffer, HopChunk, TrailingSum, hop_sums

__all__ = ["EmgChannel", "RestTracker", "quality_score", "spectral_split_hz"]

log = logging.getLogger(__name__)

_COL = {name: i for i, name in enumerate(EMG_FEATURES)}

# A sample is "at a rail" when it is within 2 % of a rail level (see EmgChannel.features).
_RAIL_FRAC = 0.98
# Pop: the raw hop mean jumps by more than this many times the larger of the two hops'
# band-passed RMS. EMG is zero-mean, so its hop means move by a fraction of its RMS;
# an electrode pop or lead movement shifts the baseline by much more.
_POP_RATIO = 1.5
# Spectral features use the power spectra of the trailing 0.5 s of hops.
_SPECTRAL_S = 0.5


def spectral_split_hz(fs_hz: float) -> float:
    """High/low split for ``hf_frac``: 100 Hz, or the middle of the EMG band when the band
    ends below 150 Hz (e.g. 55 Hz at fs = 200 Hz, band 20-90 Hz)."""
    low, high = emg_band_hz(fs_hz)
    return 100.0 if high >= 150.0 else 0.5 * (low + high)


def quality_score(
    sat_frac: np.ndarray,
    flat_frac: np.ndarray,
    pop: np.ndarray,
    mains_ratio: np.ndarray,
    gap: np.ndarray,
) -> np.ndarray:
    """Signal quality per hop, 0..1 (1 = clean):

    ``(1 - sat_frac) * (1 - flat_frac) * (1 - 0.75 pop) * mains * (1 - gap)`` where the
    mains factor is 1 up to a mains ratio of 0.3 and falls linearly to 0 at 0.8 (normal
    EMG loses ~5-15 % of its RMS to the narrow notch; strong hum dominates it).
    """
    mains = np.clip((0.8 - np.nan_to_num(mains_ratio)) / 0.5, 0.0, 1.0)
    return (1.0 - sat_frac) * (1.0 - flat_frac) * (1.0 - 0.75 * pop) * mains * (1.0 - gap)


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for all-NaN rows); faster than
    ``np.nanmedian`` on many short rows."""
    srt = np.sort(a, axis=1)  # NaN sort last
    c = np.count_nonzero(~np.isnan(a), axis=1)
    lo = np.take_along_axis(srt, np.maximum((c - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(srt, np.maximum(c // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(c > 0, 0.5 * (lo + hi), np.nan)


class RestTracker:
    """Robust running resting EMG level (µV): a slow low-quantile tracker in log domain.

    Once per ``period_hops`` (1 s by default) the median log-envelope ``x`` of that
    period's usable hops updates the state ``q``: up by ``eta * tau`` (but not past
    ``x``) when ``x > q``, down by ``eta * (1 - tau)`` (not past ``x``) otherwise.
    With ``tau = 0.1`` and ``eta = 0.02`` per second the level falls e-fold in ~55 s and
    rises e-fold in ~500 s (8 min): a 2-minute sustained contraction lifts it by at most
    ~27 %, while a lasting change of electrode contact is followed within minutes. The
    first ~100 s use a larger step (``eta = max(0.02, 2 / (n + 1))``) to converge from the
    first estimate. Hops flagged unusable (gap, pop, saturation, flat line) do not update
    it: during a gap it is frozen. Hops are given the level after the previous period;
    NaN before the first update (the first second).
    """

    def __init__(self, period_hops: int, tau: float = 0.1, eta: float = 0.02) -> None:
        self.period_hops = max(1, int(period_hops))
        self.tau = tau
        self.eta = eta
        self._q = float("nan")  # log µV
        self._n = 0
        self._pending = np.empty(0)
        self._k = 0  # global index of the next hop

    def _update(self, x: float) -> None:
        if x != x:  # no usable hop in this period: freeze
            return
        if self._q != self._q:
            self._q = x
        else:
            eta = max(self.eta, 2.0 / (self._n + 1))
            if x > self._q:
                self._q = min(self._q + eta * self.tau, x)
            else:
                self._q = max(self._q - eta * (1.0 - self.tau), x)
        self._n += 1

    def process(self, env_uv: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """Resting level (µV) for each hop of ``env_uv`` (consecutive hops)."""
        m = env_uv.shape[0]
        p = self.period_hops
        with np.errstate(divide="ignore"):
            logs = np.where(usable & (env_uv > 0), np.log(np.where(env_uv > 0, env_uv, 1)), np.nan)
        vals = np.concatenate((self._pending, logs))
        offset = self._pending.shape[0]  # hops of the current period already seen
        n_full = vals.shape[0] // p
        stats = _nanmedian_rows(vals[: n_full * p].reshape(n_full, p))
        states = np.empty(n_full + 1)
        for i, s in enumerate(stats.tolist()):
            states[i] = self._q
            self._update(s)
        states[n_full] = self._q
        self._pending = vals[n_full * p :]
        idx = (offset + np.arange(m)) // p
        self._k += m
        return np.exp(states[idx])


class EmgChannel:
    """One EMG role: raw blocks in, per-hop feature rows out.

    Parameters
    ----------
    fs_hz:
        Sampling rate, Hz (>= 100; 200 Hz-2 kHz expected).
    hop_s:
        Hop length, s.
    mains_hz:
        50 or 60 to fix the notch, 0 for no notch, None to detect it from the first
        2 s of samples (frames wait for that decision, once, at start-up).
    """

    def __init__(self, fs_hz: float, hop_s: float, mains_hz: float | None = None) -> None:
        self.fs_hz = float(fs_hz)
        self.hop_s = float(hop_s)
        emg_band_hz(self.fs_hz)  # validates the rate
        self.buffer = HopBuffer(self.fs_hz, self.hop_s)
        self._bandpass = IirStage(emg_bandpass_sos(self.fs_hz))
        self._detector = MainsDetector(self.fs_hz) if mains_hz is None else None
        self._notch: IirStage | None = None
        if mains_hz is not None:
            self._set_mains(float(mains_hz))
        hops_per_s = max(1, round(1.0 / self.hop_s))
        self._ss1 = TrailingSum(hops_per_s)
        self._ss3 = TrailingSum(3 * hops_per_s)
        self._psd = TrailingSum(max(1, round(_SPECTRAL_S / self.hop_s)))
        self.rest = RestTracker(hops_per_s)
        # Samples of the first floor(fs * hop) of each hop feed one FFT per hop.
        self._nfft = max(2, int(np.floor(self.fs_hz * self.hop_s + 1e-6)))
        self._window = np.hanning(self._nfft)
        self._freqs = np.fft.rfftfreq(self._nfft, 1.0 / self.fs_hz)
        self._hf_mask = self._freqs >= spectral_split_hz(self.fs_hz)
        # carried state
        self._prev_y = np.zeros(2)
        self._prev_x = np.full(1, np.nan)
        self._prev_mean = np.nan
        self._prev_env = np.nan
        self._peak = 0.0  # largest |raw| so far
        self._rep = 0.0  # largest repeated |raw| so far

    @property
    def mains_hz(self) -> float | None:
        """The notch frequency in use (Hz), 0 for none, None while undecided."""
        return self._mains_hz if self._notch is not None else None

    def _set_mains(self, mains_hz: float) -> None:
        self._mains_hz = mains_hz
        self._notch = IirStage(mains_notch_sos(self.fs_hz, mains_hz))
        log.debug("EMG at %.0f Hz: mains notch at %.0f Hz", self.fs_hz, mains_hz)

    def append(self, samples: np.ndarray, t0_s: float) -> None:
        """Queue a raw block (µV) starting at ``t0_s`` s."""
        if self._detector is not None and self._notch is None:
            decided = self._detector.process(samples)
            if decided is not None:
                self._set_mains(decided)
        self.buffer.append(samples, t0_s)

    def finish(self) -> None:
        """End of recording: decide the mains frequency with what arrived."""
        if self._notch is None and self._detector is not None:
            self._set_mains(self._detector.decide())

    def pop_features(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Features ``(m, len(EMG_FEATURES))`` and gap flags ``(m,)`` of the next whole
        hops, or None when none is ready."""
        if self._notch is None:
            return None
        chunk = self.buffer.pop_hops(max_samples)
        if chunk is None:
            return None
        return self.features(chunk), chunk.gap

    def features(self, chunk: HopChunk) -> np.ndarray:
        """Feature rows for whole hops (advances the channel's state)."""
        x = chunk.samples
        m = chunk.m
        n = chunk.counts
        dur = n / self.fs_hz
        out = np.empty((m, len(EMG_FEATURES)))
        col = _COL

        y_bp = self._bandpass.process(x)
        y = self._notch.process(y_bp) if self._notch is not None else y_bp
        ss = hop_sums(y * y, chunk)
        env = np.sqrt(ss / n)
        if y is y_bp:
            out[:, col["mains_ratio"]] = 0.0
        else:
            hum = y_bp - y
            ss_bp = hop_sums(y_bp * y_bp, chunk)
            ratio = np.sqrt(
                np.divide(hop_sums(hum * hum, chunk), ss_bp, where=ss_bp > 0, out=np.zeros(m))
            )
            out[:, col["mains_ratio"]] = np.minimum(ratio, 1.0)
        out[:, col["env_uv"]] = env
        n_ss = np.stack((ss, n), axis=1)
        s1 = self._ss1.process(n_ss)
        s3 = self._ss3.process(n_ss)
        out[:, col["env1s_uv"]] = np.sqrt(np.maximum(s1[:, 0], 0.0) / s1[:, 1])
        out[:, col["env3s_uv"]] = np.sqrt(np.maximum(s3[:, 0], 0.0) / s3[:, 1])

        # Time-domain shape features (Hudgins set), each sample compared with its
        # predecessor, carried across chunks.
        yy = np.concatenate((self._prev_y, y))
        self._prev_y = yy[-2:]
        dy = np.diff(yy)
        wl = hop_sums(np.abs(dy[1:]), chunk)
        sb = np.signbit(yy)
        zc = hop_sums(sb[2:] != sb[1:-1], chunk)
        sd = np.signbit(dy)
        ssc = hop_sums(sd[1:] != sd[:-1], chunk)
        out[:, col["zc_hz"]] = zc / dur
        out[:, col["ssc_hz"]] = ssc / dur

        self._spectral(y, chunk, out)

        # Raw-signal quality: rails, flat line, baseline steps.
        xx = np.concatenate((self._prev_x, x))
        self._prev_x = xx[-1:]
        eq = np.diff(xx) == 0
        ax = np.abs(x)
        starts = chunk.bounds[:-1]
        # Rails: a clipped ADC repeats its extreme code. The rail is the largest repeated
        # |value| seen so far, if it is also (within 2 %) the largest |value| seen at all.
        peak = np.maximum.accumulate(
            np.concatenate(([self._peak], np.maximum.reduceat(ax, starts)))
        )[1:]
        rep = np.maximum.accumulate(
            np.concatenate(([self._rep], np.maximum.reduceat(np.where(eq, ax, 0.0), starts)))
        )[1:]
        self._peak, self._rep = float(peak[-1]), float(rep[-1])
        rail = np.where((rep > 0) & (rep >= _RAIL_FRAC * peak), _RAIL_FRAC * rep, np.inf)
        sat = ax >= np.repeat(rail, chunk.bounds[1:] - starts)
        sat_frac = hop_sums(sat, chunk) / n
        flat_frac = hop_sums(eq & ~sat, chunk) / n
        means = hop_sums(x, chunk) / n
        prev_means = np.concatenate(([self._prev_mean], means[:-1]))
        prev_env = np.concatenate(([self._prev_env], env[:-1]))
        self._prev_mean, self._prev_env = float(means[-1]), float(env[-1])
        with np.errstate(invalid="ignore"):
            step = np.abs(means - prev_means)
            pop = (step > _POP_RATIO * np.fmax(env, prev_env)) & (step > 0)
        gap = chunk.gap.astype(np.float64)
        out[:, col["sat_frac"]] = sat_frac
        out[:, col["flat_frac"]] = flat_frac
        out[:, col["pop"]] = pop
        out[:, col["quality"]] = quality_score(
            sat_frac, flat_frac, pop, out[:, col["mains_ratio"]], gap
        )

        usable = ~chunk.gap & ~pop & (sat_frac < 0.1) & (flat_frac < 0.5)
        rest = self.rest.process(env, usable)
        out[:, col["rest_uv"]] = rest
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, col["rel"]] = env / rest
            out[:, col["rel1s"]] = out[:, col["env1s_uv"]] / rest
            out[:, col["above_rest_uv"]] = env - rest
            out[:, col["wl"]] = wl / dur / rest
        return out

    def _spectral(self, y: np.ndarray, chunk: HopChunk, out: np.ndarray) -> None:
        """Mean / median frequency and high-frequency fraction from one windowed FFT
        per hop, power averaged over the trailing 0.5 s (10 Hz resolution at 0.1 s hops)."""
        m, L = chunk.m, self._nfft
        if chunk.bounds[-1] == m * L:
            segs = y.reshape(m, L)
        else:
            segs = y[chunk.bounds[:-1, None] + np.arange(L)]
        spec = scipy.fft.rfft(segs * self._window, axis=1, workers=1)
        psd = self._psd.process(spec.real**2 + spec.imag**2)
        total = psd.sum(axis=1)
        ok = total > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, _COL["mnf_hz"]] = np.where(ok, psd @ self._freqs / total, np.nan)
            out[:, _COL["hf_frac"]] = np.where(
                ok, psd[:, self._hf_mask].sum(axis=1) / total, np.nan
            )
            cum = np.cumsum(psd, axis=1)
            half = 0.5 * total
            i = np.argmax(cum >= half[:, None], axis=1)
            rows = np.arange(m)
            c_hi = cum[rows, i]
            c_lo = np.where(i > 0, cum[rows, np.maximum(i - 1, 0)], 0.0)
            f_lo = self._freqs[np.maximum(i - 1, 0)]
            df = self._freqs[1] - self._freqs[0]
            frac = np.clip((half - c_lo) / (c_hi - c_lo), 0.0, 1.0)
            # linear interpolation of the cumulative power between bins i-1 and i
            mdf = np.where(i > 0, f_lo + frac * df, 0.0)
            out[:, _COL["mdf_hz"]] = np.where(ok, mdf, np.nan)
