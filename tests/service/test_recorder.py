"""The night recorder: spool → EDF+, crash recovery, gaps, annotations."""

from datetime import UTC, datetime

import numpy as np

from crampwatch.blocks import SampleBlock
from crampwatch.events import Event, event_id
from crampwatch.recordings import read_recording
from crampwatch.service.recorder import NightRecorder, recover_spools

FS = {"emg_calf": 500.0, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}
START = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)


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


def test_spool_becomes_edf_with_annotations(tmp_path):
    sig = _signals(12)
    rec = NightRecorder(tmp_path, "night", FS, START)
    _feed(rec, sig, 0.5)
    onset = _cramp(3.0, None)
    rec.add_event(onset)
    rec.add_event(onset.with_end(8.0, 8.2))
    path = rec.finalize()
    assert path == tmp_path / "night.edf" and not (tmp_path / "night.spool").exists()
    back = read_recording(path)
    assert back.fs_hz == FS and back.start_time == START
    assert back.duration_s == 12
    np.testing.assert_allclose(back.signals["emg_calf"], sig["emg_calf"], atol=0.2)
    [ann] = [a for a in back.annotations if a.text.startswith("cramp")]
    assert ann.onset_s == 3.0 and ann.duration_s == 5.0  # the end update, once


def test_gap_is_zero_filled_and_time_kept(tmp_path):
    sig = _signals(10)
    rec = NightRecorder(tmp_path, "gappy", FS, START)
    _feed(rec, sig, 1.0, skip=(4.0, 6.0))
    back = read_recording(rec.finalize())
    assert back.duration_s == 10
    calf = back.signals["emg_calf"]
    assert np.all(np.abs(calf[2000:3000]) < 0.2)
    np.testing.assert_allclose(calf[3000:], sig["emg_calf"][3000:], atol=0.2)


def test_unfinished_spool_is_recovered_after_a_crash(tmp_path):
    sig = _signals(6)
    rec = NightRecorder(tmp_path, "crashed", FS, START)
    _feed(rec, sig, 0.5)
    rec.add_event(_cramp(1.0, None))
    with open(rec.spool / "events.jsonl", "a") as f:
        f.write('{"half written')  # killed mid-line
    # no finalize(): the process died here
    written = recover_spools(tmp_path)
    assert written == [tmp_path / "crashed.edf"]
    back = read_recording(written[0])
    assert back.duration_s == 6
    assert [a.text for a in back.annotations if a.text.startswith("cramp")] == ["cramp"]
    assert recover_spools(tmp_path) == []
