"""Event state machines on synthetic 0.1-s frames (no signal pipeline, no classifier)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from crampwatch.detect.trackers import (
    CrampInputs,
    CrampParams,
    CrampTracker,
    CrampWarningTracker,
    PositionTracker,
    SignalIssueTracker,
)

N = 600  # 60 s of frames
T = 0.1 * np.arange(1, N + 1)
# Path timing: most tests feed no tibialis ratio; they test the paths without the
# calf-only wait, which has its own tests below.
NO_WAIT = CrampParams(calf_only_min_active_s=0.0)


# a step to 20× rest at 20 s: the 1-s envelope reaches cramp force (8×) at 20.4 s and
# has held it for 1.5 s at 21.8 s
FORCE_T = 21.8


def cramp_inputs(onset_i=200, end_i=450):
    p = np.zeros(N)
    rel = np.ones(N)
    rel[onset_i:end_i] = 20.0
    # classifier becomes confident 1 s after the onset
    p[onset_i + 10 : end_i] = 0.9
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    motion = np.full(N, 0.01)
    bad = np.zeros(N, bool)
    return p, rel, rel1s, motion, bad


def inputs(p_cramp, calf_rel, calf_rel1s, motion1s_g, calf_bad, **given) -> CrampInputs:
    """:class:`CrampInputs` over ``T``; what is not ``given`` is neutral: the classifier
    puts its whole probability on the active classes (``p_active`` 1: the cramp share
    is ``p_cramp``), no tibialis evidence (NaN ratio), no glitch or electrode trouble,
    the shank's resting level, power, floor and gravity unknown (NaN), its motion known,
    lying (the shin's axis known)."""
    neutral = {
        "p_active": np.ones(N),
        "calf_tib_ratio": np.full(N, np.nan),
        "calf_glitch": np.zeros(N, bool),
        "calf_trouble": np.zeros(N, bool),
        "motion_rest_g": np.full(N, np.nan),
        "motion_power_g2": np.full(N, np.nan),
        "motion_floor_g2": np.full(N, np.nan),
        "motion_known": np.ones(N, bool),
        "upright": np.zeros(N, bool),
        "upright_known": np.ones(N, bool),
        "gravity_g": np.full((N, 3), np.nan),
    }
    return CrampInputs(
        t_s=T,
        p_cramp=p_cramp,
        calf_rel=calf_rel,
        calf_rel1s=calf_rel1s,
        motion1s_g=motion1s_g,
        calf_bad=calf_bad,
        **{**neutral, **given},
    )


def run(tr: CrampTracker, arrays, chunk: int = N, **given):
    """Spans of ``tr`` over ``inputs(*arrays, **given)`` fed ``chunk`` frames at a time."""
    x = inputs(*arrays, **given)
    out = []
    for i in range(0, N, chunk):
        out += tr.push(x[i : i + chunk]).spans
    return out + tr.flush(T[-1])


def test_onset_then_end_same_onset():
    spans = run(CrampTracker(CrampParams(k_frames=5, calf_only_min_active_s=0.0)), cramp_inputs())
    assert [s.end_s is None for s in spans] == [True, False]
    onset, end = spans
    assert onset.onset_s == pytest.approx(20.0)  # back-tracked to the calf rise
    # cramp force (1-s envelope ≥ 8× rest) from 20.4 s, held 1.5 s, then 5 frames
    assert onset.decided_at_s == pytest.approx(FORCE_T + 0.4)
    assert end.onset_s == onset.onset_s
    assert end.end_s == pytest.approx(45.0, abs=0.2)


def test_the_open_mask_covers_the_frames_from_the_alarm_to_the_end():
    step = CrampTracker(NO_WAIT).push(inputs(*cramp_inputs()))
    onset, end = step.spans
    open_t = T[step.open_mask]
    assert open_t[0] == pytest.approx(onset.decided_at_s)
    assert open_t[-1] == pytest.approx(end.decided_at_s - 0.1)
    assert step.open_mask.sum() == round((end.decided_at_s - onset.decided_at_s) / 0.1)


def test_chunking_does_not_change_decisions():
    whole = run(CrampTracker(), cramp_inputs())
    for chunk in (1, 3, 64):
        assert run(CrampTracker(), cramp_inputs(), chunk) == whole


def test_bad_calf_signal_vetoes_the_alarm():
    p, rel, rel1s, motion, bad = cramp_inputs()
    bad[150:300] = True
    tr = CrampTracker()
    spans = run(tr, (p, rel, rel1s, motion, bad))
    # no alarm while bad, and none within clean_s after it cleared
    assert spans and all(s.decided_at_s >= 30.0 + tr.p.clean_s for s in spans)


def test_large_motion_vetoes_the_alarm():
    p, rel, rel1s, motion, bad = cramp_inputs()
    motion[:] = 0.8
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad)) == []


def test_unsustained_calf_activity_vetoes_the_alarm():
    p, rel, rel1s, motion, bad = cramp_inputs()
    rel1s[:] = 1.5
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad)) == []


def test_short_confidence_blip_does_not_alarm():
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[:] = 0.0
    p[250:253] = 0.95  # 3 frames < k_frames
    assert run(CrampTracker(CrampParams(k_frames=5)), (p, rel, rel1s, motion, bad)) == []


def test_ongoing_cramp_is_closed_at_flush():
    p, rel, rel1s, motion, bad = cramp_inputs(onset_i=400, end_i=N)
    spans = run(CrampTracker(), (p, rel, rel1s, motion, bad))
    assert spans[-1].end_s == pytest.approx(T[-1])
    assert spans[-1].details["end_reason"] == "end_of_recording"


def test_position_change_needs_a_rotation():
    grav = np.tile([0.0, 0.0, 1.0], (N, 1))
    motion = np.zeros(N)
    motion[100:140] = 0.2  # a 4-s bout ...
    grav[140:] = [1.0, 0.0, 0.0]  # ... after which the shin lies 90° rotated
    motion[300:330] = 0.2  # a bout without rotation: a twitch, not a position change
    (span,) = PositionTracker().push(T, grav, motion)
    assert span.onset_s == pytest.approx(10.0)
    assert span.end_s == pytest.approx(14.0)
    assert span.details["angle_deg"] == pytest.approx(90.0, abs=0.5)


def test_signal_issue_opens_after_one_second_and_closes_after_two():
    reason = np.full(N, "", dtype=object)
    reason[100:300] = "electrode_off"
    reason[400:405] = "mains"  # 0.5 s: too short for an event
    tr = SignalIssueTracker("emg_calf")
    step = tr.push(T, reason)
    spans = step.spans
    assert [(s.onset_s, s.end_s) for s in spans] == [
        (pytest.approx(10.0), None),
        (pytest.approx(10.0), pytest.approx(30.0)),
    ]
    assert spans[0].decided_at_s == pytest.approx(11.0)
    assert spans[1].details == {"channel": "emg_calf", "kind": "electrode_off"}
    assert step.open_mask[150] and not step.open_mask[350]


def test_motion_at_the_onset_of_the_calf_rise_vetoes_the_whole_run():
    # a voluntary stretch: the shin moves as the calf starts working, then holds still
    p, rel, rel1s, motion, bad = cramp_inputs()
    motion[195:212] = 0.25
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad)) == []
    # the same motion 5 s before the rise does not matter
    p, rel, rel1s, motion, bad = cramp_inputs()
    motion[130:147] = 0.25
    assert len(run(CrampTracker(), (p, rel, rel1s, motion, bad))) == 2


def test_tibialis_dominant_activity_is_not_a_calf_cramp():
    p, rel, rel1s, motion, bad = cramp_inputs()
    arrays = (p, rel, rel1s, motion, bad)

    def run_ratio(ratio):
        return run(CrampTracker(), arrays, calf_tib_ratio=ratio)

    assert run_ratio(np.full(N, 0.5)) == []  # tibialis twice as active: a leg movement
    assert len(run_ratio(np.full(N, 4.0))) == 2
    assert len(run_ratio(np.full(N, np.nan))) == 2  # no tibialis channel: no veto


def test_the_tibialis_as_active_as_the_calf_as_it_starts_vetoes_the_whole_run():
    # a leg movement or a stretch works both muscles as the calf starts, and the
    # tibialis may relax first, leaving a calf that looks like a cramp's
    p, rel, rel1s, motion, bad = cramp_inputs()
    arrays = (p, rel, rel1s, motion, bad)
    ratio = np.full(N, 4.0)
    ratio[200:210] = 0.8  # the calf's first second
    assert run(CrampTracker(), arrays, calf_tib_ratio=ratio) == []
    # the same ratio 5 s before the calf's run does not matter
    ratio = np.full(N, 4.0)
    ratio[150:160] = 0.8
    assert len(run(CrampTracker(), arrays, calf_tib_ratio=ratio)) == 2
    # nor while the calf is barely above rest (the ratio of two resting levels is noise)
    rel[195:200] = 2.0  # the run starts 0.5 s early, its 1-s envelope < min_rel1s
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    ratio = np.full(N, 4.0)
    ratio[195:200] = 0.8
    assert len(run(CrampTracker(), (p, rel, rel1s, motion, bad), calf_tib_ratio=ratio)) == 2


def test_a_shank_moving_above_its_resting_level_as_the_calf_starts_vetoes_the_run():
    # a voluntary stretch on a noisy accelerometer: the shin's jolt stays under the
    # absolute onset limit (0.1 g) but is 3 x its own resting level
    p, rel, rel1s, motion, bad = cramp_inputs()
    rest = np.full(N, 0.02)
    motion[:] = 0.02
    motion[195:212] = 0.06
    arrays = (p, rel, rel1s, motion, bad)
    assert run(CrampTracker(), arrays, motion_rest_g=rest) == []
    # motion unknown there (an accelerometer gap) does not veto
    known = np.ones(N, bool)
    known[195:212] = False
    assert len(run(CrampTracker(), arrays, motion_rest_g=rest, motion_known=known)) == 2


# --------------------------------------------------- escalation on sustained evidence


def weak_cramp_inputs(share=0.8):
    """A weak tonic calf contraction the classifier is unsure about: cramp probability
    0.2 (never ≥ p_on) but ``share`` of the active-class probability."""
    p, rel, rel1s, motion, bad = cramp_inputs()
    rel[200:450] = 10.0
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    p[:] = 0.0
    p[200:450] = 0.2
    p_active = np.zeros(N)
    p_active[200:450] = 0.2 / share
    return (p, rel, rel1s, motion, bad), p_active


def test_sustained_tonic_contraction_escalates_without_a_confident_window():
    arrays, p_active = weak_cramp_inputs(share=0.8)
    # the same cramp probability with the classifier's whole probability on the active
    # classes (a cramp share of 0.2, not 0.8): no alarm
    assert run(CrampTracker(NO_WAIT), arrays) == []
    spans = run(CrampTracker(NO_WAIT), arrays, p_active=p_active)
    onset = spans[0]
    assert onset.details["rule"] == "tonic_calf_sustained"
    assert onset.onset_s == pytest.approx(20.0)
    # a contraction that never relaxed for sustain_s (2 s), at cramp force (8× rest,
    # reached at 20.8 s) held 1.5 s (22.2 s), then the 1-s share window
    assert onset.decided_at_s == pytest.approx(23.1)
    for chunk in (1, 7, 64):
        assert run(CrampTracker(NO_WAIT), arrays, chunk, p_active=p_active) == spans


def test_sustained_path_abstains_when_the_classifier_calls_it_a_leg_movement():
    arrays, p_active = weak_cramp_inputs(share=0.3)  # LM/movement take 70 %
    assert run(CrampTracker(), arrays, p_active=p_active) == []


def test_sustained_path_needs_a_contraction_that_never_relaxes():
    arrays, p_active = weak_cramp_inputs(share=0.8)
    rel = arrays[1]
    rel[215::15] = 1.0  # phasic: back to rest every 1.5 s (a burst train, not tonic)
    assert run(CrampTracker(NO_WAIT), arrays, p_active=p_active) == []


def test_sustained_path_needs_the_calf_to_dominate_the_tibialis():
    arrays, p_active = weak_cramp_inputs(share=0.8)
    ratio = np.full(N, 1.5)  # calf above the general 1x guard, under the 2x of this path
    assert run(CrampTracker(), arrays, calf_tib_ratio=ratio, p_active=p_active) == []
    ratio = np.full(N, 6.0)
    assert len(run(CrampTracker(), arrays, calf_tib_ratio=ratio, p_active=p_active)) == 2


def test_shank_moving_above_its_resting_level_holds_the_alarm():
    p, rel, rel1s, motion, bad = cramp_inputs()
    rest = np.full(N, 0.02)  # a noisy accelerometer: 0.02 g at rest
    motion[:] = 0.02
    # noise at its resting level is "still": the alarm fires as without motion
    assert len(run(CrampTracker(), (p, rel, rel1s, motion, bad), motion_rest_g=rest)) == 2
    # a leg movement moving the shank 2.5x its resting level for the whole burst
    motion[190:460] = 0.05
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad), motion_rest_g=rest) == []


def test_a_pop_holds_the_alarm_for_one_second_a_broken_signal_for_two():
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[200:] = 0.9  # confident from the rise on
    clean = run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad))[0].decided_at_s
    glitch = np.zeros(N, bool)
    glitch[218] = True  # a pop (or a QRS taken for one) as force is reached
    spans = run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad), calf_glitch=glitch)
    # 1 s clean after the pop, then the 5 confident frames
    assert 21.9 + 1.0 + 0.4 <= spans[0].decided_at_s < 21.9 + 2.0
    bad2 = bad.copy()
    bad2[218] = True  # the same frame broken (gap, flat, clipped): 2 s of clean signal
    spans = run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad2))
    assert spans[0].decided_at_s >= 21.9 + 2.0
    assert clean == pytest.approx(FORCE_T + 0.4)


def test_position_change_on_a_noisy_accelerometer():
    # an accelerometer whose noise alone moves the 1-s motion level to 0.035 g (> the
    # 0.03-g bout threshold): judged against its resting level, turning over still shows
    grav = np.tile([0.0, 0.0, 1.0], (N, 1))
    motion = np.full(N, 0.035)
    motion[100:140] = 0.3
    grav[140:] = [1.0, 0.0, 0.0]
    assert PositionTracker().push(T, grav, motion) == []  # a bout that never ends
    (span,) = PositionTracker().push(T, grav, motion, np.full(N, 0.035))
    assert span.onset_s == pytest.approx(10.0)
    assert span.details["angle_deg"] == pytest.approx(90.0, abs=0.5)


# ----------------------------------------------- calf only; one alarm per contraction


def test_without_tibialis_the_alarm_waits_out_a_leg_movement():
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[200:450] = 0.9  # confident from the rise on
    tib = np.full(N, 6.0)  # calf 6x as far above rest as the tibialis
    k = CrampParams().k_frames
    with_tib = run(CrampTracker(), (p, rel, rel1s, motion, bad), calf_tib_ratio=tib)
    # cramp force held 1.5 s, then k frames
    assert with_tib[0].decided_at_s == pytest.approx(FORCE_T + 0.1 * (k - 1))
    calf_only = run(CrampTracker(), (p, rel, rel1s, motion, bad))
    wait = CrampParams().calf_only_min_active_s
    assert calf_only[0].onset_s == pytest.approx(20.0)  # still back-tracked to the rise
    assert calf_only[0].decided_at_s == pytest.approx(20.0 + wait + 0.1 * (k - 1))
    # a lost tibialis electrode (ratio NaN) gives no evidence either: the same wait
    lost = run(CrampTracker(), (p, rel, rel1s, motion, bad), calf_tib_ratio=np.full(N, np.nan))
    assert lost == calf_only
    # a confident 3-s burst (a leg movement that fires the calf) alarms only when the
    # tibialis is there to say the calf dominates
    rel[230:450] = 1.0
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad)) == []
    burst = run(CrampTracker(), (p, rel, rel1s, motion, bad), calf_tib_ratio=tib)
    assert len(burst) == 2


def test_without_tibialis_a_10_s_calf_coactivation_never_alarms_a_cramp_within_12_s():
    # a leg movement lasts at most 10 s (WASM 2016) and may keep the calf as active and
    # as "confident" as a cramp all along; a cramp lasts minutes
    p, rel, rel1s, motion, bad = cramp_inputs(onset_i=200, end_i=300)  # 20-30 s
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad)) == []
    p, rel, rel1s, motion, bad = cramp_inputs(onset_i=200, end_i=500)  # 20-50 s
    (onset, _end) = run(CrampTracker(), (p, rel, rel1s, motion, bad))
    assert onset.onset_s == pytest.approx(20.0)
    assert 30.0 < onset.decided_at_s <= 32.0  # within 12 s of the onset


def test_the_onset_is_where_the_jump_to_cramp_force_began_not_the_creep_before_it():
    # a prodrome creeping from rest to 3x over 10-30 s, then the cramp's jump to 20x
    p, rel, rel1s, motion, bad = cramp_inputs(onset_i=300, end_i=500)
    rel[100:300] = np.linspace(1.0, 3.0, 200)
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    tib = np.full(N, 6.0)
    (onset, _end) = run(CrampTracker(), (p, rel, rel1s, motion, bad), calf_tib_ratio=tib)
    assert rel[250] >= CrampParams().active_rel  # the calf's active run began in the creep
    assert onset.onset_s == pytest.approx(30.0, abs=0.3)
    assert onset.decided_at_s - onset.onset_s < 3.0


def test_one_alarm_per_contraction():
    # the cramp ends (the classifier lets go) while the calf stays active, as when the
    # sleeper stands on the leg; confidence returns: no second alarm until the calf has
    # relaxed, then a new contraction alarms again
    p, rel, rel1s, motion, bad = cramp_inputs(onset_i=200, end_i=450)
    p[200:450] = 0.9
    p[300:330] = 0.0  # the cramp ends here (p < p_off for end_quiet_s)
    rel[470:560] = 20.0  # relaxed 45-47 s, then a new contraction
    p[470:560] = 0.9
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    spans = run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad))
    onsets = [s for s in spans if s.end_s is None]
    assert [s.onset_s for s in onsets] == pytest.approx([20.0, 47.0])
    assert len([s for s in spans if s.end_s is not None]) == 2


def test_calf_only_alarm_needs_a_still_shank_over_the_wait():
    # A calf-only contraction on a noisy accelerometer (noise floor 0.035 g RMS over the
    # three axes). The 1-s motion test alone cannot see a leg movement's small shank
    # motion there; its power averaged over the calf-only wait can.
    p, rel, rel1s, _, bad = cramp_inputs()
    p[200:450] = 0.9
    floor = np.full(N, 0.035**2)
    rest = np.full(N, 0.035)
    still = np.full(N, 0.035)
    kw = {"motion_rest_g": rest, "motion_floor_g2": floor}
    whole = run(CrampTracker(), (p, rel, rel1s, still, bad), motion_power_g2=still**2, **kw)
    wait = CrampParams().calf_only_min_active_s
    k = CrampParams().k_frames
    assert whole[0].decided_at_s == pytest.approx(20.0 + wait + 0.1 * (k - 1))
    # the shank moves 0.02 g RMS above that floor: sqrt(0.035² + 0.02²) = 0.040 g, well
    # inside the 1-s test's 1.3 x rest + 0.008 g = 0.054 g
    moving = np.full(N, np.hypot(0.035, 0.02))
    spans = run(CrampTracker(), (p, rel, rel1s, moving, bad), motion_power_g2=moving**2, **kw)
    assert spans == []
    # the same motion with a tibialis channel: its evidence rules, not the wait
    tib = np.full(N, 6.0)
    spans = run(
        CrampTracker(),
        (p, rel, rel1s, moving, bad),
        motion_power_g2=moving**2,
        calf_tib_ratio=tib,
        **kw,
    )
    assert len(spans) == 2
    # a 2.5-s movement in the contraction holds the alarm only until it has left the
    # last still_window_s (6 s) of the power average, not for the whole contraction
    early = still.copy()
    early[250:275] = 0.09  # 25-27.5 s, near the end of the wait
    held = run(CrampTracker(), (p, rel, rel1s, still, bad), motion_power_g2=early**2, **kw)
    window = CrampParams().still_window_s
    assert 20.0 + wait < 27.5 + window  # the motion is still in the window when the wait ends
    assert 27.5 + window - 0.5 <= held[0].decided_at_s <= 27.5 + window + 0.1 * k
    # unknown power (an accelerometer gap) does not hold it back
    gap = np.full(N, np.nan)
    spans = run(CrampTracker(), (p, rel, rel1s, still, bad), motion_power_g2=gap, **kw)
    assert spans[0].decided_at_s == whole[0].decided_at_s
    # chunking gives the same decisions
    for chunk in (1, 7):
        chunked = run(
            CrampTracker(), (p, rel, rel1s, still, bad), chunk, motion_power_g2=early**2, **kw
        )
        assert chunked == held


def test_no_alarm_while_the_shin_is_upright():
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[200:450] = 0.9
    upright = np.zeros(N, bool)
    upright[150:300] = True  # standing until 30 s: the calf works, the sleeper is up
    spans = run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad), upright=upright)
    # the alarm waits for the shin to be lying again (then k confident frames)
    assert spans[0].decided_at_s == pytest.approx(30.0 + 0.1 * CrampParams().k_frames)
    upright[:] = True
    assert run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad), upright=upright) == []
    # a tibialis channel does not change it: a standing calf may dominate a silent
    # tibialis (calf 6x as far above rest as the tibialis here)
    tib = np.full(N, 6.0)
    assert run(CrampTracker(), (p, rel, rel1s, motion, bad), calf_tib_ratio=tib)  # lying
    spans = run(CrampTracker(), (p, rel, rel1s, motion, bad), upright=upright, calf_tib_ratio=tib)
    assert spans == []


def test_motion_at_a_gap_edge_does_not_veto_the_contraction():
    # the calf is already active when the data resume after a gap; the accelerometer's
    # zero-filled gap leaves a motion transient on the first frames, which says nothing
    # about how the contraction started
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[200:450] = 0.9
    motion[200:215] = 0.4  # the transient, over the onset window
    assert run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad)) == []  # known: vetoed
    known = np.ones(N, bool)
    known[200:230] = False
    spans = run(CrampTracker(NO_WAIT), (p, rel, rel1s, motion, bad), motion_known=known)
    assert len(spans) == 2


# ------------------------------------------ the alarm is for the cramp itself (issue 13)


def tone_inputs(rel: np.ndarray):
    """A calf envelope ``rel`` (× rest per frame) the classifier calls a cramp outright:
    only the force test can hold the alarm back."""
    rel1s = np.convolve(rel, np.ones(10) / 10)[:N]
    return (np.full(N, 0.95), rel, rel1s, np.full(N, 0.01), np.zeros(N, bool))


def ramp(lo_i: int, hi_i: int, top: float) -> np.ndarray:
    rel = np.ones(N)
    rel[lo_i:hi_i] = np.linspace(1.0, top, hi_i - lo_i)
    rel[hi_i:] = top
    return rel


def test_a_tone_rising_to_a_few_times_rest_does_not_alarm():
    rel = ramp(50, 350, 5.0)  # 30-s rise to 5× rest, then held
    assert run(CrampTracker(NO_WAIT), tone_inputs(rel), p_active=np.ones(N)) == []


def test_a_slow_creep_to_high_tone_is_not_a_cramp_but_a_jump_is():
    creep = ramp(50, 550, 12.0)  # 50 s to 12× rest: never reached within seconds
    assert run(CrampTracker(NO_WAIT), tone_inputs(creep), p_active=np.ones(N)) == []
    jump = ramp(200, 210, 12.0)  # 1 s to 12× rest
    spans = run(CrampTracker(NO_WAIT), tone_inputs(jump), p_active=np.ones(N))
    assert spans and spans[0].end_s is None
    # reached 8× at ~20.7 s, held 1.5 s
    assert 22.0 <= spans[0].decided_at_s <= 23.5


def test_a_twitch_burst_on_a_tone_is_not_cramp_force():
    rel = ramp(50, 250, 4.0)
    rel[300:304] = 40.0  # a 0.4-s twitch burst
    assert run(CrampTracker(NO_WAIT), tone_inputs(rel), p_active=np.ones(N)) == []


def test_fasciculations_lifting_the_1_s_envelope_are_not_cramp_force():
    # sparse spikes on a low tone: every third 0.1-s frame at 40 x rest lifts the 1-s
    # envelope to 14 x, a jump from rest; the envelope's median stays at 3 x
    rel = np.ones(N)
    rel[200:450] = 3.0
    rel[200:450:3] = 40.0
    spiky = tone_inputs(rel)
    assert spiky[2][300] >= 12.0
    assert run(CrampTracker(NO_WAIT), spiky, p_active=np.ones(N)) == []
    # a contraction at the same 1-s level throughout is one
    dense = tone_inputs(np.where(rel > 1.0, spiky[2][300], 1.0))
    assert len(run(CrampTracker(NO_WAIT), dense, p_active=np.ones(N))) == 2


def test_a_jump_after_a_slow_prodrome_alarms():
    rel = ramp(50, 300, 3.0)  # prodrome creeping to 3× rest over 25 s
    rel[300:310] = np.linspace(3.0, 30.0, 10)
    rel[310:] = 30.0
    spans = run(CrampTracker(NO_WAIT), tone_inputs(rel), p_active=np.ones(N))
    assert spans and 30.5 <= spans[0].decided_at_s <= 33.0


def test_without_tibialis_the_wait_counts_from_the_jump_not_from_a_tone_before_it():
    """A tone rise to 4× rest for 25 s that ends in a 3.5-s leg movement at 20× (an
    arousal): the calf has been active far longer than any leg movement, but the
    movement itself has not. A cramp after the same tone alarms once it has outlasted
    the wait from its own jump."""
    wait = CrampParams().calf_only_min_active_s
    rel = ramp(50, 250, 4.0)  # active (≥ 2× rest) from about 10 s
    rel[300:335] = 20.0  # the movement, 30-33.5 s
    rel[335:] = 1.0
    assert run(CrampTracker(), tone_inputs(rel), p_active=np.ones(N)) == []
    rel[335:] = 20.0  # the same jump going on: a cramp
    spans = run(CrampTracker(), tone_inputs(rel), p_active=np.ones(N))
    assert spans and spans[0].onset_s == pytest.approx(30.0, abs=0.3)
    assert 30.0 + wait <= spans[0].decided_at_s <= 30.0 + wait + 1.5


def test_a_tone_creeping_up_to_a_partial_level_does_not_alarm():
    # 5× rest reached over 20 s, then held 20 s: a resolving tone rise, not a cramp
    rel = ramp(200, 400, 5.0)
    assert run(CrampTracker(NO_WAIT), tone_inputs(rel), p_active=np.ones(N)) == []


def test_a_jump_to_a_fluctuating_partial_level_does_not_alarm():
    # jumped, but swings between 2.5 and 5× rest every second: not held steady
    rel = ramp(200, 210, 5.0)
    rel[210:] = np.where((np.arange(N - 210) // 10) % 2 == 0, 5.0, 2.5)
    assert run(CrampTracker(NO_WAIT), tone_inputs(rel), p_active=np.ones(N)) == []


def test_a_partial_cramp_alarms_only_when_it_holds_above_the_levels_of_tone_rises():
    params = CrampParams(calf_only_min_active_s=0.0)
    assert params.min_rel1s < 5.0 < params.weak_rel < 7.0 < params.cramp_rel
    # reached over 4 s: not the quick jump, so held 12 s from ~23 s (the weak path, not
    # the late persistent one)
    partial = run(CrampTracker(params), tone_inputs(ramp(200, 240, 7.0)))
    assert partial and partial[0].details["rule"] == "p_cramp_sustained"
    assert 34.0 <= partial[0].decided_at_s <= 37.0
    # 5× rest reached over 4 s: below the weak path's level, too slow for the steep one
    assert run(CrampTracker(params), tone_inputs(ramp(200, 240, 5.0))) == []


def test_a_partial_cramp_jumping_out_of_a_relaxed_calf_alarms_after_a_short_hold():
    """Rest to 5× in 1 s, then held: below every force level, but no tone rise jumps
    like that (they creep up over ≥ 5 s). The steep path alarms once the level it
    jumped to has held steady for steep_hold_s, whatever the block size; the same level
    reached over 4 s, or a jump that does not hold, or one the classifier gives to
    another class, does not alarm."""
    params = CrampParams(calf_only_min_active_s=0.0)
    assert params.min_rel1s < 5.0 < params.weak_rel
    jump = tone_inputs(ramp(200, 210, 5.0))
    spans = run(CrampTracker(params), jump)
    assert spans and spans[0].details["rule"] == "steep_partial_contraction"
    # the 1-s median reaches 4× its value of 1.5 s before at ~20.8 s; held 4 s
    assert 20.5 + params.steep_hold_s <= spans[0].decided_at_s <= 21.5 + params.steep_hold_s
    assert spans[0].onset_s == pytest.approx(20.0, abs=0.5)
    for chunk in (1, 7, 64):
        assert run(CrampTracker(params), jump, chunk) == spans
    assert run(CrampTracker(params), tone_inputs(ramp(200, 240, 5.0))) == []
    swing = ramp(200, 210, 5.0)
    swing[215:] = np.where((np.arange(N - 215) // 15) % 2 == 0, 5.0, 2.0)
    assert run(CrampTracker(params), tone_inputs(swing)) == []
    _, rel, rel1s, motion, bad = jump
    unsure = (np.full(N, 0.3), rel, rel1s, motion, bad)  # cramp share 0.3 < steep_share
    assert run(CrampTracker(params), unsure) == []


def test_a_twitch_burst_on_a_creeping_tone_is_no_steep_jump():
    """A 0.8-s burst of twitches at 16× on a tone that crept up to 3.5× rest moves the
    1-s median past 4× its value of 1.5 s before, but the tone does not hold the level
    the burst reached (steady_ratio): no alarm. Held, the same jump is a cramp."""
    params = CrampParams(calf_only_min_active_s=0.0)
    rel = ramp(100, 200, 3.5)
    rel[205:213] = 16.0
    assert run(CrampTracker(params), tone_inputs(rel)) == []
    unsteady = dataclasses.replace(params, steady_ratio=0.0)
    assert [s.details.get("rule") for s in run(CrampTracker(unsteady), tone_inputs(rel))][:1] == [
        "steep_partial_contraction"
    ]
    rel[213:] = 16.0
    assert run(CrampTracker(params), tone_inputs(rel))


def test_a_partial_cramp_that_jumps_from_rest_within_a_second_alarms_after_a_short_hold():
    """Rest to 7× in 1 s: a cramp's contraction jumping from a calf at rest, where no
    tone rise (which creeps over ≥ 5 s) goes. It needs 4 s of steady hold, not 12; the
    same level reached over 4 s keeps the long hold, and jumped to from a 3× tone it is
    no partial cramp's jump at all (< weak_jump_ratio). (The steep path, held off
    here, catches the same jump no later.)"""
    both = CrampParams(calf_only_min_active_s=0.0)
    params = dataclasses.replace(both, steep_jump_ratio=np.inf)
    assert params.quick_hold_s < params.weak_hold_s
    quick = run(CrampTracker(params), tone_inputs(ramp(200, 210, 7.0)))
    assert quick and quick[0].details["rule"] == "p_cramp_sustained"
    steep = run(CrampTracker(both), tone_inputs(ramp(200, 210, 7.0)))
    assert steep[0].decided_at_s <= quick[0].decided_at_s
    # 6× (weak_rel) from ~20.8 s on the 1-s envelope, held quick_hold_s
    assert 20.5 + params.quick_hold_s <= quick[0].decided_at_s <= 22.0 + params.quick_hold_s
    slow = run(CrampTracker(params), tone_inputs(ramp(200, 240, 7.0)))
    assert slow and slow[0].decided_at_s >= 23.0 + params.weak_hold_s
    on_tone = ramp(50, 190, 3.0)
    on_tone[200:210] = np.linspace(3.0, 7.0, 10)
    on_tone[210:] = 7.0
    assert run(CrampTracker(params), tone_inputs(on_tone)) == []
    # a twitch burst on a 3.2× tone is no jump: the tone's later creep to 7× is no cramp
    burst = ramp(50, 150, 3.2)
    burst[180:184] = 40.0
    burst[250:290] = np.linspace(3.2, 7.0, 40)
    burst[290:] = 7.0
    assert run(CrampTracker(params), tone_inputs(burst)) == []
    # a quick jump to a level that does not hold steady is no partial cramp
    swing = ramp(200, 210, 7.0)
    swing[210:] = np.where((np.arange(N - 210) // 15) % 2 == 0, 7.0, 3.0)
    assert run(CrampTracker(params), tone_inputs(swing)) == []


def test_electrode_trouble_building_up_holds_the_alarm():
    arrays = tone_inputs(ramp(200, 205, 20.0))
    trouble = np.zeros(N, bool)
    trouble[150:210] = True  # hum growing until 1 s into the contraction
    spans = run(CrampTracker(NO_WAIT), arrays, calf_trouble=trouble)
    assert spans and spans[0].decided_at_s >= 21.0 + CrampParams().trouble_clean_s
    clean = run(CrampTracker(NO_WAIT), arrays)
    assert clean[0].decided_at_s < 23.0


def firm_start_s(rel1s: np.ndarray, level: float) -> float:
    """Start (s) of the first frame from which ``rel1s`` stays ≥ ``level`` to the end."""
    below = np.flatnonzero(rel1s < level)
    return float(T[below[-1] + 1] - 0.1)


def test_a_partial_contraction_that_persists_alarms_late():
    # a slow rise to 5× rest, held: never reached within seconds, so only its
    # persistence (here 30 s, a short stand-in for minutes) makes it a cramp
    params = CrampParams(calf_only_min_active_s=0.0, persist_s=30.0)
    arrays = tone_inputs(ramp(50, 250, 5.0))
    spans = run(CrampTracker(params), arrays)
    firm = firm_start_s(arrays[2], params.min_rel1s)
    assert spans[0].details["rule"] == "persistent_calf_contraction"
    assert len(spans) == 2  # the onset, then its end at flush
    assert spans[0].onset_s == pytest.approx(firm, abs=0.11)
    assert spans[0].decided_at_s == pytest.approx(firm + 30.0, abs=0.11)


def test_a_persisting_contraction_needs_an_unbroken_firm_stretch_and_the_classifier():
    params = CrampParams(calf_only_min_active_s=0.0, persist_s=30.0)
    rel = ramp(50, 250, 5.0)
    rel[350:370] = 2.5  # eased below the firm level for 2 s: the count starts again
    assert run(CrampTracker(params), tone_inputs(rel)) == []
    _, rel_, rel1s, mot, bad = tone_inputs(ramp(50, 250, 5.0))
    called_lm = np.full(N, 0.2)  # the classifier prefers another active class
    assert run(CrampTracker(params), (called_lm, rel_, rel1s, mot, bad)) == []
    # standing for 2 s, even with a tibialis channel showing the calf dominant
    stood = np.zeros(N, bool)
    stood[350:370] = True
    arrays = tone_inputs(ramp(50, 250, 5.0))
    tib = {"calf_tib_ratio": np.full(N, 3.0)}
    assert run(CrampTracker(params), arrays, **tib)  # lying all along: it alarms
    assert run(CrampTracker(params), arrays, upright=stood, **tib) == []
    # with the shin's axis not yet learned, standing cannot be told from lying
    unknown = np.zeros(N, bool)
    assert run(CrampTracker(params), arrays, upright_known=unknown, **tib) == []


def test_a_firm_calf_whose_run_began_with_the_shin_moving_does_not_alarm_even_late():
    # out of bed: the sleeper walks, then stands still (at the sink) with the calf
    # working for minutes while the upright test is not yet sure; the shin moved as the
    # calf's run began, and that holds the persistent path back as it does the others
    # (a second generator's soak gave one such false alarm when it did not)
    params = CrampParams(calf_only_min_active_s=0.0, persist_s=30.0)
    p, rel, rel1s, motion, bad = tone_inputs(ramp(50, 60, 5.0))
    assert run(CrampTracker(params), (p, rel, rel1s, motion, bad))  # a still start: late alarm
    motion[45:62] = 0.25
    assert run(CrampTracker(params), (p, rel, rel1s, motion, bad)) == []


def test_a_persisting_contraction_survives_flickers_of_the_short_envelope():
    # a weak cramp's short envelope drops below active_rel for a frame now and then while
    # its 1-s envelope stays firm: minutes of evidence must not start again
    params = CrampParams(calf_only_min_active_s=0.0, persist_s=30.0)
    _, rel, rel1s, mot, bad = tone_inputs(ramp(50, 250, 5.0))
    flicker = rel.copy()
    flicker[300::40] = 1.0  # one frame every 4 s
    assert (rel1s[250:] >= params.min_rel1s).all()
    spans = run(CrampTracker(params), (np.full(N, 0.95), flicker, rel1s, mot, bad))
    assert spans and spans[0].details["rule"] == "persistent_calf_contraction"
    assert spans[0].onset_s == pytest.approx(firm_start_s(rel1s, params.min_rel1s), abs=0.11)


def test_a_firm_contraction_raises_one_alarm_even_when_its_run_breaks():
    # a cramp alarmed, then ended by the classifier letting go (standing on the leg)
    # while the calf stays firm; a flicker breaks its active run: the firm stretch was
    # already alarmed, the persistent path must not alarm it again
    params = CrampParams(calf_only_min_active_s=0.0, persist_s=30.0)
    p, rel, rel1s, motion, bad = cramp_inputs(onset_i=100, end_i=N)
    p[100:N] = 0.9
    p[200:230] = 0.0  # the classifier lets go for 3 s: the cramp ends at ~20 s
    p[230:] = 0.35  # then it is unsure (above p_off, below p_on) while the calf stays firm
    rel[300] = 1.0  # the short envelope flickers: the active run breaks
    spans = run(CrampTracker(params), (p, rel, rel1s, motion, bad))
    onsets = [s for s in spans if s.end_s is None]
    assert len(onsets) == 1 and onsets[0].details["rule"] == "p_cramp_sustained"


def test_force_test_does_not_depend_on_the_block_size():
    rel = ramp(200, 260, 10.0)
    whole = run(CrampTracker(NO_WAIT), tone_inputs(rel), p_active=np.ones(N))
    for chunk in (1, 7, 64):
        split = run(CrampTracker(NO_WAIT), tone_inputs(rel), chunk, p_active=np.ones(N))
        assert split == whole


# ------------------------------------------------------------------------ cramp_warning


def warn_run(rel1s, ok=None, cramp=None, chunk: int = N, rel=None):
    """The warning tracker over frames whose 1-s envelope is ``rel1s`` and whose 0.1-s
    envelope is ``rel`` (default: the same)."""
    tr = CrampWarningTracker()
    ok = np.ones(N, bool) if ok is None else ok
    cramp = np.zeros(N, bool) if cramp is None else cramp
    rel = rel1s if rel is None else rel
    out = []
    for i in range(0, N, chunk):
        sl = slice(i, i + chunk)
        out += tr.push(T[sl], rel1s[sl], rel[sl], ok[sl], cramp[sl])
    return out + tr.flush(T[-1])


def test_calf_tightening_is_one_warning_with_onset_and_end():
    rel = np.ones(N)
    rel[100:300] = 4.0  # 20 s at 4× rest, then relaxed
    spans = warn_run(rel)
    assert [(s.kind, s.end_s is None) for s in spans] == [
        ("cramp_warning", True),
        ("cramp_warning", False),
    ]
    onset, end = spans
    assert onset.onset_s == pytest.approx(10.0)
    assert onset.decided_at_s == pytest.approx(10.0 + CrampParams().warn_s, abs=0.11)
    assert end.end_s == pytest.approx(30.0, abs=0.11)
    assert warn_run(rel, chunk=13) == spans


def test_a_warning_ends_on_a_resting_calf_whose_1s_envelope_carries_the_ecg():
    # at rest the 0.1-s envelope sits at the resting level but for a QRS complex in
    # every tenth frame, which keeps the 1-s envelope near 1.8 × rest
    rel = np.ones(N)
    rel[::10] = 6.0
    rel1s = np.full(N, 1.8)
    for lo, hi in ((100, 200), (500, 580)):  # two tightenings, 30 s apart
        rel[lo:hi] = rel1s[lo:hi] = 4.0
    spans = warn_run(rel1s, rel=rel)
    assert [(s.onset_s, s.end_s is None) for s in spans][:2] == [
        (pytest.approx(10.0), True),
        (pytest.approx(10.0), False),
    ]
    assert spans[1].details["end_reason"] == "relaxed"
    assert spans[1].end_s == pytest.approx(20.0, abs=0.5)
    # relaxed, so the second tightening gets its own warning
    assert [s.onset_s for s in spans if s.end_s is None] == pytest.approx([10.0, 50.0])
    assert warn_run(rel1s, rel=rel, chunk=13) == spans


def test_no_warning_on_a_moving_leg_or_below_the_level():
    rel = np.ones(N)
    rel[100:300] = 4.0
    assert warn_run(rel, ok=np.zeros(N, bool)) == []
    assert warn_run(np.minimum(rel, 2.0)) == []


def test_a_cramp_closes_the_warning_and_keeps_its_own_alarm():
    rel = np.ones(N)
    rel[100:500] = 4.0
    cramp = np.zeros(N, bool)
    cramp[200:400] = True
    spans = warn_run(rel, cramp=cramp)
    assert len(spans) == 2  # one warning, closed by the cramp; none after it
    assert spans[1].details["end_reason"] == "cramp"
    assert spans[1].end_s == pytest.approx(20.0, abs=0.11)


# ----------------------------------------------- standing up in the calf-only wait


def stand_inputs(stand_i: int):
    """A calf-only cramp from 20 s (confident from the rise on) and the sleeper's shin
    upright from frame ``stand_i`` on."""
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[200:450] = 0.9
    upright = np.zeros(N, bool)
    upright[stand_i:] = True
    return (p, rel, rel1s, motion, bad), upright


def test_standing_up_in_a_confident_calf_only_cramp_alarms_at_once():
    arrays, upright = stand_inputs(280)  # up at 28 s, inside the 10.5-s wait
    spans = run(CrampTracker(), arrays, upright=upright)
    assert 20.0 + CrampParams().calf_only_min_active_s > 28.0
    assert spans[0].details["rule"] == "stood_up_in_cramp"
    assert spans[0].decided_at_s == pytest.approx(28.1)
    assert spans[0].onset_s == pytest.approx(20.0)
    # the same, block by block
    for chunk in (1, 7):
        assert run(CrampTracker(), arrays, chunk, upright=upright) == spans


def test_standing_up_alarms_only_after_a_confident_cramp_force_contraction():
    arrays, upright = stand_inputs(280)
    p, rel, rel1s, motion, bad = arrays
    unsure = np.full(N, 0.5)  # the classifier never sure: no alarm while up
    assert run(CrampTracker(), (unsure, rel, rel1s, motion, bad), upright=upright) == []
    # a contraction whose force is gone by the time the shin is upright (a leg movement
    # that fired the calf, over before the sleeper stands)
    short = rel.copy()
    short[240:] = 2.5
    short_1s = np.convolve(short, np.ones(10) / 10)[:N]
    assert run(CrampTracker(), (p, short, short_1s, motion, bad), upright=upright) == []
    # standing up before the contraction was confident for k frames
    early, _ = stand_inputs(0)
    up_early = np.zeros(N, bool)
    up_early[205:] = True
    assert run(CrampTracker(), early, upright=up_early) == []
    # with a tibialis channel the confident path has alarmed long before anyone stands
    tib = np.full(N, 6.0)
    spans = run(CrampTracker(), arrays, upright=upright, calf_tib_ratio=tib)
    assert spans[0].details["rule"] == "p_cramp_sustained" and spans[0].decided_at_s < 28.0


# ------------------------------------------------ the shin turning during a contraction


def turning(at_i: int, degrees: float) -> np.ndarray:
    """Gravity frames (g): lying on the back, the shin rotated by ``degrees`` from frame
    ``at_i`` on (standing up, turning over)."""
    g = np.tile([0.0, 0.0, 1.0], (N, 1))
    a = np.radians(degrees)
    g[at_i:] = [np.sin(a), 0.0, np.cos(a)]
    return g


def test_a_contraction_during_which_the_shin_turns_does_not_alarm():
    p, rel, rel1s, motion, bad = cramp_inputs()
    p[200:450] = 0.9
    tib = {"calf_tib_ratio": np.full(N, 6.0)}
    arrays = (p, rel, rel1s, motion, bad)
    # turned by 90° 0.5 s into the contraction, before the alarm: posture, not a cramp
    assert run(CrampTracker(), arrays, gravity_g=turning(205, 90.0), **tib) == []
    # a small shift (10°) does not count; nor a turn after the alarm, nor one before the
    # contraction (the posture it started from is the turned one)
    still = run(CrampTracker(), arrays, **tib)
    assert run(CrampTracker(), arrays, gravity_g=turning(205, 10.0), **tib) == still
    assert run(CrampTracker(), arrays, gravity_g=turning(300, 90.0), **tib) == still
    assert run(CrampTracker(), arrays, gravity_g=turning(100, 90.0), **tib) == still
    for chunk in (1, 7):
        chunked = run(CrampTracker(), arrays, chunk, gravity_g=turning(205, 90.0), **tib)
        assert chunked == []
