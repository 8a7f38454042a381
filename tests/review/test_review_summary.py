"""NightSummary from stored events: counts, PLM index and band, good signal, cramps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crampwatch.consumers.store import EventStore, StoredEvent
from crampwatch.events import Event
from crampwatch.review.summary import (
    NightSummary,
    alert_latency_s,
    clock_time,
    cramp_nights,
    format_duration,
    frequent_cramps,
    issue_kind,
    issue_label,
    merge_spans,
    plm_band,
    summarize_night,
)
from review.nightgen import CrampSpec, NightSpec, busy_night, evening, fill_store, night_events


def stored(spec: NightSpec, tmp_path) -> tuple[list[StoredEvent], list]:
    with EventStore(tmp_path / "s.sqlite") as store:
        fill_store(store, spec)
        return store.events(spec.night), store.status_history()


@pytest.mark.parametrize(
    ("index", "key"),
    [(0.0, "normal"), (14.99, "normal"), (15.0, "mild"), (29.9, "mild"), (30.0, "moderate"),
     (49.99, "moderate"), (50.0, "severe"), (400.0, "severe")],
)  # fmt: skip
def test_plm_band_edges(index, key):
    assert plm_band(index)[0] == key


def test_plm_band_wording_is_information_with_units():
    for i in (3.0, 20.0, 40.0, 60.0):
        text = plm_band(i)[1]
        assert "/h" in text and "range" in text


@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 100)), max_size=20))
def test_merge_spans_covers_exactly_the_union(raw):
    spans = [(a, a + d) for a, d in raw]
    merged = merge_spans(spans)
    assert all(a < b for a, b in merged)
    assert all(b1 < a2 for (_, b1), (a2, _) in pairwise(merged))
    probes = [a for a, _ in spans] + [(a + b) / 2 for a, b in spans] + [b + 1e-6 for _, b in spans]
    for p in probes:
        assert any(a <= p < b for a, b in spans) == any(a <= p < b for a, b in merged)


def test_busy_night_counts_and_rates(tmp_path):
    spec = busy_night()
    events, status = stored(spec, tmp_path)
    s = summarize_night(spec.night, events, status)
    assert s.window_source == "status"
    assert s.window_s == pytest.approx(spec.duration_s)
    assert len(s.cramps) == len(spec.cramps)
    assert len(s.real_cramps) == sum(c.label != "not_a_cramp" for c in spec.cramps)
    assert s.n_leg_movements == spec.n_lms
    assert s.n_periodic == spec.n_periodic
    assert s.plm_index == pytest.approx(spec.n_periodic / spec.hours)
    assert len(s.position_changes_s) == len(spec.positions)
    assert len(s.dropouts) == len(spec.issues)
    bad = sum(b - a for a, b, _ in spec.issues)
    assert s.good_fraction == pytest.approx(1 - bad / spec.duration_s)
    assert s.short  # a one-hour night


def test_cramp_details_latency_and_feedback(tmp_path):
    spec = busy_night()
    events, status = stored(spec, tmp_path)
    s = summarize_night(spec.night, events, status)
    for got, want in zip(s.cramps, sorted(spec.cramps, key=lambda c: c.onset_s), strict=True):
        assert got.onset_s == want.onset_s
        assert got.duration_s == pytest.approx(want.duration_s)
        assert got.peak_uv == pytest.approx(want.peak_uv)
        assert got.alert_latency_s == pytest.approx(want.latency_s)
        assert got.acknowledged == (want.label == "acknowledged")
        assert got.not_a_cramp == (want.label == "not_a_cramp")
        assert got.leg == spec.leg


def test_alert_latency_degrades_gracefully():
    assert alert_latency_s({"alert_after_s": 3.0}, 100.0, 200.0, True) == 3.0
    # only the key the detector writes: no aliases
    assert alert_latency_s({"alert_latency_s": 3.0}, 100.0, 200.0, True) is None
    assert alert_latency_s({}, 100.0, 107.0, ended=False) == 7.0  # the onset record itself
    assert alert_latency_s({}, 100.0, 200.0, ended=True) is None  # end update only: unknown
    # last resort: logger receipt minus wall-clock onset, plausible only for a live night
    assert alert_latency_s({}, 100.0, 200.0, True, received_delay_s=8.0) == 8.0
    assert alert_latency_s({}, 100.0, 200.0, True, received_delay_s=-300.0) is None
    assert alert_latency_s({}, 100.0, 200.0, True, received_delay_s=5000.0) is None


def test_live_alert_delay_from_the_time_the_logger_received_the_onset(tmp_path):
    spec = NightSpec(start=evening(24), cramps=(CrampSpec(600.0, 30.0),))
    first, _ = night_events(spec)
    onset = replace(first[0], details={})  # as the detector sends it: no latency detail
    end = onset.with_end(630.0, 631.0)
    with EventStore(tmp_path / "s.sqlite") as store:
        store.upsert(onset, received_at=spec.start + timedelta(seconds=600 + 6.5))
        store.upsert(end, received_at=spec.start + timedelta(seconds=632))
        (c,) = summarize_night(spec.night, store.events(spec.night), []).cramps
    assert c.alert_latency_s == pytest.approx(6.5)


def test_offline_stretch_is_a_dropout_and_not_monitoring_time(tmp_path):
    spec = NightSpec(
        start=evening(24), hours=2.0, plm_series=((600.0, 10, 20.0),), offline=(3600.0, 4500.0)
    )
    events, status = stored(spec, tmp_path)
    s = summarize_night(spec.night, events, status)
    assert [d.kind for d in s.dropouts] == ["offline"]
    assert s.online_s == pytest.approx(spec.duration_s - 900.0)
    assert s.plm_index == pytest.approx(10 / ((spec.duration_s - 900.0) / 3600))
    # good signal is a share of the monitored time; the gap is shown as not monitored
    assert s.good_fraction == 1.0
    assert s.monitored == ((0.0, 3600.0), (4500.0, spec.duration_s))


def test_night_cut_short_and_ongoing_cramp(tmp_path):
    """The sensor went offline during a cramp: no end update ever came."""
    spec = NightSpec(start=evening(24), hours=0.5, cramps=(CrampSpec(1700.0, 60.0),))
    first, _ = night_events(spec)  # the end update never arrives
    with EventStore(tmp_path / "s.sqlite") as store:
        for e in first:
            store.upsert(e)
        store.add_status(spec.device_id, "online", at=spec.start)
        store.add_status(spec.device_id, "offline", at=spec.start + timedelta(seconds=1750))
        s = summarize_night(spec.night, store.events(spec.night), store.status_history())
    (c,) = s.cramps
    assert c.ongoing and c.duration_s is None
    assert c.alert_latency_s == pytest.approx(spec.cramps[0].latency_s)
    assert s.window_end_s == pytest.approx(1750.0)
    assert s.short


def test_status_of_an_accelerated_replay_is_not_used(tmp_path):
    """Status times in real time that do not contain the events fall back to events."""
    spec = NightSpec(start=evening(24), hours=1.0, positions=(100.0, 3000.0), status=False)
    with EventStore(tmp_path / "s.sqlite") as store:
        fill_store(store, spec)
        t = spec.start + timedelta(seconds=50)  # a 20-s "night" in real time
        store.add_status(spec.device_id, "online", at=t)
        store.add_status(spec.device_id, "offline", at=t + timedelta(seconds=20))
        s = summarize_night(spec.night, store.events(spec.night), store.status_history())
    assert s.window_source == "events"
    assert s.window_end_s >= 3000.0


def test_recording_gives_the_window_without_status(tmp_path):
    spec = NightSpec(start=evening(24), hours=1.0, positions=(100.0,), status=False)
    events, status = stored(spec, tmp_path)
    s = summarize_night(spec.night, events, status, recording=(spec.start, 7200.0))
    assert s.window_source == "recording"
    assert s.window_s == 7200.0
    assert s.origin == spec.start


def test_empty_night_from_status_only(tmp_path):
    spec = NightSpec(start=evening(24), hours=7.0)
    events, status = stored(spec, tmp_path)
    s = summarize_night(spec.night, events, status)
    assert s.empty and not s.cramps and s.n_leg_movements == 0
    assert s.window_s == pytest.approx(spec.duration_s)
    assert s.good_fraction == 1.0 and s.plm_index == 0.0
    assert plm_band(s.plm_index)[0] == "normal"


def test_nothing_at_all():
    s = summarize_night("2026-11-24", [], [])
    assert s.window_source == "none" and s.window_s == 0 and s.good_fraction == 0.0
    assert s.plm_index == 0.0


def test_ongoing_signal_issue_lasts_until_the_end(tmp_path):
    e = Event("x", "dev", "signal_issue", 1000.0, None, 1001.0, 1.0, details={"kind": "mains"})
    s = summarize_night("2026-11-24", [StoredEvent(e, "2026-11-24", "", ())], [], (None, 2000.0))
    (d,) = s.dropouts
    assert d.end_s == 2000.0 and d.label == "mains interference"
    assert s.good_fraction == pytest.approx(0.5)


def test_clock_time_wall_clock_and_elapsed(tmp_path):
    spec = NightSpec(start=datetime(2026, 11, 24, 23, 0, tzinfo=UTC), positions=(90.0,))
    events, status = stored(spec, tmp_path)
    s = summarize_night(spec.night, events, status)
    assert clock_time(s, 3600.0, UTC) == "00:00"
    bare = summarize_night("2026-11-24", [], [], (None, 100.0))
    assert clock_time(bare, 3 * 3600 + 5 * 60, UTC) == "+3:05"


@pytest.mark.parametrize(
    ("s", "text"),
    [(None, "—"), (42.4, "42 s"), (185, "3 min 05 s"), (7.5 * 3600 + 120, "7 h 32 min")],
)
def test_format_duration(s, text):
    assert format_duration(s) == text


def _night_with(day: int, n_cramps: int, tmp_path) -> NightSummary:
    spec = NightSpec(
        start=evening(day), cramps=tuple(CrampSpec(100.0 + 200 * k, 20.0) for k in range(n_cramps))
    )
    with EventStore(tmp_path / f"{day}.sqlite") as store:
        fill_store(store, spec)
        return summarize_night(spec.night, store.events(spec.night), store.status_history())


def test_cramps_on_several_nights_a_week(tmp_path):
    # nights 10 (outside the week), 15, 18, 20, 21 with cramps on 10, 15, 18, 21
    nights = {10: 2, 15: 1, 18: 3, 20: 0, 21: 1}
    history = [_night_with(d, n, tmp_path) for d, n in nights.items()]
    assert cramp_nights(history) == (3, 4)  # the 7 days ending on the 21st: 15, 18, 20, 21
    assert frequent_cramps(history)
    assert not frequent_cramps(history[:-1])  # up to the 20th: 15 and 18 only
    assert cramp_nights([]) == (0, 0)


@pytest.mark.parametrize(
    ("details", "label"),
    [
        ({"kind": "electrode_off"}, "electrode off or loose"),
        ({"kind": "mains", "channel": "calf"}, "mains interference (calf)"),
        ({"kind": "no_data", "channel": "all"}, "no data"),
        ({"kind": "gap", "channel": "tib"}, "data gap (tibialis)"),
        ({"kind": "sequence", "channel": "all"}, "data gap (packets lost)"),
        ({"kind": "reconnect", "channel": "all"}, "sensor disconnected"),
        ({"reason": "mains"}, "signal issue"),  # the contract's key is kind
        ({"kind": "new_thing"}, "new thing"),
        ({}, "signal issue"),
    ],
)
def test_issue_wording_from_details(details, label):
    assert issue_label(issue_kind(details)) == label


def test_the_review_has_words_for_exactly_the_kinds_that_are_emitted():
    from crampwatch.events import SignalIssueKind
    from crampwatch.review.summary import _ISSUE_LABELS, OFFLINE

    # every kind in words; no words for a kind nothing emits (the review's own
    # "offline" drop-out aside)
    assert set(_ISSUE_LABELS) - {OFFLINE} == set(SignalIssueKind)
    assert all(_ISSUE_LABELS.values())
