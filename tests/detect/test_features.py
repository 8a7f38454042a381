"""Model-input context features: the shank-motion floor used by the calf-only wait."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.detect.features import ACTIVE_REL, ContextFeatures, period_ends
from crampwatch.detect.frame_detector import FrameDetector
from crampwatch.signal import FEATURE_NAMES, FeatureFrames

NAMES = ("acc_motion_g", "acc_motion1s_g", "gap", "calf_env1s_uv", "calf_rest_uv")


def frames_of(t_s: np.ndarray, columns: dict[str, np.ndarray], names=FEATURE_NAMES):
    """Frames with every pipeline column (``names``): the given ones, NaN elsewhere (what
    the pipeline gives for a feature it cannot compute)."""
    values = np.full((t_s.shape[0], len(names)), np.nan)
    for name, v in columns.items():
        values[:, names.index(name)] = v
    return FeatureFrames(t_s, values, names)


def run(motion1s_g, *, gap=None, calf_rel=None, chunk=None, attr="motion_floor_g2"):
    """``attr`` of ContextFeatures over frames with the given 1-s motion (g; also used as
    the 0.1-s motion), gap flags and calf 1-s envelope / rest (1: relaxed)."""
    n = motion1s_g.shape[0]
    gap = np.zeros(n) if gap is None else gap
    calf_rel = np.ones(n) if calf_rel is None else calf_rel
    values = np.column_stack([motion1s_g, motion1s_g, gap, calf_rel, np.ones(n)])
    t = 0.1 * np.arange(1, n + 1)
    ctx, out = ContextFeatures(), []
    for i in range(0, n, chunk or n):
        sl = slice(i, i + (chunk or n))
        step = ctx.update(frames_of(t[sl], {c: values[sl, j] for j, c in enumerate(NAMES)}))
        out.append(getattr(step, attr))
    return np.concatenate(out)


def test_motion_floor_is_the_median_resting_power_of_the_last_30_seconds():
    rng = np.random.default_rng(4)
    motion = 0.02 * (1.0 + 0.2 * rng.standard_normal(1200))
    floor = run(motion)
    # at frame 999 (100 s), one sample per second: frames 709, 719, ..., 999
    assert floor[999] == pytest.approx(np.median(motion[709:1000:10] ** 2))
    assert floor[1005] == floor[999]  # held until the next second ends
    # unknown until 5 once-a-second samples exist
    assert np.isnan(floor[:49]).all()
    assert floor[49] == pytest.approx(np.median(motion[9:50:10] ** 2))


def test_seconds_with_the_calf_working_do_not_count():
    # standing for 60 s: the calf works and the shank sways at 3x the resting motion;
    # the floor stays the shank at rest, so the sway counts as motion
    motion = np.full(1500, 0.02)
    calf = np.ones(1500)
    motion[600:1200] = 0.06
    calf[600:1200] = 5.0
    floor = run(motion, calf_rel=calf)
    assert np.allclose(floor[400:], 0.02**2)
    # counted, it would have become the sway
    assert run(motion)[1199] == pytest.approx(0.06**2)


def test_accelerometer_gaps_do_not_pull_the_floor_down():
    # a BLE drop: zero-filled samples give ~0 motion; they and the 3 s of high-pass
    # settling after them are not the leg's motion
    motion = np.full(1500, 0.03)
    gap = np.zeros(1500)
    motion[900:1100] = 0.0
    gap[900:1100] = 1.0
    assert np.nanmin(run(motion, gap=gap)[600:]) == pytest.approx(0.03**2)
    power = run(motion, gap=gap, attr="motion_power_g2")
    assert np.isnan(power[900:1129]).all() and power[1130] == pytest.approx(0.03**2)


def test_motion_floor_does_not_depend_on_the_block_size():
    rng = np.random.default_rng(5)
    motion = rng.uniform(0.01, 0.05, 2000)
    gap = (np.arange(2000) // 50 % 13 == 3).astype(float)
    calf = np.where(np.arange(2000) // 70 % 5 == 1, 4.0, 1.0)
    whole = run(motion, gap=gap, calf_rel=calf)
    for chunk in (1, 7, 333):
        assert np.array_equal(
            run(motion, gap=gap, calf_rel=calf, chunk=chunk), whole, equal_nan=True
        )


def test_period_ends_follow_the_recording_not_the_blocks():
    assert period_ends(0, 25, 10).tolist() == [9, 19]
    # the same frames (9, 19, 29, 39) split into blocks at 0, 7, 20, 33
    starts, ends = [0, 7, 20, 33], [7, 20, 33, 45]
    got = [a + i for a, b in zip(starts, ends, strict=True) for i in period_ends(a, b - a, 10)]
    assert got == [9, 19, 29, 39]


def test_a_misspelt_column_fails_instead_of_switching_a_guard_off(model):
    # frames whose calf/tibialis ratio column is misspelt: read as all-NaN, the calf
    # dominance guard (``~(ratio < x)``) would pass every frame
    t = 0.1 * np.arange(1, 51)
    names = tuple("calf_tib_ratoi" if c == "calf_tib_ratio" else c for c in FEATURE_NAMES)
    frames = frames_of(t, {"gap": np.zeros(50), "has_tib": np.ones(50)}, names)
    det = FrameDetector(has_tib=True, device_id="t", model=model)
    with pytest.raises(KeyError, match="calf_tib_ratio"):
        det.push(frames)
    with pytest.raises(KeyError, match="calf_tib_ratio"):
        ContextFeatures().update(frames)


def test_active_rel_is_the_value_the_shipped_model_was_trained_with():
    """The model's inputs (a muscle's active run lengths, the relaxed frames of the motion
    floor) count a muscle active at ACTIVE_REL × rest, which is CrampParams.active_rel's
    default. The shipped model was trained with 2.0 (its meta does not record it): a new
    default changes the inputs under the model, so it must be retrained (``make model``)
    and this value updated with it."""
    assert ACTIVE_REL == 2.0
