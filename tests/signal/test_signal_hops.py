"""The hop clock: whole hops from blocks of any size, gaps, trailing windows."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.signal.hops import HopBuffer, TrailingSums


def test_uneven_hops_follow_the_recording_clock():
    buf = HopBuffer(25.0, 0.1)  # 2.5 samples per hop
    buf.append(np.arange(10.0), 0.0)
    chunk = buf.pop_hops()
    assert chunk.k0 == 0 and chunk.m == 4
    # sample j is at j / 25 s; hop k holds the samples in [0.1 k, 0.1 (k + 1))
    np.testing.assert_array_equal(chunk.bounds, [0, 3, 5, 8, 10])
    assert buf.pop_hops() is None
    buf.append(np.arange(10.0, 13.0), 0.4)
    nxt = buf.pop_hops()
    assert nxt.k0 == 4 and nxt.m == 1
    np.testing.assert_array_equal(nxt.samples, [10.0, 11.0, 12.0])


def test_float_hop_arithmetic_keeps_boundaries_exact():
    buf = HopBuffer(1000.0, 0.1)  # 0.1 * 1000 is not exactly 100 in binary
    ks = np.arange(0, 300_001, 7)
    np.testing.assert_array_equal(buf.bound(ks), 100 * ks)


def test_gap_is_zero_filled_and_flagged():
    buf = HopBuffer(100.0, 0.1)
    buf.append(np.ones(25), 0.0)
    buf.append(np.ones(30), 0.40)  # 15 samples (0.25-0.40 s) missing
    chunk = buf.pop_hops()
    assert chunk.m == 7
    np.testing.assert_array_equal(chunk.samples[25:40], 0.0)
    np.testing.assert_array_equal(chunk.gap, [False, False, True, True, False, False, False])


def test_trailing_sums_match_direct_sums_for_any_chunking():
    rng = np.random.default_rng(0)
    v = rng.random((3, 200))  # 3 quantities, hops along the last axis
    ts = TrailingSums(1, 5, 30)
    got = [ts.process(v[:, a:b]) for a, b in ((0, 1), (1, 37), (37, 200))]
    for i, width in enumerate(ts.widths):
        ref = np.array([v[:, max(0, k - width + 1) : k + 1].sum(axis=1) for k in range(200)]).T
        np.testing.assert_allclose(np.concatenate([g[i] for g in got], axis=1), ref, rtol=1e-12)


def test_trailing_sums_do_not_depend_on_the_chunking():
    v = np.random.default_rng(1).standard_normal(300) * 1e6 ** np.linspace(0, 1, 300)
    whole = TrailingSums(7, 30).process(v)
    parts = TrailingSums(7, 30)
    pieces = [parts.process(v[a:b]) for a, b in ((0, 100), (100, 101), (101, 300))]
    for i in range(2):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in pieces]), whole[i])


@pytest.mark.parametrize("width", [3, 10])
def test_trailing_sums_accept_negative_values(width):
    v = np.array([1.0, -2.0, 3.0, -4.0, 5.0])
    ts = TrailingSums(width)
    got = np.concatenate([ts.process(v[:2])[0], ts.process(v[2:])[0]])
    ref = [v[max(0, i - width + 1) : i + 1].sum() for i in range(5)]
    np.testing.assert_allclose(got, ref)


def test_trailing_sums_along_the_rows_match_along_the_last_axis():
    v = np.random.default_rng(2).random((50, 4))
    rows, last = TrailingSums(3, 10, axis=0), TrailingSums(3, 10)
    for a, b in ((0, 7), (7, 50)):
        for r, c in zip(rows.process(v[a:b]), last.process(v[a:b].T), strict=True):
            np.testing.assert_array_equal(r, c.T)
