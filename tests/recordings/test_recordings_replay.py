"""``iter_blocks``: order, sequence numbers and exact tiling for any block size."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from crampwatch.recordings import Recording, iter_blocks
from crampwatch.roles import ROLES


def recording() -> Recording:
    rng = np.random.default_rng(3)
    emg_fs, acc_fs = 333.0, 25.0
    sig = {
        "emg_calf": rng.normal(size=3331),  # 10.003 s: the last block is partial
        "emg_tibialis": rng.normal(size=3331),
        "acc_x": rng.normal(size=250),
        "acc_y": rng.normal(size=250),
        "acc_z": rng.normal(size=250),
    }
    return Recording(signals=sig, fs_hz={r: emg_fs if "emg" in r else acc_fs for r in sig})


@pytest.mark.parametrize("block_s", [0.1, 0.25, 0.37, 1.0, 3.0, 20.0])
def test_concatenation_equals_signals(block_s: float):
    rec = recording()
    blocks = list(iter_blocks(rec, block_s))
    for role, x in rec.signals.items():
        mine = [b for b in blocks if b.role == role]
        assert [b.seq for b in mine] == list(range(len(mine)))
        np.testing.assert_array_equal(np.concatenate([b.samples for b in mine]), x)
        for b, nxt in pairwise(mine):
            assert nxt.t0_s == pytest.approx(b.end_s)
        assert mine[0].t0_s == 0.0


def test_blocks_interleave_in_time_order():
    rec = recording()
    seqs = [(b.seq, ROLES.index(b.role)) for b in iter_blocks(rec, 0.5)]
    assert seqs == sorted(seqs)


def test_blocks_are_views_for_float64():
    rec = recording()
    first = next(iter(iter_blocks(rec, 1.0)))
    assert np.shares_memory(first.samples, rec.signals["emg_calf"])


def test_float32_signals_become_float64_blocks():
    rec = recording()
    rec32 = Recording(
        signals={r: x.astype(np.float32) for r, x in rec.signals.items()}, fs_hz=rec.fs_hz
    )
    assert all(b.samples.dtype == np.float64 for b in iter_blocks(rec32, 1.0))


def test_bad_block_size():
    with pytest.raises(ValueError):
        list(iter_blocks(recording(), 0))
