"""Model-input context features: the shank-motion floor used by the calf-only wait."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.detect.features import ContextFeatures
from crampwatch.signal import FeatureFrames


def motion_frames(motion1s_g: np.ndarray) -> FeatureFrames:
    n = motion1s_g.shape[0]
    t = 0.1 * np.arange(1, n + 1)
    values = np.column_stack([motion1s_g, motion1s_g])
    return FeatureFrames(t, values, ("acc_motion_g", "acc_motion1s_g"))


def floors(motion1s_g: np.ndarray, chunk: int) -> np.ndarray:
    ctx = ContextFeatures()
    out = []
    for i in range(0, motion1s_g.shape[0], chunk):
        ctx.update(motion_frames(motion1s_g[i : i + chunk]))
        out.append(ctx.motion_floor_g2)
    return np.concatenate(out)


def test_motion_floor_is_the_median_power_of_the_last_30_seconds():
    rng = np.random.default_rng(4)
    motion = 0.02 * (1.0 + 0.2 * rng.standard_normal(1200))
    motion[600:650] = 0.3  # a 5-s leg movement
    floor = floors(motion, 1200)
    # at frame 999 (100 s), one sample per second: frames 709, 719, ..., 999
    expected = np.median(motion[709:1000:10] ** 2)
    assert floor[999] == pytest.approx(expected)
    assert floor[1005] == floor[999]  # held until the next second ends
    # the movement moves the median of 30 seconds little (robust), the noise power is kept
    assert floor[640] < 1.5 * 0.02**2  # the mean power would be ~30x that
    assert np.isnan(floor[8]) and floor[9] == pytest.approx(motion[9] ** 2)


def test_motion_floor_does_not_depend_on_the_block_size():
    motion = np.random.default_rng(5).uniform(0.01, 0.05, 2000)
    whole = floors(motion, 2000)
    for chunk in (1, 7, 333):
        assert np.array_equal(floors(motion, chunk), whole, equal_nan=True)
