"""Both EDF writers take a channel's range, transducer and prefiltering from one table."""

from __future__ import annotations

import edfio
import numpy as np

from crampwatch.recordings import Recording, write_edf
from crampwatch.recordings.edf_header import SIGNAL_SPECS, SignalSpec
from crampwatch.recordings.edfplus_stream import EdfPlusStreamWriter, finish_edfplus
from crampwatch.roles import DEFAULT_LABELS, UNITS


def _headers(path) -> dict[str, tuple[str, str, str, tuple[float, float]]]:
    edf = edfio.read_edf(path)
    return {
        s.label: (s.transducer_type, s.physical_dimension, s.prefiltering, s.physical_range)
        for s in edf.signals
    }


def test_a_changed_spec_shows_in_both_writers_headers(tmp_path, monkeypatch):
    monkeypatch.setitem(SIGNAL_SPECS, "uV", SignalSpec(6000.0, "needle EMG", "HP:20Hz"))
    monkeypatch.setitem(SIGNAL_SPECS, "g", SignalSpec(4.0, "MEMS accelerometer", "none"))
    fs_hz = {"emg_calf": 500.0, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}
    rng = np.random.default_rng(1)
    signals = {r: rng.normal(0, 0.1, int(fs * 4)) for r, fs in fs_hz.items()}
    write_edf(tmp_path / "whole.edf", Recording(signals=signals, fs_hz=fs_hz))
    w = EdfPlusStreamWriter(tmp_path / "stream.edf", fs_hz, None)
    for role, x in signals.items():
        w.write(role, 0.0, x)
    w.close()
    finish_edfplus(tmp_path / "stream.edf", [])

    want = {
        DEFAULT_LABELS[r]: (
            SIGNAL_SPECS[UNITS[r]].transducer,
            UNITS[r],
            SIGNAL_SPECS[UNITS[r]].prefiltering,
            (-SIGNAL_SPECS[UNITS[r]].physical_max, SIGNAL_SPECS[UNITS[r]].physical_max),
        )
        for r in fs_hz
    }
    assert want["EMG Calf"] == ("needle EMG", "uV", "HP:20Hz", (-6000.0, 6000.0))
    assert _headers(tmp_path / "whole.edf") == want
    assert _headers(tmp_path / "stream.edf") == want
