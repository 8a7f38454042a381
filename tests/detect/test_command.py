"""CLI verbs ``detect`` and ``evaluate`` end to end (through the real entry point)."""

from __future__ import annotations

import json

import pytest

from crampwatch.cli import main
from crampwatch.detect.model import MODEL_ENV, default_model_path, save_model
from crampwatch.detect.training import night_config, simulated_night
from crampwatch.events import validate_event
from crampwatch.simulate import ScheduledEvent, write_night


@pytest.fixture(scope="module")
def edf_night(tmp_path_factory, make_night):
    sched = [
        ScheduledEvent(
            "cramp",
            70.0,
            duration_s=40.0,
            peak_uv=150.0,
            prodrome_s=0.0,
            fasciculations=0,
            reaction="none",
        ),
        ScheduledEvent("leg_movement", 20.0, duration_s=2.0, peak_uv=50.0),
    ]
    n = make_night(sched, hours=0.04, seed=21)
    edf, _truth = write_night(n, tmp_path_factory.mktemp("rec") / "night.edf")
    return edf, n


@pytest.fixture
def model_env(model, tmp_path, monkeypatch):
    """Point the CLI at the test model (the shipped one when present)."""
    if not default_model_path().is_file():
        monkeypatch.setenv(MODEL_ENV, str(save_model(model, tmp_path / "m.skops")))


def test_detect_writes_valid_jsonl(edf_night, tmp_path, model_env):
    edf, _n = edf_night
    out = tmp_path / "events.jsonl"
    main(["detect", str(edf), "--output", str(out), "--channel", "emg_calf=EMG Calf"])
    lines = out.read_text().splitlines()
    events = [json.loads(x) for x in lines]
    for ev in events:
        validate_event(ev)
    assert any(ev["type"] == "cramp" and ev["end_s"] is None for ev in events)
    assert any(ev["type"] == "leg_movement" for ev in events)


def test_detect_missing_file_is_one_line_error(tmp_path, capsys, model_env):
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(tmp_path / "nope.edf")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "nope.edf" in err and "Traceback" not in err


def test_evaluate_on_a_recording_prints_metrics(edf_night, capsys, model_env):
    edf, _ = edf_night
    main(["evaluate", str(edf), "--json"])
    res = json.loads(capsys.readouterr().out)["recordings"]
    assert res["cramps"] == 1
    assert res["cramp_sensitivity"] == 1.0
    assert res["false_alarms"] == 0


def test_evaluate_simulates_one_short_night(capsys, model_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one line per row: five columns
    tiny_soak = ["--soak-nights", "1", "--soak-hours", "0.05", "--workers", "1"]
    main(["evaluate", "--nights", "1", "--hours", "0.05", "--variant", "shifted", *tiny_soak])
    out = capsys.readouterr().out
    assert "cramp sensitivity" in out and "shifted" in out
    assert "soak calf only" in out and "100 nights" in out


def test_evaluate_soak_reports_false_alarms_per_100_nights(capsys, model_env):
    soak = ["--soak-nights", "2", "--soak-hours", "0.05", "--workers", "2"]
    main(["evaluate", "--nights", "1", "--hours", "0.02", "--variant", "train", "--json", *soak])
    res = json.loads(capsys.readouterr().out)
    assert set(res) == {"in-distribution", "soak in-distribution", "soak shifted", "soak calf only"}
    soak = res["soak calf only"]
    assert soak["cramps"] == 0 and soak["nights"] == 2
    assert soak["seeds"] == "52000..52001"
    assert soak["false_alarms_per_100_nights"] == 100 * soak["false_alarms"] / (0.1 / 8)
    assert isinstance(soak["false_alarm_list"], list)


def test_evaluate_gives_the_same_figures_in_a_pool_as_in_process(capsys, model_env):
    """The held-out nights are scored in worker processes: the same figures as one by
    one in this process, montage split included (every third seed is calf only)."""
    base = ["evaluate", "--nights", "3", "--hours", "0.05", "--variant", "train", "--json"]
    figures = []
    for workers in ("1", "2"):
        main([*base, "--soak-nights", "0", "--workers", workers])
        figures.append(json.loads(capsys.readouterr().out)["in-distribution"])
    in_process, pooled = figures
    assert json.dumps(pooled, sort_keys=True) == json.dumps(in_process, sort_keys=True)  # NaN too
    assert pooled["nights"] == 3 and pooled["seeds"] == "20000..20002"
    # the calf-only split (from night_config) is the nights' own montage
    montage = [night_config(s, "train")["tibialis"] for s in (20000, 20001, 20002)]
    assert montage == [False, True, True]  # every third seed: 20000 % 3 == 2
    for seed, tib in zip((20000, 20001), (False, True), strict=True):
        night = simulated_night(seed, 0.01, "train", cramp_boost=4.0)
        assert ("emg_tibialis" in night.recording.fs_hz) is tib
