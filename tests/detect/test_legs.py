"""Sleep-lab recordings: leg movements without an accelerometer, both legs, the hypnogram.

PSG files come from the PSG simulator (``crampwatch.simulate.psg``); ``crampwatch detect``
runs as users run it: the console script, default options, an isolated HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from crampwatch.detect.legs import combine_legs, plm_summary
from crampwatch.detect.wasm import LegMovement
from crampwatch.events import Event, validate_event
from crampwatch.recordings.hypnogram import (
    Hypnogram,
    find_hypnogram_file,
    hypnogram_for,
    parse_stage,
)
from crampwatch.recordings.model import Annotation
from crampwatch.simulate.psg import simulate_psg, write_psg

CLI = Path(sys.executable).with_name("crampwatch")


def _run(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": "", "CRAMPWATCH_DATA": ""}
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def psg(tmp_path_factory):
    night = simulate_psg(0.5, 11)
    folder = tmp_path_factory.mktemp("psg")
    return night, folder


@pytest.fixture(scope="module")
def detected(psg):
    night, folder = psg
    path = write_psg(night, folder / "night.edf")
    res = _run("detect", str(path), home=folder)
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in res.stdout.splitlines()], res.stderr


def _lm(onset: float, end: float) -> LegMovement:
    return LegMovement(onset, end, end + 0.5, 20.0, 10.0, end - onset <= 10.0)


def _f1(found: list[tuple[float, float]], truth: list, tol_s: float = 0.5) -> float:
    hit = sum(1 for t in truth if any(abs(a - t.onset_s) <= tol_s for a, _ in found))
    prec = sum(1 for a, _ in found if any(abs(a - t.onset_s) <= tol_s for t in truth))
    if not found or not truth:
        return 0.0
    p, r = prec / len(found), hit / len(truth)
    return 2 * p * r / (p + r)


# ---------------------------------------------------------------- rules (pure)


def test_legs_overlapping_or_under_half_a_second_apart_are_one_movement():
    groups = combine_legs(
        {
            "left": [_lm(10.0, 12.0), _lm(40.0, 41.0), _lm(70.0, 71.0)],
            "right": [_lm(11.0, 13.0), _lm(41.4, 42.0), _lm(71.6, 72.0)],
        }
    )
    sizes = [(round(c.onset_s, 1), round(c.end_s, 1), len(parts)) for c, parts in groups]
    # overlap -> one; 0.4 s apart -> one; 0.6 s apart -> two
    assert sizes == [(10.0, 13.0, 2), (40.0, 42.0, 2), (70.0, 71.0, 1), (71.6, 72.0, 1)]


def test_bilateral_movement_is_a_candidate_up_to_15_s():
    long_pair = combine_legs({"left": [_lm(0.0, 8.0)], "right": [_lm(6.0, 14.0)]})
    too_long = combine_legs({"left": [_lm(0.0, 8.0)], "right": [_lm(7.0, 16.0)]})
    assert long_pair[0][0].candidate and not too_long[0][0].candidate


def test_stage_spellings():
    spelled = ["Sleep stage W", "Sleep stage 1", "Sleep stage 4", "Sleep stage R", "N2", "REM"]
    assert [parse_stage(s) for s in spelled] == ["W", "N1", "N3", "R", "N2", "R"]
    assert parse_stage("Sleep stage ?") is None and parse_stage("Lights off") is None


def test_plm_index_per_hour_of_sleep_counts_a_bilateral_movement_once():
    def ev(onset: float, leg: str, combined: float) -> Event:
        details = {"combined_onset_s": combined, "bilateral": True}
        return Event(
            f"{leg}{onset}", "d", "leg_movement", onset, onset + 1, onset + 2, 1.0,
            leg=leg, periodic=True, details=details,
        )  # fmt: skip

    legs = ("left", "right")
    events = [ev(100.0 + 20 * k, leg, 100.0 + 20 * k) for k in range(4) for leg in legs]
    hyp = Hypnogram.from_annotations(
        [Annotation(0.0, 1800.0, "Sleep stage 2"), Annotation(1800.0, 1800.0, "Sleep stage W")]
    )
    s = plm_summary(events, 3600.0, hyp)
    assert s["leg_movements"] == 4 and s["bilateral"] == 4
    assert s["plms_index_per_h"] == pytest.approx(8.0)  # 4 in half an hour of sleep
    assert s["plmw_index_per_h"] == 0.0
    assert plm_summary(events, 3600.0)["plm_index_per_h"] == pytest.approx(4.0)
    # an EDF+D file's holes are not recording time
    assert plm_summary(events, 3600.0, recorded_s=1800.0)["plm_index_per_h"] == pytest.approx(8.0)


def test_hypnogram_file_starting_later_is_moved_to_the_recording_clock(tmp_path):
    import edfio

    start = datetime(2025, 3, 3, 22, 0, 0, tzinfo=UTC)
    psg = tmp_path / "a-PSG.edf"
    psg.write_bytes(b"")
    edfio.Edf(
        [],
        recording=edfio.Recording(startdate=start.date()),
        starttime=(start + timedelta(seconds=90)).time().replace(tzinfo=None),
        annotations=[edfio.EdfAnnotation(0.0, 60.0, "Sleep stage 2")],
    ).write(tmp_path / "a-Hypnogram.edf")
    hyp = hypnogram_for([], psg, start)
    assert hyp is not None and hyp.source == "a-Hypnogram.edf"
    assert list(hyp.stage_at(np.array([80.0, 100.0, 149.0, 151.0]))) == ["", "N2", "N2", ""]


def test_sleep_edf_hypnogram_file_is_found(tmp_path):
    psg = tmp_path / "SC4001E0-PSG.edf"
    psg.write_bytes(b"")
    (tmp_path / "SC4001EC-Hypnogram.edf").write_bytes(b"")
    (tmp_path / "SC4011EH-Hypnogram.edf").write_bytes(b"")
    assert find_hypnogram_file(psg) == tmp_path / "SC4001EC-Hypnogram.edf"


# ---------------------------------------------------------------- as users run it


def test_psg_scored_with_no_options_per_leg_against_truth(psg, detected):
    night, _ = psg
    events, _err = detected
    for ev in events:
        validate_event(ev)
    assert {ev["type"] for ev in events} == {"leg_movement"}
    for leg in ("left", "right"):
        found = [(e["onset_s"], e["end_s"]) for e in events if e["leg"] == leg]
        truth = night.movements[leg]
        assert len(truth) > 10
        assert _f1(found, truth) >= 0.95, leg


def test_bilateral_movements_match_truth(psg, detected):
    night, _ = psg
    events, _ = detected
    truth_bilateral = {round(a) for a, _, parts in night.combined if parts > 1}
    found = {round(e["details"]["combined_onset_s"]) for e in events if e["details"]["bilateral"]}
    assert truth_bilateral  # the night has some
    matched = sum(1 for t in truth_bilateral if any(abs(t - f) <= 1 for f in found))
    assert matched >= 0.9 * len(truth_bilateral)
    assert len(found) <= len(truth_bilateral) + 1


def test_mode_line_and_plms_per_hour_of_sleep(psg, detected):
    night, _ = psg
    _, err = detected
    lines = err.splitlines()
    assert lines[0].startswith("leg movements only: no accelerometer")
    plms = next(x for x in lines if x.startswith("PLMS index"))
    value = float(plms.split()[2].split("/")[0])
    assert abs(value - night.plms_index) <= 2.0
    assert "per hour of recording" not in err


def test_hypnogram_file_beside_the_recording(psg, detected):
    night, folder = psg
    path = write_psg(night, folder / "beside" / "n1-PSG.edf", hypnogram="file")
    res = _run("detect", str(path), home=folder)
    assert res.returncode == 0, res.stderr
    assert "hypnogram: n1-Hypnogram.edf" in res.stderr

    def plms(err: str) -> str:
        return next(x for x in err.splitlines() if x.startswith("PLMS")).split("; hypnogram")[0]

    assert plms(res.stderr) == plms(detected[1])


def test_without_hypnogram_the_index_is_per_hour_of_recording(psg):
    night, folder = psg
    path = write_psg(night, folder / "nohyp.edf", hypnogram="none")
    res = _run("detect", str(path), home=folder)
    assert res.returncode == 0, res.stderr
    assert "per hour of recording, not of sleep" in res.stderr


def test_events_do_not_depend_on_the_block_size(psg, detected):
    _night, folder = psg
    res = _run("detect", str(folder / "night.edf"), "--block-s", "0.7", home=folder)
    assert res.returncode == 0, res.stderr
    assert [json.loads(x) for x in res.stdout.splitlines()] == detected[0]


def test_edf_plus_d_gap_is_a_gap(psg):
    night, folder = psg
    path = write_psg(night, folder / "gap.edf", gap_s=(600, 900))
    res = _run("detect", str(path), home=folder)
    assert res.returncode == 0, res.stderr
    events = [json.loads(x) for x in res.stdout.splitlines()]
    lms = [e for e in events if e["type"] == "leg_movement"]
    assert not [e for e in lms if 600 <= e["onset_s"] < 900]
    gaps = [e for e in events if e["type"] == "signal_issue" and e["details"]["kind"] == "gap"]
    ends = {e["leg"]: (e["onset_s"], e["end_s"]) for e in gaps if e["end_s"] is not None}
    assert set(ends) == {"left", "right"}
    for onset, end in ends.values():  # the first clean frame may come a little later
        # (the filters settle after the hole)
        assert onset == 600.0 and 900.0 <= end <= 903.0
    # after the gap, movements stay where they were (the time axis keeps the hole)
    after = [m.onset_s for m in night.movements["left"] if m.onset_s > 960]
    found = [e["onset_s"] for e in lms if e["leg"] == "left" and e["onset_s"] > 960]
    assert sum(1 for t in after if any(abs(t - f) <= 0.5 for f in found)) >= 0.9 * len(after)


def test_calf_alone_is_scored(psg):
    night, folder = psg
    path = write_psg(night, folder / "calf.edf", labels={"left": "GAS-L", "right": "GAS-R"})
    res = _run("detect", str(path), home=folder)
    assert res.returncode == 0, res.stderr
    assert "scored on calf left, calf right" in res.stderr.splitlines()[0]
    assert {json.loads(x)["details"]["channel"] for x in res.stdout.splitlines()} == {"emg_calf"}


def test_ambiguous_labels_are_one_error_line_naming_them(psg):
    night, folder = psg
    path = write_psg(night, folder / "lgmg.edf", labels={"left": "LG", "right": "MG"})
    res = _run("detect", str(path), home=folder)
    assert res.returncode != 0
    err = res.stderr.strip()
    assert "\n" not in err and "'LG'" in err and "'MG'" in err and "Traceback" not in err


def test_per_leg_channel_option(psg):
    night, folder = psg
    path = write_psg(night, folder / "numbered.edf", labels={"left": "Leg 1", "right": "Leg 2"})
    res = _run("detect", str(path), home=folder)
    assert res.returncode != 0
    assert "several channels could be emg_tibialis ('Leg 1', 'Leg 2')" in res.stderr
    res = _run(
        "detect", str(path), "--channel", "emg_tibialis.left=Leg 1",
        "--channel", "emg_tibialis.right=Leg 2", home=folder,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    legs = {json.loads(x)["leg"] for x in res.stdout.splitlines()}
    assert legs == {"left", "right"}


def test_simulated_psg_truth_has_bilateral_and_periodic_movements():
    night = simulate_psg(0.3, 6)
    assert night.periodic_onsets_s
    assert any(parts > 1 for _, _, parts in night.combined)
    assert night.sleep_hours > 0
    assert np.isfinite(night.plms_index)


def test_evaluate_psg_reports_lm_f1_and_plms_error(tmp_path):
    res = _run("evaluate", "--psg", "--nights", "1", "--hours", "0.5", "--json", home=tmp_path)
    assert res.returncode == 0, res.stderr
    psg = json.loads(res.stdout)["psg"]
    assert psg["nights"] == 1
    assert psg["lm_f1"] >= 0.95
    assert psg["plms_index_error_per_h"] <= 2.0
    night = psg["per_night"][0]
    assert abs(night["plms_index"] - night["truth"]) == pytest.approx(psg["plms_index_error_per_h"])


def test_one_leg_takes_its_side_from_the_label(psg):
    night, folder = psg
    path = write_psg(night, folder / "one.edf", labels={"left": "TA-L", "right": "EEG C4"})
    res = _run("detect", str(path), home=folder)
    assert res.returncode == 0, res.stderr
    assert "(scored on tibialis)" in res.stderr.splitlines()[0]
    events = [json.loads(x) for x in res.stdout.splitlines()]
    assert events and {e["leg"] for e in events} == {"left"}
    assert not any(e["details"].get("bilateral") for e in events)
