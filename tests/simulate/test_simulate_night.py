"""The simulator: determinism, rates, EDF+/JSON output and ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from crampwatch.errors import CrampwatchError
from crampwatch.recordings import read_recording
from crampwatch.roles import DEFAULT_LABELS
from crampwatch.simulate import (
    TRUTH_TYPES,
    ScheduledEvent,
    read_truth,
    simulate_night,
    wasm_periodic,
    write_night,
)
from crampwatch.simulate.events import SIGNAL_ISSUE_KINDS
from crampwatch.simulate.params import RANGES

HOURS = 0.6  # 36 min: long enough for a cramp (≥ 1 in a train night) and other events


@pytest.fixture(scope="module")
def night():
    return simulate_night(HOURS, 11, emg_fs_hz=500, acc_fs_hz=50)


def test_deterministic_for_a_seed(night):
    again = simulate_night(HOURS, 11, emg_fs_hz=500, acc_fs_hz=50)
    assert again.truth == night.truth
    assert again.params == night.params
    for role, x in night.recording.signals.items():
        np.testing.assert_array_equal(again.recording.signals[role], x)


def test_different_seeds_differ(night):
    other = simulate_night(HOURS, 12, emg_fs_hz=500, acc_fs_hz=50)
    assert other.truth != night.truth
    n = min(len(other.recording.signals["emg_calf"]), len(night.recording.signals["emg_calf"]))
    assert not np.allclose(
        other.recording.signals["emg_calf"][:n], night.recording.signals["emg_calf"][:n]
    )


def test_same_seed_same_events_at_another_rate(night):
    fast = simulate_night(HOURS, 11, emg_fs_hz=2000, acc_fs_hz=200)
    assert fast.truth == night.truth


def test_shape_units_and_truth(night):
    rec = night.recording
    assert set(rec.signals) == {"emg_calf", "emg_tibialis", "acc_x", "acc_y", "acc_z"}
    assert rec.fs_hz["emg_calf"] == 500 and rec.fs_hz["acc_z"] == 50
    assert len(rec.signals["emg_calf"]) == round(HOURS * 3600 * 500)
    assert rec.duration_s == pytest.approx(HOURS * 3600)
    assert rec.start_time is not None and rec.start_time.utcoffset().total_seconds() == 0
    acc = np.stack([rec.signals[r] for r in ("acc_x", "acc_y", "acc_z")], axis=1)
    assert np.median(np.linalg.norm(acc, axis=1)) == pytest.approx(1.0, abs=0.05)
    types = {e.type for e in night.truth}
    assert types <= set(TRUTH_TYPES)
    assert "cramp" in types and "leg_movement" in types
    for e in night.truth:
        assert 0 <= e.onset_s < e.end_s <= rec.duration_s + 1
        if e.type == "leg_movement":
            assert 0.5 <= e.end_s - e.onset_s <= 10.0
            assert isinstance(e.periodic, bool)
        if e.type == "signal_issue":
            assert e.kind in SIGNAL_ISSUE_KINDS
        if e.type == "cramp":
            assert {"peak_uv", "prodrome_s", "fasciculations", "reaction"} <= set(e.details)


def test_periodic_flags_follow_wasm_rule_on_a_random_night():
    night = simulate_night(2.0, 4, emg_fs_hz=200, acc_fs_hz=10)
    lms = [e for e in night.truth if e.type == "leg_movement"]
    assert [e.periodic for e in lms] == wasm_periodic([e.onset_s for e in lms])


@pytest.mark.parametrize(("emg_fs", "acc_fs"), [(200, 10), (2000, 200), (256, 25), (1000, 100)])
def test_rates(emg_fs, acc_fs, tmp_path: Path):
    n = simulate_night(0.01, 1, emg_fs_hz=emg_fs, acc_fs_hz=acc_fs)
    assert len(n.recording.signals["emg_calf"]) == 36 * emg_fs
    assert len(n.recording.signals["acc_x"]) == 36 * acc_fs
    assert np.isfinite(n.recording.signals["emg_calf"]).all()
    edf, _ = write_night(n, tmp_path / "r.edf")
    with pyedflib.EdfReader(str(edf)) as f:
        assert f.getSampleFrequency(0) == emg_fs
        assert f.getSampleFrequency(2) == acc_fs


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"emg_fs_hz": 100}, "EMG rate"),
        ({"emg_fs_hz": 4000}, "EMG rate"),
        ({"acc_fs_hz": 5}, "accelerometer rate"),
        ({"acc_fs_hz": 400}, "accelerometer rate"),
        ({"mains_hz": 55}, "mains"),
        ({"variant": "test"}, "variant"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(CrampwatchError, match=match):
        simulate_night(0.01, 1, **kwargs)


def test_no_tibialis():
    n = simulate_night(0.01, 1, tibialis=False)
    assert "emg_tibialis" not in n.recording.signals


def test_shifted_variant_uses_other_ranges_and_mains():
    train = simulate_night(0.01, 2)
    shifted = simulate_night(0.01, 2, variant="shifted")
    assert train.params["mains_hz"] == 50 and shifted.params["mains_hz"] == 60
    assert simulate_night(0.01, 2, variant="shifted", mains_hz=50).params["mains_hz"] == 50
    for name, (tr, sh, _) in RANGES.items():
        v = shifted.params.get(name)
        if v is None:
            continue
        assert any(lo <= v <= hi for lo, hi in sh), name
        assert any(lo <= train.params[name] <= hi for lo, hi in tr), name


def test_amplitude_ranges_overlap_between_classes():
    """Amplitude alone must not separate cramps from stretches and leg movements."""
    for variant in (0, 1):
        cramp = RANGES["cramp_peak_uv"][variant]
        for other in ("stretch_peak_uv", "lm_peak_uv"):
            lo = min(a for a, _ in cramp)
            assert any(hi > lo for _, hi in RANGES[other][variant]), other
    assert RANGES["cramp_peak_uv"][0][0][0] < RANGES["stretch_peak_uv"][0][0][1]


def test_write_night_edf_readable_by_pyedflib(night, tmp_path: Path):
    edf, truth_json = write_night(night, tmp_path / "night.edf")
    assert truth_json == tmp_path / "night.truth.json"
    rec = night.recording
    with pyedflib.EdfReader(str(edf)) as f:
        assert f.getSignalLabels() == [DEFAULT_LABELS[r] for r in rec.signals]
        for i, role in enumerate(rec.signals):
            assert f.getPhysicalDimension(i) == ("uV" if "emg" in role else "g")
            assert f.getSampleFrequency(i) == rec.fs_hz[role]
        x = f.readSignal(0)
        np.testing.assert_allclose(x, np.clip(rec.signals["emg_calf"], -5000, 5000), atol=0.2)
        _, _, texts = f.readAnnotations()
    assert len(texts) == len(night.truth)
    assert sorted(texts) == sorted(e.annotation_text() for e in night.truth)
    assert "cramp" in texts
    back = read_recording(edf)
    assert back.start_time == rec.start_time.replace(microsecond=0)


def test_truth_round_trips_through_json_and_edf(night, tmp_path: Path):
    edf, truth_json = write_night(night, tmp_path / "night.edf")
    doc = json.loads(truth_json.read_text())
    assert doc["seed"] == 11 and doc["fs_hz"]["emg_calf"] == 500
    assert doc["params"]["rest_calf_uv"] == night.params["rest_calf_uv"]
    from_json = read_truth(truth_json)
    assert len(from_json) == len(night.truth)
    for a, b in zip(from_json, night.truth, strict=True):
        assert (a.type, a.kind, a.periodic, a.details) == (b.type, b.kind, b.periodic, b.details)
        assert a.onset_s == pytest.approx(b.onset_s, abs=1e-3)
        assert a.end_s == pytest.approx(b.end_s, abs=1e-3)
    from_edf = read_truth(edf)
    assert [(e.type, e.kind, e.periodic) for e in from_edf] == [
        (e.type, e.kind, e.periodic) for e in night.truth
    ]
    np.testing.assert_allclose([e.onset_s for e in from_edf], [e.onset_s for e in night.truth])


def test_read_truth_errors(tmp_path: Path):
    with pytest.raises(CrampwatchError, match="no such file"):
        read_truth(tmp_path / "missing.truth.json")
    bad = tmp_path / "bad.truth.json"
    bad.write_text("{}")
    with pytest.raises(CrampwatchError, match="truth"):
        read_truth(bad)
    notedf = tmp_path / "x.edf"
    notedf.write_text("nope")
    with pytest.raises(CrampwatchError, match=r"x\.edf"):
        read_truth(notedf)


def test_schedule_places_only_the_given_events():
    n = simulate_night(
        0.05,
        3,
        schedule=[
            ScheduledEvent("leg_movement", onset_s=20, duration_s=2),
            ScheduledEvent("turn_over", onset_s=60, duration_s=3),
        ],
    )
    assert [(e.type, e.onset_s) for e in n.truth] == [("leg_movement", 20), ("position_change", 60)]


def test_scheduled_event_rejects_unknown_type_and_positional_extras():
    with pytest.raises(ValueError):
        ScheduledEvent("sneeze", 10.0)
    with pytest.raises(TypeError):
        ScheduledEvent("plm_series", 10.0, 5, 25)  # type: ignore[misc]
