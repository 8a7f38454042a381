"""Out of bed: walking and standing are not a sleeper's leg movements, nor a cramp."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.detect.frame_detector import FlagRuns
from crampwatch.detect.streaming import detect_recording
from crampwatch.detect.wasm import CLM_MAX_S
from crampwatch.simulate import ScheduledEvent


def runs_fed(mask: np.ndarray, block: int, min_s: float) -> list[list[float]]:
    t = 0.1 * np.arange(1, mask.size + 1)
    runs = FlagRuns(min_s=min_s, keep_s=1e9)
    for i in range(0, mask.size, block):
        runs.push(t[i : i + block], mask[i : i + block])
    return runs.runs


def test_flag_runs_keep_long_enough_runs_from_their_first_frame_whatever_the_blocks():
    mask = np.zeros(600, bool)
    mask[50:80] = True  # 3 s: too short
    mask[200:400] = True  # 20 s
    whole = runs_fed(mask, 600, min_s=10.0)
    assert whole == [pytest.approx([20.0, 40.0])]
    for block in (1, 7, 64, 150):
        assert runs_fed(mask, block, min_s=10.0) == whole
    assert len(runs_fed(mask, 13, min_s=0.0)) == 2


@pytest.fixture(scope="module")
def night_with_a_walk(make_night):
    # seed 3: the walk to the bathroom lasts longer than any leg movement
    sched = [
        ScheduledEvent("leg_movement", 10.0, duration_s=2.0, peak_uv=40.0),
        ScheduledEvent("get_up", 30.0),
    ]
    night = make_night(sched, hours=0.1, seed=3)
    (up,) = [e for e in night.truth if e.type == "out_of_bed"]
    return night, up


def test_a_night_with_a_get_up_records_the_trip(night_with_a_walk):
    night, up = night_with_a_walk
    kinds = [e.kind for e in night.truth if e.type == "position_change"]
    assert kinds == ["stand_up", "lie_down"]
    assert up.onset_s >= 30.0 and up.end_s - up.onset_s >= CLM_MAX_S


def test_walking_to_the_bathroom_gives_no_leg_movements_and_no_alarm(night_with_a_walk, model):
    night, up = night_with_a_walk
    events = detect_recording(night.recording, device_id="t", model=model)
    lms = [e for e in events if e.type == "leg_movement"]
    during = [e for e in lms if e.onset_s < up.end_s and up.onset_s < e.end_s]
    assert during == []
    # the movement in bed before it is still scored
    assert [round(e.onset_s) for e in lms if e.end_s < up.onset_s] == [10]
    assert not [e for e in events if e.type == "cramp"]
