"""The night recorder: EDF+ written during the night, annotations, gaps, crash recovery."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import numpy as np
import pyedflib

from crampwatch.blocks import SampleBlock
from crampwatch.events import Event, event_id
from crampwatch.recordings import read_recording
from crampwatch.recordings.edfplus_stream import ANNOTATION_BYTES
from crampwatch.service.recorder import NightRecorder, recover_recordings, sensor_resolution

FS = {"emg_calf": 500.0, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}
START = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
# the default digital steps: ±5000 µV and ±8 g over 16 bits
HALF_STEP = {"emg_calf": 5000 / 32768 / 2, "acc": 8 / 32768 / 2}


def _signals(seconds: float, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        r: rng.normal(0, 20 if r == "emg_calf" else 0.1, int(seconds * fs)) for r, fs in FS.items()
    }


def _feed(rec: NightRecorder, signals, block_s: float, skip: tuple[float, float] = (0, 0)):
    n_blocks = int(len(signals["acc_x"]) / FS["acc_x"] / block_s)
    for k in range(n_blocks):
        t0 = k * block_s
        if skip[0] <= t0 < skip[1]:
            continue  # a lost stretch (BLE drop)
        for role, fs in FS.items():
            i0, i1 = round(t0 * fs), round((t0 + block_s) * fs)
            rec.write(SampleBlock(role, t0, fs, signals[role][i0:i1]))


def _cramp(onset: float, end: float | None) -> Event:
    return Event(
        id=event_id("d", "cramp", onset),
        device_id="d",
        type="cramp",
        onset_s=onset,
        end_s=end,
        detected_at_s=onset + 2,
        confidence=0.9,
    )


def _movement(onset: float) -> Event:
    return Event(
        id=event_id("d", "leg_movement", onset),
        device_id="d",
        type="leg_movement",
        onset_s=onset,
        end_s=onset + 1.5,
        detected_at_s=onset + 2,
        confidence=0.8,
        periodic=True,
    )


def _record_starts(path) -> list[str]:
    """The time-keeping TAL (first TAL) of every data record, read from the raw bytes."""
    raw = path.read_bytes()
    ns = int(raw[252:256])
    header = int(raw[184:192])
    spr = [int(raw[256 + 216 * ns + 8 * i : 256 + 216 * ns + 8 * i + 8]) for i in range(ns)]
    size, ann_at = 2 * sum(spr), 2 * sum(spr[:-1])
    n = (len(raw) - header) // size
    return [
        raw[header + k * size + ann_at : header + (k + 1) * size].split(b"\x14")[0].decode()
        for k in range(n)
    ]


def test_records_reach_the_disk_during_the_night(tmp_path):
    sig = _signals(6)
    rec = NightRecorder(tmp_path, "night", FS, START)
    sizes = []
    for k in range(6):  # one second at a time
        _feed(rec, {r: x[: round((k + 1) * FS[r])] for r, x in sig.items()}, 1.0)
        sizes.append(rec.part_path.stat().st_size)
    record = 2 * (500 + 3 * 50) + ANNOTATION_BYTES
    assert np.diff(sizes).tolist() == [record] * 5  # one data record per second, at once
    assert rec.part_path.read_bytes()[236:244].strip() == b"-1"  # still recording
    assert not rec.edf_path.exists()
    rec.finalize()
    assert rec.edf_path.read_bytes()[236:244].strip() == b"6"


def test_finalize_writes_events_as_annotations_at_their_times(tmp_path):
    sig = _signals(12)
    rec = NightRecorder(tmp_path, "night", FS, START)
    _feed(rec, sig, 0.5)
    onset = _cramp(3.0, None)
    rec.add_event(onset)
    rec.add_event(onset.with_end(8.0, 8.2))
    # five movements in one second: more than one record's reserved bytes hold
    for k in range(5):
        rec.add_event(_movement(10.0 + k * 0.15))
    path = rec.finalize()
    assert path == tmp_path / "night.edf"
    assert not rec.part_path.exists() and not rec.journal_path.exists()
    back = read_recording(path)
    assert back.fs_hz == FS and back.start_time == START and back.duration_s == 12
    [ann] = [a for a in back.annotations if a.text.startswith("cramp")]
    assert ann.onset_s == 3.0 and ann.duration_s == 5.0  # the end update, once
    moves = sorted(a.onset_s for a in back.annotations if a.text == "leg_movement periodic")
    np.testing.assert_allclose(moves, [10.0, 10.15, 10.3, 10.45, 10.6])
    # every record still starts with its own time-keeping TAL (EDF+C: 0, 1, 2, ... s)
    assert _record_starts(path) == [f"+{k}" for k in range(12)]


def test_emg_of_a_nominal_scale_is_recorded_as_counts(tmp_path):
    # a source whose EMG units are unknown (e.g. the Myo) was scored rest-relative live;
    # its recording says so, and reading it back keeps the flag
    sig = _signals(3)
    for known, unit in ((True, "uV"), (False, "counts")):
        rec = NightRecorder(tmp_path, f"night-{unit}", FS, START, emg_units_known=known)
        _feed(rec, sig, 0.5)
        path = rec.finalize()
        with pyedflib.EdfReader(str(path)) as f:
            assert f.getPhysicalDimension(0) == unit  # EMG Calf; Acc X/Y/Z stay in g
            assert f.getPhysicalDimension(1) == "g"
        back = read_recording(path)
        assert back.emg_units_known is known
        np.testing.assert_allclose(back.signals["emg_calf"], sig["emg_calf"], atol=0.2)


def test_pyedflib_reads_labels_units_rates_samples_and_annotations(tmp_path):
    sig = _signals(10, seed=3)
    sig["emg_calf"][100] = 7000.0  # beyond ±5000 µV: clipped and counted
    rec = NightRecorder(tmp_path, "night", FS, START)
    _feed(rec, sig, 0.1)
    rec.add_event(_cramp(2.5, 6.0))
    assert rec.clipped == {"emg_calf": 1, "acc_x": 0, "acc_y": 0, "acc_z": 0}
    path = rec.finalize()
    with pyedflib.EdfReader(str(path)) as f:
        assert f.filetype == pyedflib.FILETYPE_EDFPLUS
        assert f.getSignalLabels() == ["EMG Calf", "Acc X", "Acc Y", "Acc Z"]
        assert [f.getPhysicalDimension(i) for i in range(4)] == ["uV", "g", "g", "g"]
        assert f.getSampleFrequencies().tolist() == [500.0, 50.0, 50.0, 50.0]
        assert f.getStartdatetime() == START.replace(tzinfo=None)
        assert f.datarecords_in_file == 10
        onsets, durations, texts = f.readAnnotations()
        assert (onsets.tolist(), durations.tolist(), texts.tolist()) == ([2.5], [3.5], ["cramp"])
        emg = f.readSignal(0)
        assert emg[100] == f.getPhysicalMaximum(0)
        sig["emg_calf"][100] = emg[100]
        np.testing.assert_allclose(emg, sig["emg_calf"], atol=HALF_STEP["emg_calf"] * 1.001)
        for i, role in enumerate(("acc_x", "acc_y", "acc_z"), start=1):
            np.testing.assert_allclose(f.readSignal(i), sig[role], atol=HALF_STEP["acc"] * 1.001)


def test_a_sensors_counts_are_stored_exactly(tmp_path):
    class Profile:  # the reference sensor's scale factors
        emg_uv_per_lsb = 0.25
        acc_g_per_lsb = 1 / 4096

    class Sensor:
        profile = Profile()

    rng = np.random.default_rng(5)
    counts = {r: rng.integers(-32768, 32768, int(4 * fs)) for r, fs in FS.items()}
    scale = sensor_resolution(Sensor())
    sig = {r: c * scale[r] for r, c in counts.items()}  # the full int16 range of each
    rec = NightRecorder(tmp_path, "exact", FS, START, resolution=scale)
    _feed(rec, sig, 0.5)
    path = rec.finalize()
    assert rec.clipped == dict.fromkeys(FS, 0)
    with pyedflib.EdfReader(str(path)) as f:
        for i, role in enumerate(FS):
            # the file holds the sensor's integer counts themselves ...
            assert np.array_equal(f.readSignal(i, digital=True), counts[role])
    back = read_recording(path)
    for role in FS:
        # ... and the 8-character range fields scale them to within 1/1000 of a count
        np.testing.assert_allclose(back.signals[role], sig[role], rtol=0, atol=scale[role] * 1e-3)


def test_gap_is_zero_filled_and_time_kept(tmp_path):
    sig = _signals(10)
    rec = NightRecorder(tmp_path, "gappy", FS, START)
    _feed(rec, sig, 1.0, skip=(4.0, 6.0))
    path = rec.finalize()
    back = read_recording(path)
    assert back.duration_s == 10
    calf = back.signals["emg_calf"]
    assert np.all(calf[2000:3000] == 0.0)  # digital 0 is exactly 0 µV
    np.testing.assert_allclose(calf[3000:], sig["emg_calf"][3000:], atol=0.08)
    assert _record_starts(path) == [f"+{k}" for k in range(10)]


def test_a_silent_channel_is_zero_filled_not_buffered(tmp_path):
    sig = _signals(40)
    rec = NightRecorder(tmp_path, "stuck", FS, START)
    for k in range(40):  # acc_z stops after 2 s, the others go on
        for role, fs in FS.items():
            if role != "acc_z" or k < 2:
                x = sig[role][round(k * fs) : round((k + 1) * fs)]
                rec.write(SampleBlock(role, float(k), fs, x))
    assert rec.recorded_s == 10.0  # 40 s minus the 30 s a channel may lag
    back = read_recording(rec.finalize())
    assert np.all(back.signals["acc_z"][100:] == 0.0)
    np.testing.assert_allclose(back.signals["acc_x"], sig["acc_x"][:500], atol=HALF_STEP["acc"])


def test_unfinished_recording_is_recovered_after_a_crash(tmp_path):
    sig = _signals(6)
    rec = NightRecorder(tmp_path, "crashed", FS, START)
    _feed(rec, sig, 0.5)
    rec.add_event(_cramp(1.0, None))
    rec._writer._file.close()  # the process died here: no finalize()
    with open(rec.journal_path, "a") as f:
        f.write('{"half written')  # killed mid-line
    with open(rec.part_path, "ab") as f:
        f.write(b"\x01" * 700)  # and mid-record
    written = recover_recordings(tmp_path)
    assert written == [tmp_path / "crashed.edf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashed.edf"]
    back = read_recording(written[0])
    assert back.duration_s == 6
    assert [a.text for a in back.annotations if a.text.startswith("cramp")] == ["cramp"]
    np.testing.assert_allclose(back.signals["emg_calf"], sig["emg_calf"], atol=0.08)
    assert recover_recordings(tmp_path) == []


def test_a_recording_killed_while_writing_its_header_is_removed(tmp_path):
    rec = NightRecorder(tmp_path, "early", FS, START)
    rec._writer._file.close()
    header = rec.part_path.read_bytes()
    rec.part_path.write_bytes(header[:700])  # died mid-header: no sample was recorded
    assert recover_recordings(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_a_recording_being_written_is_not_recovered(tmp_path):
    rec = NightRecorder(tmp_path, "live", FS, START)
    _feed(rec, _signals(3), 1.0)
    assert recover_recordings(tmp_path) == []  # another process holds it
    assert rec.finalize() == tmp_path / "live.edf"


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    import numpy as np
    from crampwatch.blocks import SampleBlock
    from crampwatch.events import Event
    from crampwatch.service.recorder import NightRecorder

    fs = {"emg_calf": 500.0, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}
    rec = NightRecorder(Path(sys.argv[1]), "killed", fs, datetime(2026, 11, 24, tzinfo=UTC))
    rec.add_event(Event.from_dict(__import__("json").loads(sys.argv[2])))
    k = 0
    while True:  # until SIGKILL: a ramp, so every sample says where it belongs
        for role, f in fs.items():
            n = round(0.1 * f)
            rec.write(SampleBlock(role, k * 0.1, f, (np.arange(n) + k * n) % 1000 / 10))
        k += 1
    """
)


def test_recovery_after_sigkill_keeps_every_complete_record(tmp_path):
    cramp = _cramp(2.0, 4.0)
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path), json.dumps(cramp.to_dict())]
    )
    part = tmp_path / "killed.edf.part"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            not part.exists() or part.stat().st_size < 1536 + 20 * 1428
        ):
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    [edf] = recover_recordings(tmp_path)
    back = read_recording(edf)
    assert back.duration_s >= 20
    n = len(back.signals["emg_calf"])
    np.testing.assert_allclose(back.signals["emg_calf"], np.arange(n) % 1000 / 10, atol=0.08)
    [ann] = [a for a in back.annotations if a.text == "cramp"]
    assert (ann.onset_s, ann.duration_s) == (2.0, 2.0)
    with pyedflib.EdfReader(str(edf)) as f:
        assert f.datarecords_in_file == back.duration_s
