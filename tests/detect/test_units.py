"""EMG in unknown units: WASM leg-movement rule relative to the running resting level."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.acquire.replay import ReplaySource
from crampwatch.cli import main
from crampwatch.detect.model import MODEL_ENV, default_model_path, save_model
from crampwatch.detect.streaming import detect_recording
from crampwatch.detect.wasm import REST_REF_UV, rest_relative_above, score_leg_movements
from crampwatch.recordings import Recording, read_recording, write_edf
from crampwatch.simulate import ScheduledEvent, write_night

GAIN = 37.3  # an arbitrary, uncalibrated amplifier gain (counts per µV)


def scaled(rec: Recording, gain: float) -> Recording:
    """The same night with its EMG multiplied by ``gain`` (acceleration untouched)."""
    sig = {r: (x * gain if r.startswith("emg_") else x) for r, x in rec.signals.items()}
    return Recording(sig, dict(rec.fs_hz), rec.start_time, rec.annotations, dict(rec.labels))


def lm_key(events):
    return [
        (e.onset_s, e.end_s, e.periodic, e.details["channel"])
        for e in events
        if e.type == "leg_movement"
    ]


@pytest.fixture(scope="module")
def lm_night(make_night):
    sched = [
        ScheduledEvent("plm_series", 20.0, count=6, interval_s=25.0, peak_uv=40.0),
        ScheduledEvent("leg_movement", 185.0, duration_s=3.0, peak_uv=25.0),
    ]
    return make_night(sched, hours=0.06, seed=9)


def test_rest_relative_onset_and_offset_levels():
    rest = np.full(4, 3.0)
    env = rest * np.array([1.0, 2.0, 5.0, 6.0])
    above = rest_relative_above(env, rest)
    # 8 "µV" = 5 x rest, 2 "µV" = 2 x rest, whatever the unit
    assert above == pytest.approx([0.0, REST_REF_UV, 8.0, 10.0])
    assert np.isnan(rest_relative_above(np.ones(1), np.full(1, np.nan))).all()
    x = rest_relative_above(np.r_[np.ones(10), np.full(20, 6.0), np.ones(10)] * 7.0, 7.0)
    (lm,) = score_leg_movements(x)
    assert (lm.onset_s, lm.end_s) == pytest.approx((1.0, 3.0))


def test_unknown_gain_gives_the_same_leg_movements(lm_night, model):
    rec = lm_night.recording
    ref = detect_recording(rec, device_id="t", model=model, emg_units_known=False)
    gained = detect_recording(scaled(rec, GAIN), device_id="t", model=model, emg_units_known=False)
    assert lm_key(gained) == lm_key(ref)
    # and the movements are the scheduled ones, with the truth's periodic flags
    truth = [e for e in lm_night.truth if e.type == "leg_movement"]
    assert len(lm_key(ref)) == len(truth) == 7
    assert [p for _, _, p, _ in lm_key(ref)] == [bool(e.periodic) for e in truth]
    for e in [e for e in ref if e.type == "leg_movement"]:
        assert e.details["thresholds"] == "rest_relative"
        assert "peak_above_rest_uv" not in e.details


def test_fixed_microvolt_thresholds_depend_on_the_gain(lm_night, model):
    # why the variant exists: the µV rule on counts sees every flicker as a movement
    # (or, with a small gain, none at all)
    rec = lm_night.recording
    ref = lm_key(detect_recording(rec, device_id="t", model=model))
    small = lm_key(detect_recording(scaled(rec, 0.1), device_id="t", model=model))
    assert len(ref) == 7
    assert small != ref


def test_cramp_alarm_does_not_depend_on_the_gain(make_night, model, alarms):
    cramp = ScheduledEvent(
        "cramp",
        80.0,
        duration_s=60.0,
        peak_uv=150.0,
        prodrome_s=0.0,
        fasciculations=0,
        reaction="none",
    )
    n = make_night([cramp], hours=0.04, seed=13)
    a = alarms(detect_recording(n.recording, device_id="t", model=model, emg_units_known=False))
    b = alarms(
        detect_recording(
            scaled(n.recording, GAIN), device_id="t", model=model, emg_units_known=False
        )
    )
    assert len(a) == 1
    assert [x.detected_at_s for x in a] == [x.detected_at_s for x in b]


def test_detect_cli_emg_units_unknown(lm_night, tmp_path, model, monkeypatch):
    if not default_model_path().is_file():
        monkeypatch.setenv(MODEL_ENV, str(save_model(model, tmp_path / "m.skops")))
    edf, _ = write_night(lm_night, tmp_path / "night.edf")
    out = tmp_path / "ev.jsonl"
    main(["detect", str(edf), "--emg-units", "unknown", "--output", str(out)])
    import json

    lms = [json.loads(x) for x in out.read_text().splitlines()]
    lms = [e for e in lms if e["type"] == "leg_movement"]
    assert len(lms) == 7
    assert all(e["details"]["thresholds"] == "rest_relative" for e in lms)


def test_detect_cli_reads_counts_from_the_file_unit(lm_night, tmp_path, model, monkeypatch):
    # an EDF whose EMG unit is "counts" is scored rest-relative without any option
    if not default_model_path().is_file():
        monkeypatch.setenv(MODEL_ENV, str(save_model(model, tmp_path / "m.skops")))
    rec = scaled(lm_night.recording, 0.5)  # within the writer's ±5000 range
    counts = Recording(rec.signals, rec.fs_hz, rec.start_time, emg_units_known=False)
    edf = write_edf(tmp_path / "counts.edf", counts)
    out_auto, out_unknown = tmp_path / "auto.jsonl", tmp_path / "unknown.jsonl"
    main(["detect", str(edf), "--output", str(out_auto)])
    main(["detect", str(edf), "--emg-units", "unknown", "--output", str(out_unknown)])
    import json

    auto = [json.loads(x) for x in out_auto.read_text().splitlines()]
    lms = [e for e in auto if e["type"] == "leg_movement"]
    assert len(lms) == 7
    assert all(e["details"]["thresholds"] == "rest_relative" for e in lms)
    assert out_auto.read_text() == out_unknown.read_text()
    assert ReplaySource(read_recording(edf), device_id="r").emg_units_known is False
