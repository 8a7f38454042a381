"""The shin's long axis learned from lying postures; upright flags (standing, sitting)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from crampwatch.detect.upright import UprightDetector
from crampwatch.simulate import ScheduledEvent

# gravity in the shank frame (x along the shank): lying postures are perpendicular to x
SUPINE, SIDE, PRONE, STANDING = [0, 0, 1.0], [0, 1.0, 0], [0, 0, -1.0], [1.0, 0, 0]
MINUTE = 600  # frames


def postures(*segments, rotation=None, rng=None):
    """Gravity frames (n, 3) for (posture, minutes) segments, in sensor axes, with a
    little sway noise; and the lying evidence: true except for 3 s of turning at each
    change of posture (the shank moves)."""
    rng = rng or np.random.default_rng(0)
    g = np.concatenate([np.tile(v, (round(m * MINUTE), 1)) for v, m in segments])
    g = g + rng.normal(0.0, 0.02, g.shape)
    rot = rotation if rotation is not None else Rotation.random(random_state=1).as_matrix()
    lying = np.ones(len(g), bool)
    for b in np.cumsum([round(m * MINUTE) for _, m in segments])[:-1]:
        lying[b - 15 : b + 15] = False
    return g @ rot.T, rot, lying


def flags(grav, lying, chunk=None):
    """Upright flags fed ``chunk`` frames at a time, and the detector; its ``known`` is
    set to the whole run's per-frame mask (the axis was known)."""
    det = UprightDetector()
    n = grav.shape[0]
    chunk = chunk or n
    out, known = [], []
    for i in range(0, n, chunk):
        out.append(det.push(grav[i : i + chunk], lying[i : i + chunk]))
        known.append(det.known)
    det.known = np.concatenate(known)
    return np.concatenate(out), det


def test_long_axis_found_from_two_lying_postures_and_standing_flagged():
    grav, rot, lying = postures((SUPINE, 20), (SIDE, 10), (STANDING, 3), (SUPINE, 5))
    lying[30 * MINUTE : 33 * MINUTE] = False  # standing: the calf works, not "lying"
    up, det = flags(grav, lying)
    truth_axis = rot @ np.array([1.0, 0, 0])
    assert abs(det.axis @ truth_axis) > 0.999
    # unknown while only one posture is held, known well before the sleeper stands
    assert not det.known[: 20 * MINUTE].any() and det.known[30 * MINUTE :].all()
    assert not up[: 30 * MINUTE].any()
    assert up[30 * MINUTE + 1 : 33 * MINUTE].all()
    assert not up[33 * MINUTE + 1 :].any()


def test_one_lying_posture_leaves_the_axis_unknown_and_flags_nothing():
    # supine, then up (calf working: not lying evidence), then on the side: one lying
    # posture cannot tell the axis, and an unknown axis must never hold an alarm back
    grav, _, lying = postures((SUPINE, 20), (STANDING, 5), (SIDE, 5))
    lying[20 * MINUTE : 25 * MINUTE] = False
    up, det = flags(grav, lying)
    assert not up.any()
    # unknown while the sleeper stood: those frames are not known to be lying
    assert not det.known[: 25 * MINUTE].any()


def test_a_posture_counts_once_held_for_a_minute():
    # 45 s on the side between long supine stretches: too short to teach the axis
    grav, _, lying = postures((SUPINE, 5), (SIDE, 0.75), (SUPINE, 2), (STANDING, 2))
    lying[-2 * MINUTE :] = False
    up, det = flags(grav, lying)
    assert det.axis is None and not up.any()
    grav, _, lying = postures((SUPINE, 5), (SIDE, 4), (SUPINE, 2), (STANDING, 2))
    lying[-2 * MINUTE :] = False
    up, det = flags(grav, lying)
    assert up[-2 * MINUTE + 1 :].all()


def test_block_size_does_not_change_the_flags():
    grav, _, lying = postures((SUPINE, 5), (PRONE, 1), (SIDE, 3), (STANDING, 2), (SIDE, 1))
    lying[9 * MINUTE : 11 * MINUTE] = False
    whole, det = flags(grav, lying)
    assert whole.any()
    for chunk in (1, 37, 1000):
        up, det_chunked = flags(grav, lying, chunk)
        assert np.array_equal(up, whole)
        assert np.array_equal(det_chunked.known, det.known)
        assert np.array_equal(det_chunked.axis, det.axis)  # bit-identical estimate


def test_knees_drawn_up_on_the_back_is_not_upright():
    # lying on the back with the knees up tilts the shin by ~45°; standing is ~90°
    knees_up = [np.sin(np.radians(45)), 0, np.cos(np.radians(45))]
    grav, _, lying = postures((SUPINE, 10), (SIDE, 5), (STANDING, 1), (knees_up, 5))
    lying[15 * MINUTE : 16 * MINUTE] = False
    up, _ = flags(grav, lying)
    assert up[15 * MINUTE + 1 : 16 * MINUTE].all()
    assert not up[16 * MINUTE :].any()


def test_moving_sensor_readings_are_not_postures():
    # the axis is known; 1.6 g along it is an acceleration burst, not standing
    grav, _, lying = postures((SUPINE, 5), (SIDE, 5), (STANDING, 1), (STANDING, 1))
    lying[-2 * MINUTE :] = False
    grav[-MINUTE:] *= 1.6
    up, _ = flags(grav, lying)
    assert up[-2 * MINUTE + 1 : -MINUTE].all()
    assert not up[-MINUTE:].any()


@pytest.mark.parametrize("acc_fs_hz", [20.0, 100.0])
def test_upright_on_a_simulated_night(acc_fs_hz, make_night):
    """Through the simulator and the signal pipeline: turning over teaches the axis;
    the sleeper standing up after a cramp is flagged, lying never is."""
    from crampwatch.detect.features import ContextFeatures
    from crampwatch.detect.frame_detector import lying_frames
    from crampwatch.detect.trackers import CrampParams
    from crampwatch.signal import extract_features

    sched = [
        ScheduledEvent("turn_over", 60.0, duration_s=3.0, posture="side_left"),
        ScheduledEvent("turn_over", 300.0, duration_s=3.0, posture="supine"),
        ScheduledEvent(
            "cramp", 500.0, duration_s=40.0, peak_uv=200.0, prodrome_s=0.0, reaction="stand_up"
        ),
    ]
    night = make_night(
        sched, hours=0.25, seed=3, acc_fs_hz=acc_fs_hz, tibialis=False, variant="shifted"
    )
    rec = night.recording
    frames = extract_features(rec.signals, rec.fs_hz, hop_s=0.1)
    ctx = ContextFeatures().update(frames)
    calf_rel1s = frames.column("calf_env1s_uv") / frames.column("calf_rest_uv")
    lying = lying_frames(
        calf_rel1s, frames.column("acc_motion1s_g"), ctx.motion_rest_g, CrampParams()
    )
    grav = np.column_stack([frames.column(f"grav_{a}_g") for a in "xyz"])
    up = UprightDetector().push(grav, lying)
    t = frames.t_s
    pcs = [e for e in night.truth if e.type == "position_change"]
    stand = next(e for e in pcs if e.kind == "stand_up")
    down = next(e for e in pcs if e.kind == "lie_down")
    standing = (t > stand.end_s + 2.0) & (t < down.onset_s)
    lying_truth = (t < stand.onset_s) | (t > down.end_s + 3.0)
    for e in pcs:  # transitions are neither
        lying_truth &= (t < e.onset_s - 1.0) | (t > e.end_s + 3.0)
    assert up[standing].mean() > 0.95
    assert not up[lying_truth].any()
