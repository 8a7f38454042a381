"""Per-channel EMG processing: filters, envelope, resting level, quality, features.

:class:`EmgChannel` turns whole hops of raw EMG (µV, or counts for devices without µV
units) into one row of :data:`crampwatch.signal.frames.EMG_FEATURES` per hop.

Chain (all causal): band-pass 20 Hz..min(450 Hz, 0.45 fs) and mains notch (50/60 Hz,
found from the first 2 s unless given) in one IIR cascade -> per-hop statistics:

- envelope: RMS of the filtered EMG over the hop, the trailing 1 s and 3 s (µV);
- resting level (:class:`RestTracker`) and the envelope relative to it;
- Hudgins time-domain features: waveform length, zero crossings, slope sign changes;
- spectral mean / median frequency and high-frequency fraction (one FFT per hop);
- quality: mains ratio, saturation, flat line, pops, and their product
  (:func:`quality_score`).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.fft
from scipy import signal as sps

from crampwatch.signal.filters import (
    N_HARMONICS,
    IirStage,
    MainsDetector,
    emg_band_hz,
    emg_bandpass_sos,
    mains_notch_sos,
)
from crampwatch.signal.frames import EMG_FEATURES
from crampwatch.signal.hops import HopBuffer, HopChunk, TrailingSums

__all__ = ["EmgChannel", "RestTracker", "quality_score", "spectral_split_hz"]

log = logging.getLogger(__name__)

_COL = {name: i for i, name in enumerate(EMG_FEATURES)}
# waveform-shape features: only the cramp classifier uses them (see EmgChannel)
_SHAPE_FEATURES = ("wl", "zc_hz", "ssc_hz", "mnf_hz", "mdf_hz", "hf_frac")

# A sample is "at a rail" when it is within 2 % of a rail level (see EmgChannel.features).
_RAIL_FRAC = 0.98
# Pop: the raw hop mean jumps by more than this many times the larger of the two hops'
# band-passed RMS. EMG is zero-mean, so its hop means move by a fraction of its RMS;
# an electrode pop or lead movement shifts the baseline by much more.
_POP_RATIO = 1.5
# Spectral features use the power spectra of the trailing 0.5 s of hops.
_SPECTRAL_S = 0.5
# The mains ratio averages the trailing 2 s of hops coherently, at most 20 hops (as the
# shipped model was trained).
_MAINS_S = 2.0
_MAINS_MAX_HOPS = 20
# A hop with this share of its samples at the rails does not update the resting level.
# Not the detector's saturation issue (crampwatch.detect.bad_signal, 5 % of a frame):
# that one reports a frame unusable; this one only keeps clipped hops out of the level.
_REST_MAX_SAT_FRAC = 0.1
# Likewise a hop with this share of its samples repeating their predecessor (a flat
# line: a stuck or disconnected input) stays out of the resting level, which it would drag
# towards zero.
_REST_MAX_FLAT_FRAC = 0.5


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
    mains factor is 1 up to a mains ratio of 0.3 and falls linearly to 0 at 0.8 (clean
    EMG: median ~0.05, 99th percentile ~0.15-0.25 depending on the rate; hum with half
    the EMG's RMS gives 0.45, as strong as the EMG 0.71). A NaN ratio (no notch) counts
    as 0.
    """
    # fmax(ratio, 0) maps NaN to 0 (and negative ratios, which the clip maps to 1 anyway)
    mains = np.minimum(np.maximum((0.8 - np.fmax(mains_ratio, 0.0)) / 0.5, 0.0), 1.0)
    return (1.0 - sat_frac) * (1.0 - flat_frac) * (1.0 - 0.75 * pop) * mains * (1.0 - gap)


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for all-NaN rows); faster than
    ``np.nanmedian`` on many short rows."""
    srt = np.sort(a, axis=1)  # NaN sort last
    p = a.shape[1]
    if not p:
        return np.full(a.shape[0], np.nan)
    med = 0.5 * (srt[:, (p - 1) // 2] + srt[:, p // 2])  # rows without NaN
    has_nan = np.isnan(srt[:, -1])
    if has_nan.any():  # the middle of the non-NaN values that start those rows
        part = srt[has_nan]
        c = p - np.isnan(part).sum(axis=1)
        flat, first = part.ravel(), np.arange(part.shape[0]) * p
        lo = flat[first + np.maximum((c - 1) // 2, 0)]
        hi = flat[first + np.maximum(c // 2, 0)]
        med[has_nan] = np.where(c > 0, 0.5 * (lo + hi), np.nan)
    return med


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

    def _run(self, stats: list[float]) -> list[float]:
        """Apply one update per period statistic (log µV, NaN = frozen); return the state
        before each update. A plain-float loop: one step per second of signal."""
        q, n, eta0 = self._q, self._n, self.eta
        up, down = self.tau, 1.0 - self.tau
        before = []
        for x in stats:
            before.append(q)
            if x != x:  # no usable hop in this period: freeze
                continue
            if q != q:
                q = x
            else:
                eta = 2.0 / (n + 1)  # larger steps while warming up
                if eta < eta0:
                    eta = eta0
                # up slowly, down fast, never past the new value (conditional
                # expressions: faster than min/max calls)
                if x > q:
                    q += eta * up
                    q = x if x < q else q
                else:
                    q -= eta * down
                    q = x if x > q else q
            n += 1
        self._q, self._n = q, n
        return before

    def process(self, env_uv: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """Resting level (µV) for each hop of ``env_uv`` (consecutive hops)."""
        m = env_uv.shape[0]
        p = self.period_hops
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(env_uv)  # -inf for a silent hop: not usable
        logs[~usable | ~np.isfinite(logs)] = np.nan
        vals = np.concatenate((self._pending, logs))
        offset = self._pending.shape[0]  # hops of the current period already seen
        n_full = vals.shape[0] // p
        if n_full:
            stats = _nanmedian_rows(vals[: n_full * p].reshape(n_full, p))
            states = np.array([*self._run(stats.tolist()), self._q])
        else:
            states = np.array([self._q])
        self._pending = vals[n_full * p :]
        idx = (offset + np.arange(m)) // p
        return np.exp(states)[idx]


def _sum_f64(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-hop sums (hops starting at ``starts``) as float64."""
    return np.add.reduceat(values, starts).astype(np.float64)


def _count(flags: np.ndarray, starts: np.ndarray, dtype: type = np.int32) -> np.ndarray:
    """Per-hop counts of True in a boolean array, as float64, counted in ``dtype`` (uint8
    is exact for hops of at most 255 samples and twice as fast: no conversion)."""
    return np.add.reduceat(flags.view(np.uint8), starts, dtype=dtype).astype(np.float64)


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
    decide_mains:
        With ``mains_hz`` None: False leaves the decision to the caller, who votes over
        the channels of a sensor set (:func:`~crampwatch.signal.filters.vote_mains` on
        each channel's :attr:`mains_detector`) and calls :meth:`set_mains`.
    shape_features:
        False: leave out the waveform-shape features (``wl``, ``zc_hz``, ``ssc_hz``,
        ``mnf_hz``, ``mdf_hz``, ``hf_frac`` are NaN) that only the cramp classifier
        uses; the other columns are the same. Leg-movement scoring runs about twice as
        fast without them.
    """

    def __init__(
        self,
        fs_hz: float,
        hop_s: float,
        mains_hz: float | None = None,
        *,
        shape_features: bool = True,
        decide_mains: bool = True,
    ) -> None:
        self.fs_hz = float(fs_hz)
        self.hop_s = float(hop_s)
        self.shape_features = bool(shape_features)
        emg_band_hz(self.fs_hz)  # validates the rate
        self.buffer = HopBuffer(self.fs_hz, self.hop_s)
        self.mains_detector = MainsDetector(self.fs_hz) if mains_hz is None else None
        self._decide_mains = decide_mains
        self._filter: IirStage | None = None  # band-pass + notch, once mains is known
        self._probe: np.ndarray | None = None  # DFT columns at the notched harmonics
        self._probe_hz = np.empty(0)  # their frequencies, Hz
        hops_per_s = max(1, round(1.0 / self.hop_s))
        # trailing 1 s and 3 s (envelopes) and the mains window, over the rows of
        # _hop_terms
        mains_hops = min(round(_MAINS_S * hops_per_s), _MAINS_MAX_HOPS)
        self._windows = TrailingSums(hops_per_s, 3 * hops_per_s, mains_hops, axis=0)
        self._rotate = True  # see _mains_probe
        self._psd = TrailingSums(max(1, round(_SPECTRAL_S / self.hop_s)), axis=0)
        self.rest = RestTracker(hops_per_s)
        # Samples of the first floor(fs * hop) of each hop feed one FFT per hop.
        self._nfft = max(2, int(np.floor(self.fs_hz * self.hop_s + 1e-6)))
        self._window = sps.get_window("hann", self._nfft)  # periodic: zeros on the bins
        self._freqs = np.fft.rfftfreq(self._nfft, 1.0 / self.fs_hz)
        self._df = float(self._freqs[1])
        self._count_dtype = np.uint8 if np.ceil(self.fs_hz * self.hop_s) <= 255 else np.int32
        # first bin at or above the high/low split (bins ascend)
        self._split_bin = int(np.searchsorted(self._freqs, spectral_split_hz(self.fs_hz)))
        self._probe_norm = 2.0 / self._window.sum() ** 2  # |DFT|^2 -> sinusoid power
        self._window = self._window.astype(np.float32)
        # carried state
        self._prev_y = np.zeros(2, dtype=np.float32)
        self._prev_x = np.nan
        self._prev_mean = np.nan
        self._prev_env = np.nan
        self._peak = 0.0  # largest |raw| so far
        self._rep = 0.0  # largest repeated |raw| so far
        if mains_hz is not None:
            self._set_mains(float(mains_hz))

    @property
    def mains_hz(self) -> float | None:
        """The notch frequency in use (Hz), 0 for none, None while undecided."""
        return self._mains_hz if self._filter is not None else None

    def set_mains(self, mains_hz: float) -> None:
        """Fix the notch (Hz: 50, 60; 0 none), once: later calls change nothing."""
        if self._filter is None:
            self._set_mains(mains_hz)

    def _set_mains(self, mains_hz: float) -> None:
        self._mains_hz = mains_hz
        notch = mains_notch_sos(self.fs_hz, mains_hz)
        bandpass = emg_bandpass_sos(self.fs_hz)
        # One cascade: scipy's sosfilt costs per sample, nearly not per section.
        self._filter = IirStage(bandpass if notch is None else np.vstack((bandpass, notch)))
        self._probe = self._mains_probe(mains_hz)
        log.debug("EMG at %.0f Hz: mains notch at %.0f Hz", self.fs_hz, mains_hz)

    def _mains_probe(self, mains_hz: float) -> np.ndarray | None:
        """Hann-windowed cos/sin columns at each notched harmonic ``f`` of ``mains_hz``
        below the band top: single-frequency DFTs of the raw hop (the hum the notch
        removes). Columns: the real parts (cos) of all harmonics, then the imaginary
        parts (-sin)."""
        top = emg_band_hz(self.fs_hz)[1]
        freqs = [f for h in range(1, N_HARMONICS + 1) if 0 < (f := h * mains_hz) < top]
        if not freqs:
            return None
        self._probe_hz = np.array(freqs)
        h = len(freqs)
        t = np.arange(self._nfft) / self.fs_hz
        arg = 2 * np.pi * np.outer(t, freqs)
        basis = np.empty((self._nfft, 2 * h))
        basis[:, :h] = np.cos(arg) * self._window[:, None]
        basis[:, h:] = -np.sin(arg) * self._window[:, None]
        # Hop k starts at sample bound(k). With a whole number of samples per hop and a
        # whole number of cycles of every harmonic per hop (50/60 Hz at 200 Hz-2 kHz,
        # 0.1-s hops) every hop starts at phase 0: the rotation to the common phase
        # reference in _mains_hum is exactly the identity and is skipped.
        spf = self.fs_hz * self.hop_s
        spf_int = abs(spf - round(spf)) < 1e-9
        self._rotate = not (
            spf_int
            and float(self.fs_hz).is_integer()
            and all(float(f).is_integer() and (round(spf) * f) % self.fs_hz == 0 for f in freqs)
        )
        return basis

    def append(self, samples: np.ndarray, t0_s: float) -> None:
        """Queue a raw block (µV) starting at ``t0_s`` s."""
        samples = self.buffer.append(samples, t0_s)
        det = self.mains_detector
        if det is None or self._filter is not None:
            return
        if not self._decide_mains:
            det.collect(samples)  # the caller votes
        elif (decided := det.process(samples)) is not None:
            self._set_mains(decided)

    def finish(self) -> None:
        """End of recording: decide the mains frequency with what arrived (unless the
        caller decides it)."""
        det = self.mains_detector
        if self._filter is None and det is not None and self._decide_mains:
            self._set_mains(det.decide())

    def pop_features(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Features ``(m, len(EMG_FEATURES))`` and gap flags ``(m,)`` of the next whole
        hops, or None when none is ready."""
        if self._filter is None:
            return None
        chunk = self.buffer.pop_hops(max_samples)
        if chunk is None:
            return None
        return self.features(chunk), chunk.gap

    def features(self, chunk: HopChunk) -> np.ndarray:
        """Feature rows ``(m, len(EMG_FEATURES))`` for whole hops (advances the channel's
        state).

        Filters run in float64; the per-sample feature arithmetic after them runs in
        float32 (per-hop sums of <= 200 samples: ~1e-7 relative error, far below the
        noise of any EMG feature) for speed.
        """
        if self._filter is None:
            raise RuntimeError("EMG features before the mains frequency is known")
        x = chunk.samples
        n = chunk.counts
        starts = chunk.bounds[:-1]
        # One contiguous row per feature while computing (per-feature arithmetic is
        # faster on contiguous rows); returned transposed.
        out = np.empty((len(EMG_FEATURES), chunk.m))
        col = _COL

        # the filtered hop in float32 after the last two samples of the previous chunk
        # (the time-domain features compare each sample with its predecessors)
        yy = np.empty(x.size + 2, dtype=np.float32)
        yy[:2] = self._prev_y
        yy[2:] = self._filter.process(x)
        self._prev_y = yy[-2:].copy()
        y = yy[2:]
        ss = _sum_f64(y * y, starts)
        env = np.sqrt(ss / n)
        out[col["env_uv"]] = env
        # trailing sums (the window arithmetic is faster with the hops along the rows)
        terms = self._hop_terms(x, chunk, ss)
        sums_1s, sums_3s, sums_mains = self._windows.process(terms.T)
        out[col["env1s_uv"]] = np.sqrt(sums_1s[:, 0] / sums_1s[:, 1])
        out[col["env3s_uv"]] = np.sqrt(sums_3s[:, 0] / sums_3s[:, 1])
        out[col["mains_ratio"]], out[col["hum_uv"]] = self._mains_hum(
            np.ascontiguousarray(sums_mains.T), chunk
        )
        if self.shape_features:
            wl = self._time_domain(yy, chunk, out)
            self._spectral(y, chunk, out)
        else:  # leg movements need only the envelope, the resting level and quality
            wl = np.full(chunk.m, np.nan)
            for name in _SHAPE_FEATURES:
                out[col[name]] = np.nan
        usable = self._raw_quality(x, chunk, env, out)
        rest = self.rest.process(env, usable)
        out[col["rest_uv"]] = rest
        with np.errstate(divide="ignore", invalid="ignore"):
            out[col["rel"]] = env / rest
            out[col["rel1s"]] = out[col["env1s_uv"]] / rest
            out[col["above_rest_uv"]] = env - rest
            out[col["wl"]] = wl / (n / self.fs_hz) / rest
        return out.T

    def _time_domain(self, yy: np.ndarray, chunk: HopChunk, out: np.ndarray) -> np.ndarray:
        """Time-domain shape features (Hudgins et al. 1993): zero crossings and slope sign
        changes per second into ``out``; returns the waveform length per hop (µV).

        ``yy``: the filtered chunk (float32) after the last two samples of the previous
        chunk: each sample is compared with its predecessors.
        """
        starts = chunk.bounds[:-1]
        dur = chunk.counts / self.fs_hz
        dy = yy[1:] - yy[:-1]
        wl = _sum_f64(np.abs(dy[1:]), starts)
        sb = np.signbit(yy)
        sd = np.signbit(dy)
        cnt = self._count_dtype
        out[_COL["zc_hz"]] = _count(sb[2:] != sb[1:-1], starts, cnt) / dur
        out[_COL["ssc_hz"]] = _count(sd[1:] != sd[:-1], starts, cnt) / dur
        return wl

    def _raw_quality(
        self, x: np.ndarray, chunk: HopChunk, env: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Raw-signal quality into ``out``: samples at the rails, flat line, baseline steps
        (pops), and the quality score. ``env``: the hops' band-passed RMS, µV. Returns
        which hops may update the resting level (no gap, pop, saturation, flat line)."""
        n = chunk.counts
        starts = chunk.bounds[:-1]
        eq = np.empty(x.size, dtype=bool)  # sample equal to its predecessor
        eq[0] = x[0] == self._prev_x
        np.equal(x[1:], x[:-1], out=eq[1:])
        self._prev_x = float(x[-1])
        rails = self._rails(np.abs(x), eq, chunk)
        sat_frac, flat_frac = (np.zeros(chunk.m), np.zeros(chunk.m)) if rails is None else rails
        means = np.add.reduceat(x, starts) / n
        prev_means = np.concatenate(([self._prev_mean], means[:-1]))
        prev_env = np.concatenate(([self._prev_env], env[:-1]))
        self._prev_mean, self._prev_env = float(means[-1]), float(env[-1])
        with np.errstate(invalid="ignore"):
            step = np.abs(means - prev_means)
            pop = (step > _POP_RATIO * np.fmax(env, prev_env)) & (step > 0)
        out[_COL["sat_frac"]] = sat_frac
        out[_COL["flat_frac"]] = flat_frac
        out[_COL["pop"]] = pop
        out[_COL["quality"]] = quality_score(
            sat_frac, flat_frac, pop, out[_COL["mains_ratio"]], chunk.gap.astype(np.float64)
        )
        usable = ~(chunk.gap | pop)
        if rails is not None:
            usable &= (sat_frac < _REST_MAX_SAT_FRAC) & (flat_frac < _REST_MAX_FLAT_FRAC)
        return usable

    def _rails(
        self, ax: np.ndarray, eq: np.ndarray, chunk: HopChunk
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Per hop, the fraction of samples at a rail and of the other samples equal to
        their predecessor (``ax``: |raw|, ``eq``: sample equal to its predecessor); None
        when both are 0 throughout.

        Rails: a clipped ADC repeats its extreme code. The rail is the largest repeated
        |value| seen so far, if it is also (within 2 %) the largest |value| seen at all.
        """
        m, n, starts = chunk.m, chunk.counts, chunk.bounds[:-1]
        peak = np.maximum(np.maximum.accumulate(np.maximum.reduceat(ax, starts)), self._peak)
        self._peak = float(peak[-1])
        any_eq = bool(eq.any())  # float EMG almost never repeats a value: fast path
        if not any_eq and not self._rep > 0:  # nothing repeated yet: no rail, no flat line
            return None
        if any_eq:
            rep_hop = np.maximum.reduceat(np.where(eq, ax, 0.0), starts)
            rep = np.maximum(np.maximum.accumulate(rep_hop), self._rep)
        else:
            rep = np.full(m, self._rep)
        self._rep = float(rep[-1])
        rail = np.where((rep > 0) & (rep >= _RAIL_FRAC * peak), _RAIL_FRAC * rep, np.inf)
        cnt = self._count_dtype
        if np.isfinite(rail).any():
            sat = ax >= np.repeat(rail, chunk.bounds[1:] - starts)
            return _count(sat, starts, cnt) / n, _count(eq & ~sat, starts, cnt) / n
        return np.zeros(m), (_count(eq, starts, cnt) / n if any_eq else np.zeros(m))

    def _segments(self, v: np.ndarray, chunk: HopChunk) -> np.ndarray:
        """``(m, nfft)``: the first ``nfft`` samples of each hop (a view when hops are
        exactly ``nfft`` long)."""
        m, L = chunk.m, self._nfft
        if chunk.bounds[-1] == m * L:
            return v.reshape(m, L)
        return v[chunk.bounds[:-1, None] + np.arange(L)]

    def _hop_terms(self, x: np.ndarray, chunk: HopChunk, ss: np.ndarray) -> np.ndarray:
        """Per-hop terms of the trailing sums, one row each (contiguous): the sum of the
        filtered y² (µV²), the number of samples, then with a notch the real and
        imaginary parts of the raw hop's DFT at each notched harmonic (phase-aligned, see
        :meth:`_mains_hum`) and its squared magnitude."""
        h = 0 if self._probe is None else self._probe_hz.shape[0]
        rows = np.empty((2 + 3 * h, chunk.m))
        rows[0], rows[1] = ss, chunk.counts
        if h:
            z = rows[2 : 2 + 2 * h]
            z[:] = (self._segments(x, chunk) @ self._probe).T
            if self._rotate:
                c = z[:h] + 1j * z[h:]
                start = self.buffer.bound(chunk.k0) + chunk.bounds[:-1]  # global index
                cycles = np.mod(np.outer(self._probe_hz, start), self.fs_hz) / self.fs_hz
                c *= np.exp(-2j * np.pi * cycles)
                z[:h], z[h:] = c.real, c.imag
            zz = z * z
            np.add(zz[:h], zz[h:], out=rows[2 + 2 * h :])
        return rows

    def _mains_hum(self, sums: np.ndarray, chunk: HopChunk) -> tuple[np.ndarray, np.ndarray]:
        """The mains ratio (RMS of the hum over RMS of hum + filtered EMG, 0..1) and the
        hum's RMS (µV), both over the trailing 2 s, from the trailing sums of the
        :meth:`_hop_terms` rows. The hum in µV must come from this window, not from the
        ratio and a shorter envelope: at a contraction's onset the envelope jumps while
        the 2-s ratio still shows the quiet muscle's hum share, and their product would
        be a hum that grows with the EMG.

        Hum is phase-locked to the mains, EMG is not: each hop's DFT value at a notched
        harmonic is rotated to a common phase reference (the sample clock) and the
        values of the trailing 2 s are averaged coherently (a grid 0.1 Hz off nominal
        loses ~12 % of the hum power to the phase drift). ``(|sum|^2 - sum |.|^2) /
        (W (W - 1))`` over the ``W`` hops is an unbiased estimate of the squared mean,
        i.e. of the hum alone (the EMG's random phases cancel, on average exactly).
        NaN when no notch is used.
        """
        m = chunk.m
        if self._probe is None:
            return np.full(m, np.nan), np.full(m, np.nan)
        h = self._probe_hz.shape[0]
        re, im, power = sums[2 : 2 + h], sums[2 + h : 2 + 2 * h], sums[2 + 2 * h :]
        excess = re * re + im * im - power  # coherent minus incoherent power
        width = self._windows.widths[2]
        if chunk.k0 + 1 >= width:  # every window holds `width` hops
            sq_mean = excess / (width * (width - 1))
        else:  # hops in each window: hop k is the (k+1)-th
            w = np.minimum(chunk.k0 + 1 + np.arange(m), width).astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                sq_mean = np.where(w > 1, excess / (w * (w - 1)), power)
        hum = self._probe_norm * np.maximum(sq_mean, 0.0).sum(axis=0)  # µV²
        total = hum + sums[0] / sums[1]
        return np.sqrt(np.divide(hum, total, out=np.zeros(m), where=total > 0)), np.sqrt(hum)

    def _spectral(self, y: np.ndarray, chunk: HopChunk, out: np.ndarray) -> None:
        """Mean / median frequency and high-frequency fraction from one Hann-windowed FFT
        per hop (10 Hz resolution at 0.1 s hops), power summed over the trailing 0.5 s.

        The power spectra (float32) are summed over the trailing hops, then turned into
        float64 with bins along the first axis, so that the frequency-weighted sum, the
        power above the split and the cumulative power are row operations over all hops
        at once. No BLAS product: its rounding can depend on the number of rows (the
        chunking), and a threaded BLAS is slow on matrices this small.
        """
        m = chunk.m
        spec = scipy.fft.rfft(
            self._segments(y, chunk) * self._window, axis=1, workers=1, overwrite_x=True
        )
        power = spec.real**2 + spec.imag**2
        (psd,) = self._psd.process(power)
        nb = psd.shape[1]
        # cum[j + 1] = trailing power in bins 0..j (cum[0] = 0), per hop (column)
        cum = np.empty((nb + 1, m))
        cum[0] = 0.0
        cum[1:] = psd.T
        f_sum = np.einsum("j,jk->k", self._freqs, cum[1:])
        hf = cum[1 + self._split_bin :].sum(axis=0)
        for j in range(2, nb + 1):
            cum[j] += cum[j - 1]
        total = cum[nb]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[_COL["mnf_hz"]] = f_sum / total
            out[_COL["hf_frac"]] = hf / total
            # median: first bin i whose cumulative power reaches half (cum does not
            # decrease), interpolated linearly between the cumulative power before it
            # and after it
            half = 0.5 * total
            below = (cum[1:] < half).view(np.uint8)
            # bins below half, counted in uint8 when exact (nb <= 255): no conversion
            count = below.sum(axis=0, dtype=np.uint8 if nb <= 255 else np.intp)
            i = np.minimum(count.astype(np.intp), nb - 1)
            at = i * m + np.arange(m)
            flat = cum.ravel()
            c_lo, c_hi = flat[at], flat[at + m]
            frac = (half - c_lo) / (c_hi - c_lo)
            out[_COL["mdf_hz"]] = np.maximum(self._freqs[i] - (1.0 - frac) * self._df, 0.0)
        silent = ~(total > 0)
        if silent.any():
            out[_COL["mnf_hz"], silent] = np.nan
            out[_COL["hf_frac"], silent] = np.nan
            out[_COL["mdf_hz"], silent] = np.nan
