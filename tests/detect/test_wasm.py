"""WASM 2016 / AASM leg-movement scoring and periodicity on synthetic envelopes."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.detect.timing import FRAME_S
from crampwatch.detect.wasm import (
    LegMovement,
    LegMovementScorer,
    PeriodicityTracker,
    periodic_flags,
    plm_index,
    score_leg_movements,
)


def envelope(total_s: float, bursts: list[tuple[float, float, float]], base_uv: float = 0.5):
    """Envelope above rest (µV) at 10 frames/s with (onset_s, duration_s, level_uv) bursts."""
    n = round(total_s / FRAME_S)
    x = np.full(n, base_uv)
    for onset, dur, level in bursts:
        i0 = round(onset / FRAME_S)
        x[i0 : i0 + round(dur / FRAME_S)] = level
    return x


def test_two_second_burst_is_one_candidate_movement():
    lms = score_leg_movements(envelope(20, [(5.0, 2.0, 20.0)]))
    assert len(lms) == 1
    lm = lms[0]
    assert lm.onset_s == pytest.approx(5.0)
    assert lm.end_s == pytest.approx(7.0)
    assert lm.candidate
    # decided only once 0.5 s of quiet has been seen
    assert lm.decided_at_s == pytest.approx(7.5)


def test_burst_shorter_than_half_a_second_is_not_a_movement():
    assert score_leg_movements(envelope(20, [(5.0, 0.4, 30.0)])) == []


def test_a_movement_that_began_inside_the_frame_before_its_onset_frame_counts_from_it():
    # a 0.5-s movement that starts part-way into a frame: that frame's RMS reads 5 µV
    # (above the 2-µV offset level, below the 8-µV onset), the next four 20 µV
    x = envelope(20, [(5.0, 0.1, 5.0), (5.1, 0.4, 20.0)])
    (lm,) = score_leg_movements(x)
    assert (lm.onset_s, lm.end_s) == (pytest.approx(5.0), pytest.approx(5.5))
    # the same whichever push holds the frame before the onset frame
    t = FRAME_S * np.arange(1, x.size + 1)
    scorer = LegMovementScorer()
    split = scorer.push(t[:51], x[:51]) + scorer.push(t[51:], x[51:])
    assert split == [lm]
    # a frame at rest before it is no part of it: 0.4 s is still no movement
    assert score_leg_movements(envelope(20, [(5.0, 0.1, 1.5), (5.1, 0.4, 20.0)])) == []
    # nor is a frame where no movement may begin
    allowed = t > 5.15  # from the onset frame (5.1, 5.2] on
    assert LegMovementScorer().push(t, x, onset_ok=allowed) == []


def test_a_movement_no_other_sensor_saw_needs_half_a_second_at_the_onset_level():
    """Where the shin's motion showed nothing, the calf may start a movement on its own
    only with a burst at >= 8 uV for 0.5 s in a row: heartbeat spikes (0.2 s at 30 uV
    every 0.6 s, 3 uV between them) make one long "movement" by the EMG rules alone, and
    none with the burst rule; a 0.6-s burst, or the same spikes where the shin moved
    part-way, do count."""
    spikes = envelope(20, [(5.0 + 0.6 * k, 0.2, 30.0) for k in range(10)])
    spikes[50:110] = np.maximum(spikes[50:110], 3.0)
    t = FRAME_S * np.arange(1, spikes.size + 1)
    unseen = np.ones(spikes.size, bool)
    assert len(LegMovementScorer().push(t, spikes)) == 1
    assert LegMovementScorer().push(t, spikes, burst_needed=unseen) == []
    burst = envelope(20, [(5.0, 0.6, 20.0)])
    (lm,) = LegMovementScorer().push(t, burst, burst_needed=unseen)
    assert (lm.onset_s, lm.end_s) == (pytest.approx(5.0), pytest.approx(5.6))
    # 0.4 s in a row at the level, then 0.4 s at 5 uV: long enough, but no burst
    short = envelope(20, [(5.0, 0.4, 20.0), (5.4, 0.4, 5.0)])
    assert len(LegMovementScorer().push(t, short)) == 1
    assert LegMovementScorer().push(t, short, burst_needed=unseen) == []
    # 0.3 s at the level, 0.1 s at rest (too short to end it), 0.3 s again: no burst
    broken = envelope(20, [(5.0, 0.3, 20.0), (5.4, 0.3, 20.0)])
    assert len(LegMovementScorer().push(t, broken)) == 1
    assert LegMovementScorer().push(t, broken, burst_needed=unseen) == []
    # seen by the other sensor part-way (7-7.5 s): no burst needed
    seen_later = unseen & ~((t > 7.0) & (t <= 7.5))
    (lm,) = LegMovementScorer().push(t, spikes, burst_needed=seen_later)
    assert lm.onset_s == pytest.approx(5.0)
    # the burst is followed across pushes
    scorer = LegMovementScorer()
    split = [
        scorer.push(t[i : i + 3], burst[i : i + 3], burst_needed=unseen[i : i + 3])
        for i in range(0, t.size, 3)
    ]
    assert [m for ms in split for m in ms] == LegMovementScorer().push(
        t, burst, burst_needed=unseen
    )


def test_eleven_seconds_is_not_a_candidate_unilaterally_but_is_bilaterally():
    x = envelope(40, [(5.0, 11.0, 20.0)])
    (uni,) = score_leg_movements(x)
    assert not uni.candidate
    (bi,) = score_leg_movements(x, bilateral=True)
    assert bi.candidate
    (too_long,) = score_leg_movements(envelope(40, [(5.0, 15.5, 20.0)]), bilateral=True)
    assert not too_long.candidate


def test_below_onset_threshold_is_not_scored():
    assert score_leg_movements(envelope(20, [(5.0, 2.0, 7.5)])) == []


def test_offset_needs_half_a_second_at_most_two_microvolts_above_rest():
    # 2 s burst, 0.4 s dip to rest, 1 s burst: the dip is too short to end the movement
    x = envelope(30, [(5.0, 2.0, 20.0), (7.4, 1.0, 20.0)])
    (lm,) = score_leg_movements(x)
    assert lm.onset_s == pytest.approx(5.0)
    assert lm.end_s == pytest.approx(8.4)
    # a 0.5-s dip does end it: two movements
    x = envelope(30, [(5.0, 2.0, 20.0), (7.5, 1.0, 20.0)])
    assert len(score_leg_movements(x)) == 2


def test_level_between_two_and_eight_microvolts_keeps_the_movement_going():
    x = envelope(30, [(5.0, 1.0, 20.0), (6.0, 3.0, 4.0)])
    (lm,) = score_leg_movements(x)
    assert lm.end_s == pytest.approx(9.0)


def test_a_movement_begins_only_where_an_onset_is_allowed_and_ends_by_the_emg_alone():
    x = envelope(30, [(5.0, 3.0, 20.0), (15.0, 2.0, 20.0)])
    t = (np.arange(x.size) + 1) * FRAME_S
    # the first burst may start only from 6 s on, the second never
    allowed = (t > 6.0) & (t <= 7.0)
    (lm,) = LegMovementScorer().push(t, x, onset_ok=allowed)
    assert lm.onset_s == pytest.approx(6.0)
    assert lm.end_s == pytest.approx(8.0)  # past the allowed frames: the offset rule
    assert LegMovementScorer().push(t, x, onset_ok=np.zeros(x.size, bool)) == []


def test_frames_marked_active_keep_a_movement_going_below_the_offset_level():
    # 1 s at 20 µV, then 2 s at 1 µV (below the 2-µV offset level) marked active
    x = envelope(20, [(5.0, 1.0, 20.0), (6.0, 2.0, 1.0)])
    t = (np.arange(x.size) + 1) * FRAME_S
    (lm,) = LegMovementScorer().push(t, x, active=(t > 6.0) & (t <= 8.0))
    assert lm.onset_s == pytest.approx(5.0)
    assert lm.end_s == pytest.approx(8.0)
    (plain,) = LegMovementScorer().push(t, x)
    assert plain.end_s == pytest.approx(6.0)


def test_after_a_reset_an_active_frame_is_not_rest():
    # the signal returns in a movement: 1 s below the offset level but marked active,
    # then 2 s at 20 µV. Its onset is unknown: no movement until both have been quiet.
    x = envelope(10, [(0.0, 1.0, 0.5), (1.0, 2.0, 20.0)])
    t = (np.arange(x.size) + 1) * FRAME_S
    scorer = LegMovementScorer()
    scorer.reset()
    assert scorer.push(t, x, active=t <= 1.0) == []
    fresh = LegMovementScorer()
    fresh.reset()
    assert len(fresh.push(t, x)) == 1  # without the mask, the dip counted as rest


def test_streaming_is_independent_of_chunking():
    rng = np.random.default_rng(3)
    bursts = [(float(o), float(rng.uniform(0.3, 12)), 25.0) for o in range(5, 580, 23)]
    x = envelope(600, bursts) + rng.uniform(0, 1.5, round(600 / FRAME_S))
    t = FRAME_S * np.arange(1, x.size + 1)
    whole = LegMovementScorer().push(t, x)
    for chunk in (1, 7, 50):
        sc = LegMovementScorer()
        parts = [
            lm
            for i in range(0, x.size, chunk)
            for lm in sc.push(t[i : i + chunk], x[i : i + chunk])
        ]
        assert parts == whole


def test_invalid_frames_abandon_the_movement_in_progress():
    x = envelope(20, [(5.0, 3.0, 20.0)])
    t = FRAME_S * np.arange(1, x.size + 1)
    valid = np.ones(x.size, bool)
    valid[60:65] = False
    assert LegMovementScorer().push(t, x, valid) == []


def _lm(onset: float, dur: float = 2.0, candidate: bool = True) -> LegMovement:
    return LegMovement(onset, onset + dur, onset + dur + 0.5, 20.0, 15.0, candidate)


def test_four_movements_twenty_seconds_apart_are_periodic_three_are_not():
    assert periodic_flags([_lm(o) for o in (0, 20, 40, 60)]) == [True] * 4
    assert periodic_flags([_lm(o) for o in (0, 20, 40)]) == [False] * 3


def test_interval_over_ninety_seconds_breaks_the_series():
    flags = periodic_flags([_lm(o) for o in (0, 20, 40, 135, 155, 175, 195)])
    assert flags == [False, False, False, True, True, True, True]


def test_interval_under_ten_seconds_breaks_the_series_wasm_2016():
    # AASM would accept the 5-s interval; WASM 2016 does not: 0,20 | 25,45,65 -> no series
    assert periodic_flags([_lm(o) for o in (0, 20, 25, 45, 65)]) == [False] * 5
    # the short-interval movement may start a new series
    flags = periodic_flags([_lm(o) for o in (0, 5, 25, 45, 65)])
    assert flags == [False, True, True, True, True]


def test_non_candidate_movement_breaks_the_series():
    lms = [_lm(0), _lm(20), _lm(40, dur=12.0, candidate=False), _lm(60), _lm(80)]
    assert periodic_flags(lms) == [False] * 5


def test_tracker_emits_when_decided():
    tr = PeriodicityTracker()
    assert tr.add(_lm(0)) == []
    assert tr.add(_lm(20)) == []
    assert tr.add(_lm(40)) == []
    out = tr.add(_lm(60))
    assert [m.onset_s for m in out] == [0, 20, 40, 60] and all(m.periodic for m in out)
    (fifth,) = tr.add(_lm(80))
    assert fifth.periodic
    assert tr.advance(150.0) == []  # 70 s after the last onset: still open
    assert tr.advance(171.0) == []  # run closes, nothing pending
    assert tr.add(_lm(300)) == []
    (lone,) = tr.flush(400.0)
    assert lone.periodic is False and lone.decided_at_s == 400.0


def test_plm_index_per_hour():
    assert plm_index(30, 7.5) == pytest.approx(4.0)
    assert plm_index(3, 0.0) == 0.0
