"""EDF+D: data records placed at their onsets; the replay leaves the holes out."""

from __future__ import annotations

import numpy as np

from crampwatch.recordings import read_recording
from crampwatch.recordings.replay import iter_channel_blocks
from crampwatch.simulate.psg import simulate_psg, write_psg


def test_edf_plus_d_records_keep_their_times(tmp_path):
    night = simulate_psg(0.05, 2, emg_fs_hz=200.0)
    rec = read_recording(write_psg(night, tmp_path / "d.edf", gap_s=(60, 90)))
    assert rec.gaps == ((60.0, 90.0),)
    left = rec.signals["emg_tibialis.left"]
    assert left.size == round(night.duration_s * 200)
    # after the hole, samples are where they were recorded (16-bit EDF resolution)
    want = night.legs["left"][100 * 200 : 101 * 200]
    assert np.allclose(left[100 * 200 : 101 * 200], want, atol=0.2)
    assert not left[65 * 200 : 85 * 200].any()
    keys = ["emg_tibialis.left", "emg_tibialis.right"]
    blocks = [b for _, b in iter_channel_blocks(rec, 7.0, keys)]
    assert not [b for b in blocks if b.t0_s < 90.0 and b.end_s > 60.0]
    assert sum(b.n for b in blocks) == 2 * (left.size - 30 * 200)
    assert {b.leg for b in blocks} == {"left", "right"}


def test_continuous_recording_has_no_gaps(tmp_path):
    night = simulate_psg(0.05, 2, emg_fs_hz=200.0)
    rec = read_recording(write_psg(night, tmp_path / "c.edf"))
    assert rec.gaps == ()
    assert rec.duration_s == night.duration_s
