"""The hop clock: turning blocks of any size into whole hops, and trailing windows.

Every role is cut on the same clock: hop ``k`` covers recording time
``[k * hop_s, (k + 1) * hop_s)``, i.e. the samples with global index ``j`` (sample ``j``
is at ``j / fs_hz`` s) in ``[bound(k), bound(k + 1))``. Samples per hop need not be an
integer (e.g. 25 Hz accelerometer, 0.1 s hop: hops of 2 and 3 samples alternate).

Gaps: a block starting more than 1.5 samples after the end of the previous one (or a
first block starting after 0 s) leaves a hole that is filled with zeros (never
interpolated: a hole is no evidence of anything) and remembered, so that every hop
overlapping it is flagged.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["HopBuffer", "HopChunk", "TrailingSum", "hop_sums", "window_sums"]

log = logging.getLogger(__name__)

# Tolerance of the hop-boundary arithmetic, in samples: fs * hop_s in floating point
# (0.1 * 1000 = 100.00000000000001) must not move a boundary by one sample.
_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class HopChunk:
    """Whole consecutive hops of one role.

    Attributes
    ----------
    k0:
        Global index of the first hop.
    samples:
        The samples of hops ``k0 .. k0 + m - 1`` in the role's units, at ``fs_hz``.
    bounds:
        ``(m + 1,)`` int64 hop boundaries as indices into ``samples`` (``bounds[0] == 0``).
    gap:
        ``(m,)`` bool, True where the hop contains zero-filled (missing) samples.
    """

    k0: int
    samples: np.ndarray
    bounds: np.ndarray
    gap: np.ndarray

    @property
    def m(self) -> int:
        """Number of hops."""
        return int(self.gap.shape[0])

    @cached_property  # used by several features of the same chunk
    def counts(self) -> np.ndarray:
        """``(m,)`` samples per hop (float64, for dividing)."""
        return np.diff(self.bounds).astype(np.float64)


def hop_sums(values: np.ndarray, chunk: HopChunk) -> np.ndarray:
    """Per-hop sums of a per-sample array aligned with ``chunk.samples``."""
    if values.dtype == np.bool_:
        return np.add.reduceat(values, chunk.bounds[:-1], dtype=np.int64).astype(np.float64)
    return np.add.reduceat(values, chunk.bounds[:-1])


class HopBuffer:
    """Collects one role's samples on the global sample clock and releases whole hops.

    Parameters
    ----------
    fs_hz:
        Sampling rate of the role, Hz (at least one sample per hop).
    hop_s:
        Hop length, s.
    """

    def __init__(self, fs_hz: float, hop_s: float) -> None:
        self.fs_hz = float(fs_hz)
        spf = self.fs_hz * hop_s
        self._spf = float(round(spf)) if abs(spf - round(spf)) < 1e-9 else spf
        self._parts: list[np.ndarray] = []
        self._n_buf = 0
        self._start = 0  # global index of the first buffered sample (= bound(k))
        self._k = 0  # next hop to release
        self._gaps: list[tuple[int, int]] = []  # zero-filled [start, stop) global indices

    def bound(self, k: int | np.ndarray) -> int | np.ndarray:
        """Global index of the first sample of hop ``k``."""
        if isinstance(k, np.ndarray):
            return np.ceil(k * self._spf - _EPS).astype(np.int64)
        return math.ceil(k * self._spf - _EPS)

    @property
    def end_index(self) -> int:
        """Global index just after the last buffered sample."""
        return self._start + self._n_buf

    @property
    def buffered(self) -> int:
        """Samples waiting in the buffer."""
        return self._n_buf

    @property
    def complete_hops(self) -> int:
        """Number of hops (from 0) whose samples have all arrived."""
        k = math.floor((self.end_index + _EPS) / self._spf)
        while self.bound(k) > self.end_index:  # guard the float division
            k -= 1
        while self.bound(k + 1) <= self.end_index:
            k += 1
        return k

    def append(self, samples: np.ndarray, t0_s: float) -> np.ndarray:
        """Add a block whose first sample is at ``t0_s`` (s on the recording clock);
        return the samples actually appended.

        A start more than 1.5 samples late is a gap (zero-filled); a start two or more
        samples early overlaps samples already received (a repeated packet): those are
        dropped, so the buffer stays on the sample clock. Smaller offsets are timestamp
        jitter and the sample count is trusted.
        """
        j0 = round(t0_s * self.fs_hz)
        missing = j0 - self.end_index
        if missing >= 2 and (t0_s * self.fs_hz - self.end_index) > 1.5:
            self.fill_gap(j0)
        elif missing <= -2:
            log.debug("block at %.6f s repeats %d samples: dropped", t0_s, -missing)
            samples = samples[-missing:]
        if samples.size:
            self._parts.append(samples)
            self._n_buf += samples.size
        return samples

    def fill_gap(self, stop: int) -> None:
        """Zero-fill from the end of the buffer up to global index ``stop`` (a gap)."""
        start = self.end_index
        if stop <= start:
            return
        self._gaps.append((start, stop))
        self._parts.append(np.zeros(stop - start))
        self._n_buf += stop - start

    def pop_hops(self, max_samples: int | None = None) -> HopChunk | None:
        """Release the complete hops (at most about ``max_samples`` samples), or None."""
        k_end = self.complete_hops
        if k_end <= self._k:
            return None
        if max_samples is not None:
            k_lim = self._k + max(1, int(max_samples // max(self._spf, 1.0)))
            k_end = min(k_end, k_lim)
        ks = np.arange(self._k, k_end + 1)
        bounds = self.bound(ks) - self._start
        n_take = int(bounds[-1])
        data = self._parts[0] if len(self._parts) == 1 else np.concatenate(self._parts)
        taken, rest = data[:n_take], data[n_take:]
        self._parts = [rest] if rest.size else []
        self._n_buf = rest.size
        gap = self._gap_flags(bounds + self._start)
        chunk = HopChunk(self._k, taken, bounds, gap)
        self._start += n_take
        self._k = k_end
        return chunk

    def _gap_flags(self, bounds_abs: np.ndarray) -> np.ndarray:
        gap = np.zeros(bounds_abs.shape[0] - 1, dtype=bool)
        keep = []
        for g0, g1 in self._gaps:
            # hops whose [b_k, b_k+1) overlaps [g0, g1)
            first = np.searchsorted(bounds_abs, g0, side="right") - 1
            last = np.searchsorted(bounds_abs, g1, side="left")
            gap[max(first, 0) : max(last, 0)] = True
            if g1 > bounds_abs[-1]:
                keep.append((g0, g1))
        self._gaps = keep
        return gap


class TrailingSum:
    """Sum over the trailing ``width`` hops (the current one included) of per-hop values,
    carried across chunks; before the first ``width`` hops the missing ones count as
    zero. Values must be non-negative when ``width > DIRECT_MAX``.

    ``process(values)`` takes ``(m, ...)`` per-hop values and returns ``(m, ...)`` sums in
    their dtype. Up to ``DIRECT_MAX`` hops wide each window is added up directly, in a
    fixed order that does not depend on the chunking (:func:`window_sums`: exactly the
    same whatever the chunking); wider windows use differences of a running float64 sum
    restarted at every chunk (chunking changes them by rounding only, ~1e-16 of the
    chunk's total; clipped at 0).
    """

    DIRECT_MAX = 20

    def __init__(self, width: int) -> None:
        self.width = max(1, int(width))
        self._hist: np.ndarray | None = None

    def process(self, values: np.ndarray) -> np.ndarray:
        w, m = self.width, values.shape[0]
        if self._hist is None:
            self._hist = np.zeros((w, *values.shape[1:]), dtype=values.dtype)
        # history: the previous `width` hops (one more than the windows need, which the
        # running-sum form subtracts)
        full = np.concatenate((self._hist, values), axis=0)
        self._hist = full[m:]
        if w <= self.DIRECT_MAX:
            return window_sums(full, w, m)
        cs = np.cumsum(full, axis=0, dtype=np.float64)
        out = cs[w:] - cs[:m]
        return np.maximum(out, 0.0, out=out)


def window_sums(a: np.ndarray, width: int, m: int) -> np.ndarray:
    """Sums of ``width`` consecutive rows of ``a`` for the last ``m`` windows (the
    window ending at each of the last ``m`` rows; ``a`` holds at least ``width - 1``
    rows before them).

    Each window is added up as a fixed tree of sums of 2, 4, 8, ... rows (pairs of
    neighbouring sums, doubled ``log2(width)`` times), so a window's sum depends only on
    its rows, never on where a chunk started, and a width of 20 costs 5 array additions
    instead of 19.
    """
    # blocks[s][j] = sum of rows j .. j + s - 1 (s a power of two <= width)
    blocks = {1: a}
    s = 1
    while 2 * s <= width:
        b = blocks[s]
        blocks[2 * s] = b[:-s] + b[s:]
        s *= 2
    start = a.shape[0] - m - width + 1  # first row of the first window
    out = None
    for s in sorted(blocks, reverse=True):  # width in binary, largest block first
        if width & s:
            part = blocks[s][start : start + m]
            out = part.copy() if out is None else np.add(out, part, out=out)
            start += s
    return out
