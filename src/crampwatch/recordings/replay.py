"""Replay a :class:`Recording` as :class:`SampleBlock` s, as a sensor would send them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from crampwatch.blocks import SampleBlock
from crampwatch.recordings.model import Recording
from crampwatch.roles import ROLES, split_key

__all__ = ["iter_blocks", "iter_channel_blocks"]


def iter_blocks(
    recording: Recording, block_s: float, *, leg: str | None = None
) -> Iterator[SampleBlock]:
    """Yield ``block_s``-long blocks, every role's block k before any role's block k+1.

    Roles come in :data:`crampwatch.roles.ROLES` order. Block k of a role holds samples
    ``round(k·block_s·fs)`` up to ``round((k+1)·block_s·fs)``, so blocks tile the
    channel exactly even when ``block_s·fs`` is not an integer; the last, partial block
    is included; samples inside ``recording.gaps`` are left out (a block may come in two
    pieces around a gap). ``seq`` counts blocks per role from 0. Samples are views of float64
    signals (float32 signals are converted block by block).
    """
    if not block_s > 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    roles = [r for r in ROLES if r in recording.signals]
    counts = {
        r: math.ceil(len(recording.signals[r]) / (block_s * recording.fs_hz[r]) - 1e-9)
        for r in roles
    }
    n_blocks = max(counts.values(), default=0)
    for k in range(n_blocks):
        for role in roles:
            if k >= counts[role]:
                continue
            fs = recording.fs_hz[role]
            x = recording.signals[role]
            i0 = round(k * block_s * fs)
            i1 = min(len(x), round((k + 1) * block_s * fs))
            if i1 <= i0:
                continue
            for a, b in _pieces(i0, i1, fs, recording.gaps):
                yield SampleBlock(role=role, t0_s=a / fs, fs_hz=fs, samples=x[a:b], seq=k, leg=leg)


def iter_channel_blocks(
    recording: Recording, block_s: float, keys: Sequence[str]
) -> Iterator[tuple[str, SampleBlock]]:
    """``(channel key, block)`` for the given channel keys (``emg_tibialis.left`` …), block
    k of every key before block k+1, cut as :func:`iter_blocks` cuts; a block's ``leg``
    is the key's leg."""
    if not block_s > 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    counts = {
        k: math.ceil(len(recording.signals[k]) / (block_s * recording.fs_hz[k]) - 1e-9)
        for k in keys
    }
    for b in range(max(counts.values(), default=0)):
        for key in keys:
            fs = recording.fs_hz[key]
            x = recording.signals[key]
            i0 = round(b * block_s * fs)
            i1 = min(len(x), round((b + 1) * block_s * fs))
            if b >= counts[key] or i1 <= i0:
                continue
            role, leg = split_key(key)
            for a, c in _pieces(i0, i1, fs, recording.gaps):
                yield key, SampleBlock(role, a / fs, fs, x[a:c], seq=b, leg=leg)


def _pieces(
    i0: int, i1: int, fs: float, gaps: Sequence[tuple[float, float]]
) -> list[tuple[int, int]]:
    """Sample ranges of ``[i0, i1)`` outside the recording's gaps (EDF+D holes): the
    replay leaves a hole out, so the pipeline sees a late block (a gap), not zeros."""
    out = [(i0, i1)]
    for g0, g1 in gaps:
        a, b = round(g0 * fs), round(g1 * fs)
        out = [
            part
            for lo, hi in out
            for part in ((lo, min(hi, a)), (max(lo, b), hi))
            if part[1] > part[0]
        ]
    return out
