"""Exports: CSV and JSON of the events; EDF+ annotations re-read by pyedflib and edfio."""

from __future__ import annotations

import csv
import hashlib
import json

import edfio
import numpy as np
import pyedflib
import pytest

from crampwatch.consumers.store import EventStore
from crampwatch.events import validate_event
from crampwatch.recordings import Annotation, read_recording, write_edf
from crampwatch.review.export import (
    ANNOTATION_PREFIX,
    CSV_FIELDS,
    annotation_for,
    default_annotated_path,
    write_csv,
    write_edf_annotations,
    write_json,
)


@pytest.fixture(scope="module")
def last_events(nights):
    with EventStore(nights.db, create=False) as store:
        return store.events(nights.last.night)


def test_json_export_is_valid_events_with_feedback(tmp_path, last_events):
    path = write_json(tmp_path / "out" / "events.json", last_events)
    data = json.loads(path.read_text())
    assert len(data) == len(last_events)
    for d, se in zip(data, last_events, strict=True):
        validate_event(d)
        assert d["id"] == se.event.id and d["night"] == se.night
        assert d["labels"] == list(se.labels)
    assert any("not_a_cramp" in d["labels"] for d in data)


def test_csv_export_round_trips_the_fields(tmp_path, last_events):
    path = write_csv(tmp_path / "events.csv", last_events)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_FIELDS
    assert len(rows) == len(last_events)
    for r, se in zip(rows, last_events, strict=True):
        e = se.event
        assert r["id"] == e.id and r["type"] == e.type
        assert float(r["onset_s"]) == pytest.approx(e.onset_s)
        if e.end_s is not None:
            assert float(r["duration_s"]) == pytest.approx(e.end_s - e.onset_s)
        assert json.loads(r["details"]) == e.details


def test_edf_annotations_match_the_events(tmp_path, nights, last_events):
    raw = tmp_path / nights.recording.name
    raw.write_bytes(nights.recording.read_bytes())
    before = hashlib.sha256(raw.read_bytes()).hexdigest()
    out, n = write_edf_annotations(raw, last_events)
    assert out == default_annotated_path(raw) == raw.with_name(raw.stem + ".events.edf")
    assert hashlib.sha256(raw.read_bytes()).hexdigest() == before  # raw left alone
    assert n == len(last_events)

    with pyedflib.EdfReader(str(out)) as f:  # a second EDF library reads what edfio wrote
        onsets, durations, texts = f.readAnnotations()
        labels = f.getSignalLabels()
    ours = [(o, d, t) for o, d, t in zip(onsets, durations, texts, strict=True)
            if t.startswith(ANNOTATION_PREFIX)]  # fmt: skip
    assert len(ours) == len(last_events)
    assert {"EMG Calf", "Acc X"} <= set(labels)
    expected = sorted(
        (annotation_for(se.event, se.labels) for se in last_events),
        key=lambda a: (a.onset_s, a.text),
    )
    for (o, d, t), a in zip(sorted(ours, key=lambda x: (x[0], x[2])), expected, strict=True):
        assert o == pytest.approx(a.onset_s, abs=1e-3)
        assert t == a.text
        if a.duration_s is None:
            assert d < 0  # pyedflib's "no duration"
        else:
            assert d == pytest.approx(a.duration_s, abs=1e-3)
    texts = " ".join(t for _, _, t in ours)
    assert "[not a cramp]" in texts and "periodic leg movement" in texts
    assert edfio.read_edf(out).num_signals == edfio.read_edf(raw).num_signals


def test_copy_is_lossless_and_keeps_the_recordings_own_annotations(tmp_path, nights, last_events):
    rec = read_recording(nights.recording)
    raw = write_edf(tmp_path / "truth.edf", rec, [Annotation(42.0, 3.0, "truth: cramp")])
    out, _ = write_edf_annotations(raw, last_events)
    before, after = edfio.read_edf(raw), edfio.read_edf(out)
    assert ("truth: cramp", 42.0) in [(a.text, a.onset) for a in after.annotations]
    assert after.labels == before.labels
    for a, b in zip(after.signals, before.signals, strict=True):
        assert a.physical_dimension == b.physical_dimension
        np.testing.assert_array_equal(a.digital, b.digital)


def test_events_outside_the_recording_are_left_out(tmp_path, nights, last_events):
    from dataclasses import replace

    late = replace(last_events[0], event=replace(last_events[0].event, onset_s=1e6, end_s=None))
    out, n = write_edf_annotations(nights.recording, [late], tmp_path / "x.edf")
    assert n == 0 and out.is_file()


def test_refuses_to_overwrite_the_raw_recording(nights, last_events):
    from crampwatch.errors import CrampwatchError

    with pytest.raises(CrampwatchError, match="refusing"):
        write_edf_annotations(nights.recording, last_events, nights.recording)


def test_each_event_is_annotated_once_when_the_recorder_already_wrote_it(
    tmp_path, nights, last_events
):
    """The night recorder writes every detected event into the recording as a plain
    annotation; the export replaces those with its labelled ones instead of adding."""
    from crampwatch.service.recorder import event_annotations

    rec = read_recording(nights.recording)
    own = event_annotations([se.event for se in last_events])
    truth = Annotation(42.0, 3.0, "cramp")  # ground truth with the same words is kept
    raw = write_edf(tmp_path / "night.edf", rec, [*own, truth])
    out, n = write_edf_annotations(raw, last_events)
    texts = [(round(a.onset, 3), a.text) for a in edfio.read_edf(out).annotations]
    assert n == len(last_events) == len(own)
    assert len(texts) == len(last_events) + 1
    assert (42.0, "cramp") in texts
    assert all(t.startswith(ANNOTATION_PREFIX) for _, t in texts if _ != 42.0)
