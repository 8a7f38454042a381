"""Gathering a night from the store: night selection, history, cramp traces, notes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crampwatch.consumers.store import EventStore
from crampwatch.errors import CrampwatchError
from crampwatch.recordings import read_recording
from crampwatch.review.envelope import calf_envelope
from crampwatch.review.report import build_report, known_nights, resolve_night
from review.nightgen import (
    CrampSpec,
    NightSpec,
    evening,
    fill_store,
    night_events,
    write_recording,
)


def test_last_night_is_the_default(nights):
    with EventStore(nights.db, create=False) as store:
        assert resolve_night(store, None) == nights.last.night
        assert known_nights(store) == [s.night for s in nights.specs]
        report = build_report(store)
    assert report.summary.night == nights.last.night
    assert report.summary.window_source == "status"
    assert [h.night for h in report.history] == [s.night for s in nights.specs]
    assert [len(h.cramps) for h in report.history] == [len(s.cramps) for s in nights.specs]
    assert report.recordings and not report.notes


def test_history_is_limited_and_ends_at_the_chosen_night(nights):
    chosen = nights.specs[2].night
    with EventStore(nights.db, create=False) as store:
        report = build_report(store, chosen, history_nights=2)
    assert [h.night for h in report.history] == [s.night for s in nights.specs[1:3]]
    assert report.summary.night == chosen
    assert "No recording" in " ".join(report.notes)


def test_traces_show_each_cramp_in_the_recording(nights):
    with EventStore(nights.db, create=False) as store:
        report = build_report(store)
    assert set(report.traces) == {c.event_id for c in report.summary.cramps}
    for c in report.summary.cramps:
        tr = report.traces[c.event_id]
        inside = (tr.t_s > c.onset_s + 2) & (tr.t_s < c.end_s - 2)
        before = tr.t_s < c.onset_s - 2
        assert before.any() and inside.any()
        # the burst stands far above the resting EMG (3 µV in the synthetic night)
        assert np.median(tr.envelope_uv[inside]) > 10 * np.median(tr.envelope_uv[before])


def test_traces_read_lazily_match_the_whole_recording(nights):
    """Only the minutes around a cramp are read; they equal the same stretch of the
    recording read whole by crampwatch.recordings."""
    rec = read_recording(nights.recording)
    x, fs = rec.signals["emg_calf"], rec.fs_hz["emg_calf"]
    with EventStore(nights.db, create=False) as store:
        report = build_report(store)
    for tr in report.traces.values():
        i0 = round(tr.t_s[0] * fs)
        step = round((tr.t_s[1] - tr.t_s[0]) * fs)  # samples per envelope point
        t, env = calf_envelope(x[i0 : i0 + len(tr.t_s) * step], fs)
        n = min(len(env), len(tr.envelope_uv)) - 10  # the tail depends on the excerpt end
        np.testing.assert_allclose(t[:n] + i0 / fs, tr.t_s[:n])
        np.testing.assert_allclose(env[:n], tr.envelope_uv[:n], rtol=0.05, atol=0.5)


def test_missing_recording_is_a_note_not_an_error(tmp_path):
    spec = NightSpec(start=evening(24), plm_series=((100.0, 4, 20.0),))
    with EventStore(tmp_path / "s.sqlite") as store:
        fill_store(store, spec, recording=tmp_path / "gone.edf")
        fill_store(store, NightSpec(start=evening(24), cramps=(CrampSpec(500.0, 30.0),)))
        report = build_report(store)
    assert report.summary.cramps and not report.traces
    assert any("missing" in n for n in report.notes)


def test_empty_store_and_unknown_night_are_clear_errors(tmp_path, nights):
    with (
        EventStore(tmp_path / "empty.sqlite") as store,
        pytest.raises(CrampwatchError, match="no nights yet"),
    ):
        resolve_night(store, None)
    with EventStore(nights.db, create=False) as store:
        with pytest.raises(CrampwatchError, match="no events or monitoring"):
            resolve_night(store, "2026-10-01")
        with pytest.raises(CrampwatchError, match="--night"):
            resolve_night(store, "yesterday")


def test_envelope_rises_with_the_burst_at_any_rate():
    rng = np.random.default_rng(3)
    for fs in (200.0, 1000.0, 60.0):
        n = int(60 * fs)
        x = rng.standard_normal(n) * 3.0
        x[int(20 * fs) : int(40 * fs)] *= 100.0
        t, env = calf_envelope(x, fs)
        assert len(t) == len(env) and t[-1] < 60.0
        burst = env[(t > 25) & (t < 35)]
        rest = env[(t > 5) & (t < 15)]
        assert burst.min() > 10 * rest.max()
    assert calf_envelope(np.zeros(0), 200.0)[0].size == 0


def test_quiet_nights_count_only_when_monitored_for_an_hour(tmp_path):
    long_quiet = NightSpec(start=evening(22), hours=6.0)
    short_status = NightSpec(start=evening(23), hours=0.1)  # an accelerated demo replay
    busy = NightSpec(start=evening(20), positions=(10.0,))
    with EventStore(tmp_path / "s.sqlite") as store:
        for spec in (long_quiet, short_status, busy):
            fill_store(store, spec)
        assert known_nights(store) == [busy.night, long_quiet.night]
        assert resolve_night(store, None) == long_quiet.night
        assert resolve_night(store, short_status.night) == short_status.night  # asked for
        report = build_report(store)
    assert report.summary.empty and report.summary.window_s == pytest.approx(6 * 3600)


def test_two_legs_two_recordings(tmp_path):
    """One sensor set per leg: each cramp is plotted from its own leg's recording."""
    left = NightSpec(start=evening(24), cramps=(CrampSpec(700.0, 40.0),), positions=(5.0,))
    right = NightSpec(
        start=evening(24), device_id="calf-right", leg="right", cramps=(CrampSpec(1900.0, 30.0),)
    )
    with EventStore(tmp_path / "s.sqlite") as store:
        for spec in (left, right):
            rec = write_recording(tmp_path / f"{spec.device_id}.edf", spec)
            fill_store(store, spec, rec)
        report = build_report(store)
    s = report.summary
    assert s.devices == ("calf-left", "calf-right")
    assert [c.leg for c in s.cramps] == ["left", "right"]
    assert set(report.traces) == {c.event_id for c in s.cramps} and not report.notes
    for c in s.cramps:
        tr = report.traces[c.event_id]
        inside = (tr.t_s > c.onset_s + 2) & (tr.t_s < c.end_s - 2)
        assert np.median(tr.envelope_uv[inside]) > 50  # the burst is in this leg's file


def test_peak_comes_from_the_recording_when_the_event_has_none(tmp_path):
    spec = NightSpec(start=evening(24), cramps=(CrampSpec(700.0, 40.0, peak_uv=250.0),))
    first, updates = night_events(spec)
    with EventStore(tmp_path / "s.sqlite") as store:
        store.upsert(replace(first[0], details={}))
        store.upsert(replace(updates[0], details={"duration_s": 40.0}))  # no peak_uv
        store.add_recording(spec.device_id, spec.night, write_recording(tmp_path / "r.edf", spec))
        (c,) = build_report(store).summary.cramps
    # the synthetic burst is Gaussian with SD 250 µV: its 0.5-s RMS stays near 250
    assert 200.0 < c.peak_uv < 320.0
