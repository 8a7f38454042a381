"""Event-level matching: hits, duplicates, false alarms and their confounders, LM scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from crampwatch.detect.metrics import METRICS, score_night, summarize
from crampwatch.events import Event, event_id
from crampwatch.simulate import TruthEvent


def ev(type_, onset, end, detected, periodic=None):
    return Event(
        id=event_id("d", type_, onset),
        device_id="d",
        type=type_,
        onset_s=onset,
        end_s=end,
        detected_at_s=detected,
        confidence=0.9,
        periodic=periodic,
    )


TRUTH = [
    TruthEvent("cramp", 100.0, 200.0, details={"prodrome_s": 20.0}),
    TruthEvent("cramp", 1000.0, 1100.0),
    TruthEvent("stretch", 500.0, 510.0),
    TruthEvent("leg_movement", 300.0, 302.0, periodic=False),
    TruthEvent("leg_movement", 320.0, 321.0, periodic=False),
]


def test_cramp_hits_duplicates_and_false_alarms():
    events = [
        ev("cramp", 85.0, None, 90.0),  # during the prodrome: a hit, latency -10 s
        ev("cramp", 85.0, 180.0, 181.0),  # its end update (same id): not a new alarm
        ev("cramp", 150.0, None, 152.0),  # a second alarm inside the same cramp
        ev("cramp", 501.0, None, 504.0),  # during a stretch: false alarm
        ev("cramp", 800.0, None, 803.0),  # nothing around: false alarm, cause none
    ]
    s = score_night(events, TRUTH, hours=8.0)
    assert (s.truth_cramps, s.hit_cramps, s.duplicates, s.false_alarms) == (2, 1, 1, 2)
    assert s.latencies_s == [pytest.approx(-10.0)]
    assert s.false_alarm_causes == {"stretch": 1, "none": 1}
    m = summarize([s])
    assert m["cramp_sensitivity"] == 0.5
    assert m["false_alarms_per_8h"] == pytest.approx(2.0)


def test_sensitivity_is_split_into_weak_cramps_and_the_others():
    """With the night's resting calf level known, a cramp peaking below WEAK_CRAMP_X ×
    rest is weak; each part has its own sensitivity. Without it there is no split."""
    truth = [
        TruthEvent("cramp", 100.0, 200.0, details={"peak_uv": 20.0}),  # 4 × rest: weak
        TruthEvent("cramp", 300.0, 400.0, details={"peak_uv": 30.0}),  # 6 × rest: weak
        TruthEvent("cramp", 500.0, 600.0, details={"peak_uv": 200.0}),
    ]
    alarms = [ev("cramp", 100.0, None, 103.0), ev("cramp", 500.0, None, 502.0)]
    night = score_night(alarms, truth, hours=1.0, calf_rest_uv=5.0)
    assert (night.weak_cramps, night.weak_hits) == (2, 1)
    m = summarize([night, score_night(alarms, truth, hours=1.0)])
    assert m["cramp_sensitivity_weak"] == pytest.approx(0.5)
    assert m["cramp_sensitivity_strong"] == pytest.approx(1.0)
    assert m["cramp_sensitivity"] == pytest.approx(4 / 6)
    assert m["weak_cramps"] == 2
    unknown = summarize([score_night(alarms, truth, hours=1.0)])
    assert unknown["cramp_sensitivity_weak"] != unknown["cramp_sensitivity_weak"]  # NaN


def test_alarm_before_the_prodrome_window_is_false():
    s = score_night([ev("cramp", 60.0, None, 70.0)], TRUTH, hours=1.0)
    assert s.hit_cramps == 0 and s.false_alarms == 1


def test_leg_movement_matching_is_one_to_one_on_overlap():
    events = [
        ev("leg_movement", 300.5, 301.5, 312.0, False),
        ev("leg_movement", 301.0, 303.0, 313.0, False),  # overlaps an already matched one
        ev("leg_movement", 400.0, 401.0, 412.0, False),  # no truth
    ]
    s = score_night(events, TRUTH, hours=1.0)
    assert (s.lm_truth, s.lm_detected, s.lm_matched) == (2, 3, 1)
    m = summarize([s])
    assert m["lm_precision"] == pytest.approx(1 / 3)
    assert m["lm_recall"] == pytest.approx(1 / 2)


def test_plm_index_error():
    truth = [TruthEvent("leg_movement", 20.0 * i, 20.0 * i + 1, periodic=True) for i in range(4)]
    s = score_night([], truth, hours=2.0)
    assert s.plm_index_error == pytest.approx(2.0)


def test_readme_targets_are_the_metrics_table():
    """The README's targets are rendered from METRICS (one copy of every target)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("<!-- targets:")
    block = readme[readme.index("\n", start) + 1 : readme.index("<!-- end of targets -->")]
    expected = "| metric | target |\n|---|---|\n" + "".join(
        f"| {m.label} | {m.target} |\n" for m in METRICS if m.target
    )
    assert block == expected, f"README targets out of date; should read:\n{expected}"
