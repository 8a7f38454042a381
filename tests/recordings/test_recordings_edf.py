"""EDF/EDF+/BDF reading and writing: round trips through our reader and pyedflib."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import edfio
import numpy as np
import pyedflib
import pytest

from crampwatch.errors import CrampwatchError
from crampwatch.recordings import Annotation, Recording, read_recording, write_edf
from crampwatch.roles import DEFAULT_LABELS

START = datetime(2025, 3, 1, 23, 15, 7, tzinfo=UTC)


def make_recording(emg_fs: float = 500.0, acc_fs: float = 50.0, seconds: float = 10.0):
    rng = np.random.default_rng(1)
    n_e, n_a = round(seconds * emg_fs), round(seconds * acc_fs)
    signals = {
        "emg_calf": rng.normal(0, 20, n_e),
        "emg_tibialis": rng.normal(0, 5, n_e),
        "acc_x": 0.1 + rng.normal(0, 0.01, n_a),
        "acc_y": -0.2 + rng.normal(0, 0.01, n_a),
        "acc_z": 0.97 + rng.normal(0, 0.01, n_a),
    }
    fs = {r: emg_fs if r.startswith("emg") else acc_fs for r in signals}
    return Recording(
        signals=signals,
        fs_hz=fs,
        start_time=START,
        annotations=(Annotation(1.5, 2.0, "cramp"), Annotation(4.0, None, "lights off")),
    )


def test_write_then_pyedflib_reads_labels_units_rates_values(tmp_path: Path):
    rec = make_recording()
    path = write_edf(tmp_path / "n.edf", rec, [Annotation(6.25, 0.5, "leg_movement")])
    with pyedflib.EdfReader(str(path)) as f:
        labels = f.getSignalLabels()
        assert labels == [DEFAULT_LABELS[r] for r in rec.signals]
        for i, role in enumerate(rec.signals):
            assert f.getPhysicalDimension(i) == ("uV" if role.startswith("emg") else "g")
            assert f.getSampleFrequency(i) == rec.fs_hz[role]
            x = f.readSignal(i)
            step = (f.getPhysicalMaximum(i) - f.getPhysicalMinimum(i)) / (
                f.getDigitalMaximum(i) - f.getDigitalMinimum(i)
            )
            assert len(x) == len(rec.signals[role])
            np.testing.assert_allclose(x, rec.signals[role], atol=step)
        onsets, _, texts = f.readAnnotations()
        assert list(texts) == ["cramp", "lights off", "leg_movement"]
        np.testing.assert_allclose(onsets, [1.5, 4.0, 6.25])
        assert f.getStartdatetime() == START.replace(tzinfo=None)


def test_write_then_read_recording_round_trip(tmp_path: Path):
    rec = make_recording(emg_fs=2000.0, acc_fs=200.0, seconds=3.0)
    back = read_recording(write_edf(tmp_path / "n.edf", rec))
    assert back.fs_hz == rec.fs_hz
    assert back.labels == {r: DEFAULT_LABELS[r] for r in rec.signals}
    assert back.start_time == START
    assert back.annotations == rec.annotations
    assert back.path == tmp_path / "n.edf"
    for role, x in rec.signals.items():
        assert back.signals[role].dtype == np.float64
        np.testing.assert_allclose(back.signals[role], x, atol=0.2 if "emg" in role else 3e-4)
    assert back.duration_s == pytest.approx(3.0)


def test_partial_record_is_padded_and_odd_rates_get_a_longer_record(tmp_path: Path):
    rec = make_recording(emg_fs=250.0, acc_fs=12.5, seconds=3.3)
    back = read_recording(write_edf(tmp_path / "n.edf", rec))
    assert back.fs_hz["acc_x"] == 12.5
    assert back.duration_s == pytest.approx(4.0)  # 2 s records for 12.5 Hz
    n = len(rec.signals["emg_calf"])
    np.testing.assert_allclose(back.signals["emg_calf"][:n], rec.signals["emg_calf"], atol=0.2)


def test_values_outside_range_are_clipped(tmp_path: Path):
    rec = make_recording()
    rec.signals["emg_calf"][:10] = 1e5
    back = read_recording(write_edf(tmp_path / "n.edf", rec))
    assert back.signals["emg_calf"][:10] == pytest.approx(5000.0, abs=0.2)


def _write_foreign(path: Path, specs, fmt: str = "edf", seconds: int = 4) -> None:
    """An EDF/BDF written by edfio with other labels and units."""
    cls, sig_cls = (edfio.Bdf, edfio.BdfSignal) if fmt == "bdf" else (edfio.Edf, edfio.EdfSignal)
    signals = []
    for label, unit, fs, data in specs:
        data = np.resize(np.asarray(data, dtype=float), seconds * fs)
        lim = float(np.abs(data).max()) * 1.5 + 1
        signals.append(
            sig_cls(data, fs, label=label, physical_dimension=unit, physical_range=(-lim, lim))
        )
    cls(signals, annotations=[edfio.EdfAnnotation(1.0, None, "Arousal")]).write(path)


def test_bdf_with_mv_and_mg_units_and_other_labels(tmp_path: Path):
    path = tmp_path / "psg.bdf"
    ramp = np.linspace(-1, 1, 1024)
    _write_foreign(
        path,
        [
            ("EEG C3", "uV", 256, ramp),
            ("Gastrocnemius L", "mV", 256, ramp * 0.5),
            ("LAT", "uV", 256, ramp * 30),
            ("AccX", "mg", 32, [1000.0]),
            ("Accel Y", "m/s^2", 32, [9.80665]),
            ("ACC_Z", "g", 32, [-0.5]),
        ],
        fmt="bdf",
    )
    rec = read_recording(path)
    assert rec.labels == {
        "emg_calf": "Gastrocnemius L",
        "emg_tibialis": "LAT",
        "acc_x": "AccX",
        "acc_y": "Accel Y",
        "acc_z": "ACC_Z",
    }
    np.testing.assert_allclose(rec.signals["emg_calf"][:1024], ramp * 500, atol=0.01)
    np.testing.assert_allclose(rec.signals["acc_x"], 1.0, atol=1e-4)
    np.testing.assert_allclose(rec.signals["acc_y"], 1.0, atol=1e-4)
    np.testing.assert_allclose(rec.signals["acc_z"], -0.5, atol=1e-4)
    assert rec.fs_hz["acc_z"] == 32
    assert rec.annotations == (Annotation(1.0, None, "Arousal"),)
    assert rec.start_time is None or rec.start_time.tzinfo is UTC


def test_explicit_channel_map_wins(tmp_path: Path):
    path = tmp_path / "two_legs.edf"
    _write_foreign(
        path,
        [
            ("LAT", "uV", 200, [1.0]),
            ("RAT", "uV", 200, [2.0]),
            ("Soleus R", "uV", 200, [3.0]),
            ("Right calf", "uV", 200, [4.0]),
            ("Acc X", "g", 20, [0.0]),
            ("Acc Y", "g", 20, [0.0]),
            ("Acc Z", "g", 20, [1.0]),
        ],
    )
    rec = read_recording(path, {"emg_calf": "right CALF", "emg_tibialis": "rat"})
    assert rec.labels["emg_calf"] == "Right calf"
    assert rec.labels["emg_tibialis"] == "RAT"
    assert rec.signals["emg_calf"][0] == pytest.approx(4.0, abs=0.01)
    assert rec.signals["emg_tibialis"][0] == pytest.approx(2.0, abs=0.01)


def test_two_sided_leg_channels_are_two_legs(tmp_path: Path):
    path = tmp_path / "two_legs.edf"
    _write_foreign(
        path,
        [
            ("LAT", "uV", 200, [1.0]),
            ("RAT", "uV", 200, [2.0]),
            ("EMG Calf", "uV", 200, [3.0]),
            ("Acc X", "g", 20, [0.0]),
            ("Acc Y", "g", 20, [0.0]),
            ("Acc Z", "g", 20, [1.0]),
        ],
    )
    rec = read_recording(path)
    assert rec.labels["emg_tibialis.left"] == "LAT"
    assert rec.labels["emg_tibialis.right"] == "RAT"
    assert rec.signals["emg_tibialis.right"][0] == pytest.approx(2.0, abs=0.01)
    assert read_recording(path, {"emg_tibialis": "LAT"}).labels["emg_tibialis"] == "LAT"


def test_ambiguous_default_match_names_the_candidates(tmp_path: Path):
    path = tmp_path / "two_calves.edf"
    _write_foreign(path, [("LG", "uV", 200, [1.0]), ("MG", "uV", 200, [2.0])])
    with pytest.raises(CrampwatchError) as err:
        read_recording(path)
    msg = str(err.value)
    assert "'LG'" in msg and "'MG'" in msg and "--channel emg_calf=" in msg and "\n" not in msg


def test_no_leg_emg_is_one_line_error(tmp_path: Path):
    path = tmp_path / "eeg.edf"
    _write_foreign(path, [("EEG C3", "uV", 200, [1.0]), ("ECG", "uV", 200, [1.0])])
    with pytest.raises(CrampwatchError) as err:
        read_recording(path)
    msg = str(err.value)
    assert "no leg EMG" in msg and "'EEG C3'" in msg and "\n" not in msg


def test_accelerometer_and_calf_are_optional(tmp_path: Path):
    path = tmp_path / "no_acc.edf"
    _write_foreign(path, [("EMG Tibialis", "uV", 200, [1.0])])
    assert list(read_recording(path).signals) == ["emg_tibialis"]


def test_mapped_label_that_matches_nothing_lists_labels(tmp_path: Path):
    path = tmp_path / "n.edf"
    write_edf(path, make_recording())
    with pytest.raises(CrampwatchError, match=r"'Gastroc L'.*'EMG Calf'.*'Acc Z'"):
        read_recording(path, {"emg_calf": "Gastroc L"})


def test_unknown_unit_is_an_error(tmp_path: Path):
    path = tmp_path / "n.edf"
    _write_foreign(
        path,
        [
            ("EMG Calf", "furlong", 200, [1.0]),
            ("Acc X", "g", 20, [0.0]),
            ("Acc Y", "g", 20, [0.0]),
            ("Acc Z", "g", 20, [1.0]),
        ],
    )
    with pytest.raises(CrampwatchError, match=r"unit 'furlong'"):
        read_recording(path)


@pytest.mark.parametrize("unit", ["", "counts", "ADU", "a.u."])
def test_emg_in_counts_is_read_as_is_and_flagged(tmp_path: Path, unit: str, caplog):
    path = tmp_path / "counts.edf"
    ramp = np.linspace(-1, 1, 800) * 900.0
    _write_foreign(
        path,
        [
            ("EMG Calf", unit, 200, ramp),
            ("EMG Tibialis", "uV", 200, ramp * 0.1),
            ("Acc X", "g", 20, [0.0]),
            ("Acc Y", "g", 20, [0.0]),
            ("Acc Z", "g", 20, [1.0]),
        ],
    )
    with caplog.at_level("WARNING"):
        rec = read_recording(path)
    assert not rec.emg_units_known
    assert "'EMG Calf'" in caplog.text and "resting level" in caplog.text
    np.testing.assert_allclose(rec.signals["emg_calf"], ramp, atol=0.05)  # factor 1


def test_emg_in_microvolts_is_calibrated_and_counts_survive_a_round_trip(tmp_path: Path):
    rec = make_recording()
    assert read_recording(write_edf(tmp_path / "uv.edf", rec)).emg_units_known
    # 24-bit ADC counts reach far beyond the ±5000-µV range of µV channels: kept whole
    sig = {**rec.signals, "emg_calf": rec.signals["emg_calf"] * 400.0}
    assert np.abs(sig["emg_calf"]).max() > 20_000
    counts = Recording(sig, rec.fs_hz, emg_units_known=False)
    back = read_recording(write_edf(tmp_path / "counts.edf", counts))
    assert not back.emg_units_known
    step = np.abs(sig["emg_calf"]).max() / 32767
    np.testing.assert_allclose(back.signals["emg_calf"], sig["emg_calf"], atol=step)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not an EDF file" * 20, b"0       " + b"\x00" * 400],
    ids=["empty", "text", "garbage-header"],
)
def test_not_an_edf_or_corrupt_header(tmp_path: Path, content: bytes):
    path = tmp_path / "bad.edf"
    path.write_bytes(content)
    with pytest.raises(CrampwatchError, match=r"bad\.edf"):
        read_recording(path)


def test_truncated_file_is_an_error(tmp_path: Path):
    path = tmp_path / "n.edf"
    write_edf(path, make_recording())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1001])
    with pytest.raises(CrampwatchError, match="truncated"):
        read_recording(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(CrampwatchError, match="no such file"):
        read_recording(tmp_path / "nope.edf")
