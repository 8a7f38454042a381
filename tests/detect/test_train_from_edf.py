"""``crampwatch train --from-edf``: labelled EDF+ recordings (annotations as labels) in,
a working model out — the path a user with real labelled nights takes."""

from __future__ import annotations

import json

import pytest

from crampwatch.cli import main
from crampwatch.detect.model import MODEL_FILENAME, load_model
from crampwatch.detect.streaming import detect_recording
from crampwatch.recordings import read_recording
from crampwatch.simulate import ScheduledEvent, read_truth, truth_path_for, write_night


def schedule(shift: float):
    return [
        ScheduledEvent("leg_movement", 15.0 + shift, duration_s=2.0, peak_uv=40.0),
        ScheduledEvent("turn_over", 40.0 + shift, duration_s=3.0),
        ScheduledEvent(
            "cramp",
            80.0 + shift,
            duration_s=50.0,
            peak_uv=120.0 + 40 * shift,
            prodrome_s=0.0,
            fasciculations=0,
            reaction="none",
        ),
        ScheduledEvent("plm_series", 150.0, count=4, interval_s=20.0, peak_uv=50.0),
        ScheduledEvent("stretch", 245.0, duration_s=8.0, peak_uv=150.0),
    ]


@pytest.fixture(scope="module")
def edf_dir(tmp_path_factory, make_night):
    """Three labelled EDF+ nights (two rates, with and without tibialis) whose only
    labels are their annotations: the truth JSON written beside them is removed."""
    d = tmp_path_factory.mktemp("labelled")
    montages = [(1000.0, True), (500.0, False), (2000.0, True)]
    for i, (fs, tib) in enumerate(montages):
        n = make_night(schedule(float(i)), hours=0.075, seed=40 + i, emg_fs_hz=fs, tibialis=tib)
        edf, truth = write_night(n, d / f"night{i}.edf")
        truth.unlink()
        assert not truth_path_for(edf).exists()
        assert any(e.type == "cramp" for e in read_truth(edf))  # labels from annotations
    return d


def test_train_from_labelled_edf_loads_and_detects(edf_dir, tmp_path, make_night, alarms):
    out = tmp_path / "model"
    main(["train", "--from-edf", str(edf_dir), "--output", str(out), "--eval-nights", "0"])
    model = load_model(out / MODEL_FILENAME)  # through the allow-list
    assert model.meta["source"] == str(edf_dir)
    assert model.meta["files"] == ["night0.edf", "night1.edf", "night2.edf"]
    json.dumps(dict(model.meta))  # plain data through the skops round trip
    card = (out / "MODEL_CARD.md").read_text()
    assert "night0.edf" in card
    # a new night, through the EDF path as well
    n = make_night(schedule(0.5), hours=0.075, seed=77, emg_fs_hz=800.0)
    edf, _ = write_night(n, tmp_path / "new.edf")
    events = detect_recording(read_recording(edf), device_id="t", model=model)
    (truth,) = [e for e in n.truth if e.type == "cramp"]
    (alarm,) = alarms(events)
    assert truth.onset_s - 5.0 <= alarm.detected_at_s <= truth.onset_s + 6.0
    assert any(e.type == "leg_movement" for e in events)


def test_train_from_edf_needs_two_recordings(tmp_path, capsys):
    (tmp_path / "only").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["train", "--from-edf", str(tmp_path / "only"), "--output", str(tmp_path / "m")])
    assert exc.value.code == 2
    assert "at least 2" in capsys.readouterr().err
