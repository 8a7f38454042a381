"""Accelerometer: gravity, tilt, movement."""

from __future__ import annotations

import numpy as np
import pytest
from signal_synth import night

from crampwatch.signal import extract_features
from crampwatch.signal.accel import angle_deg


def _turn(fs: float, seconds: float = 30.0, t_turn: float = 12.0, dur: float = 1.0):
    """Gravity rotates from +z to +x (a 90° posture change) over `dur` s at `t_turn`."""
    sig, fsd = night(seconds, emg_fs=500.0, acc_fs=fs, tib=False)
    t = np.arange(sig["acc_x"].size) / fs
    phase = np.clip((t - t_turn) / dur, 0.0, 1.0) * np.pi / 2
    sig["acc_x"] += np.sin(phase)
    sig["acc_z"] += np.cos(phase) - 1.0
    moving = (t >= t_turn) & (t < t_turn + dur)
    rng = np.random.default_rng(1)
    for ax in ("acc_x", "acc_y", "acc_z"):
        sig[ax][moving] += 0.3 * rng.standard_normal(moving.sum())
    return extract_features(sig, fsd, mains_hz=50)


@pytest.mark.parametrize("acc_fs", [10.0, 50.0, 200.0])
def test_tilt_change_90_degrees(acc_fs):
    fr = _turn(acc_fs)
    t = fr.t_s
    tilt = fr.column("tilt_change_deg")
    assert tilt[(t > 5) & (t < 11.5)].max() < 5.0
    assert tilt[(t > 13) & (t < 16)].max() == pytest.approx(90.0, abs=5.0)
    assert tilt[t > 20].max() < 5.0  # settled in the new posture
    assert fr.column("tilt_from_rest_deg")[(t > 20)].min() > 80.0  # slow reference lags
    np.testing.assert_allclose(fr.column("grav_x_g")[t > 20], 1.0, atol=0.02)
    np.testing.assert_allclose(fr.column("grav_z_g")[t > 20], 0.0, atol=0.02)


def test_movement_during_the_turn():
    fr = _turn(50.0)
    t = fr.t_s
    motion = fr.column("acc_motion_g")
    still = np.median(motion[(t > 5) & (t < 11)])
    assert still < 0.01
    assert np.median(motion[(t > 12.2) & (t < 12.9)]) > 10 * still
    m1 = fr.column("acc_motion1s_g")
    assert m1[(t > 12.9) & (t < 13.5)].min() > 5 * still  # trailing window still sees it


def test_angle_deg():
    u = np.array([[0, 0, 1.0], [0, 0, 1.0], [1.0, 0, 0], [0, 0, 0]])
    v = np.array([[0, 0, 2.0], [1.0, 0, 0], [-1.0, 0, 0], [1.0, 0, 0]])
    np.testing.assert_allclose(angle_deg(u, v), [0.0, 90.0, 180.0, np.nan], atol=1e-9)
