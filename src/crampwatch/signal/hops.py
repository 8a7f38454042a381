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
from typing import overload

import numpy as np

__all__ = ["HopBuffer", "HopChunk", "TrailingSums", "hop_sums", "window_sums"]

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
        # whole samples per hop (0 if not): bounds are then exact integer products
        self._spf_int = int(self._spf) if self._spf.is_integer() else 0
        self._parts: list[np.ndarray] = []
        self._n_buf = 0
        self._start = 0  # global index of the first buffered sample (= bound(k))
        self._k = 0  # next hop to release
        self._gaps: list[tuple[int, int]] = []  # zero-filled [start, stop) global indices

    @overload
    def bound(self, k: int) -> int: ...
    @overload
    def bound(self, k: np.ndarray) -> np.ndarray: ...
    def bound(self, k: int | np.ndarray) -> int | np.ndarray:
        """Global index of the first sample of hop ``k``."""
        if isinstance(k, np.ndarray):
            if self._spf_int:
                return k.astype(np.int64) * self._spf_int
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
    def next_hop(self) -> int:
        """Index of the next hop :meth:`pop_hops` releases."""
        return self._k

    @property
    def complete_hops(self) -> int:
        """Number of hops (from 0) whose samples have all arrived."""
        if self._spf_int:
            return self.end_index // self._spf_int
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

    def releasable(self, max_samples: int | None = None) -> int:
        """End (exclusive) of the hops :meth:`pop_hops` would release: the complete
        hops, at most about ``max_samples`` samples of them (at least one hop)."""
        k_end = self.complete_hops
        if max_samples is not None:
            k_end = min(k_end, self._k + max(1, int(max_samples // max(self._spf, 1.0))))
        return k_end

    def pop_hops(
        self, max_samples: int | None = None, k_stop: int | None = None
    ) -> HopChunk | None:
        """Release the complete hops (at most about ``max_samples`` samples, and only
        hops before ``k_stop``), or None."""
        k_end = self.releasable(max_samples)
        if k_stop is not None:
            k_end = min(k_end, k_stop)
        if k_end <= self._k:
            return None
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


class TrailingSums:
    """Sums over trailing windows of hops (the current hop included) of per-hop values,
    for one or several window widths, carried across chunks; before the first hops the
    missing ones count as zero.

    ``process(values)`` takes per-hop values with the hops along ``axis`` (``m`` of
    them) and returns one array of sums in the values' dtype, of the same shape, per
    width. Each window is added up directly as a fixed tree of sums of 1, 2, 4, 8, ...
    hops shared by all widths (:func:`window_sums`), so a window's sum depends only on
    its hops, never on where a chunk started (exactly the same whatever the chunking,
    for values of any sign), and a width of 30 costs 7 array additions instead of 29.
    ``axis`` is 0 (hops along the rows of 2-D values: the faster layout for these
    additions, about twice as fast as along the last axis) or -1; the sums keep the
    values' memory layout.
    """

    def __init__(self, *widths: int, axis: int = -1) -> None:
        if axis not in (0, -1):
            raise ValueError(f"axis must be 0 or -1, got {axis}")
        self.widths = tuple(max(1, int(w)) for w in widths)
        self.axis = axis
        self._keep = max(self.widths) - 1  # hops of history the widest window needs
        self._hist: np.ndarray | None = None

    def process(self, values: np.ndarray) -> list[np.ndarray]:
        m = values.shape[self.axis]
        if self._hist is None:
            shape = list(values.shape)
            shape[self.axis] = self._keep
            self._hist = np.zeros(shape, dtype=values.dtype)
        full = np.concatenate((self._hist, values), axis=self.axis)
        hops_last = self._hops_last(full)  # a view: the arithmetic keeps the layout
        self._hist = self._hops_last(hops_last[..., hops_last.shape[-1] - self._keep :])
        levels = _power_of_two_sums(hops_last, max(self.widths))
        return [self._hops_last(window_sums(levels, w, m)) for w in self.widths]

    def _hops_last(self, a: np.ndarray) -> np.ndarray:
        """``a`` with the hops along its last axis, or back (a view; its own inverse)."""
        return a.T if self.axis == 0 and a.ndim == 2 else a


def _power_of_two_sums(a: np.ndarray, width: int) -> list[np.ndarray]:
    """``levels[k][..., j]``: the sum of ``a[..., j : j + 2**k]`` (pairs of neighbouring
    sums of the level below), for ``2**k <= width``."""
    levels = [a]
    while 2 ** len(levels) <= width:
        s = 2 ** (len(levels) - 1)
        b = levels[-1]
        levels.append(b[..., :-s] + b[..., s:])
    return levels


def window_sums(levels: list[np.ndarray], width: int, m: int) -> np.ndarray:
    """Sums of ``width`` consecutive values along the last axis for the last ``m``
    windows (the window ending at each of the last ``m`` values; at least
    ``width - 1`` values before them), from :func:`_power_of_two_sums` ``levels`` of the
    values: ``width`` in binary, largest block first.
    """
    start = levels[0].shape[-1] - m - width + 1  # first value of the first window
    parts = []
    for k in range(len(levels) - 1, -1, -1):
        if width >> k & 1:
            parts.append(levels[k][..., start : start + m])
            start += 2**k
    out = parts[0].copy(order="K") if len(parts) == 1 else np.add(parts[0], parts[1])
    for part in parts[2:]:
        np.add(out, part, out=out)
    return out
