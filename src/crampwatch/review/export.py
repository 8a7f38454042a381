"""Exports of a night's events: CSV, JSON, and EDF+ annotations beside the recording.

- JSON: a list of event objects exactly as the event contract (✦) defines them, each
  with two extra keys the schema allows: ``night`` and ``labels`` (the sleeper's
  "acknowledged" / "not_a_cramp" feedback).
- CSV: one row per event, the same fields flattened (details as a JSON string).
- EDF+: a NEW file ``<stem>.events.edf`` next to the raw recording holding its signals,
  its own annotations and one annotation per event, so the night opens with its events
  in EDFbrowser or MNE. The service's night recorder already wrote each event it
  detected as a plain annotation (``leg_movement periodic``); those are replaced by the
  labelled ones, so that every event is annotated once. The raw recording is never
  modified.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import edfio

from crampwatch.consumers.store import StoredEvent
from crampwatch.errors import CrampwatchError
from crampwatch.events import Event, EventType
from crampwatch.recordings import Annotation
from crampwatch.review.report import open_recording
from crampwatch.review.summary import issue_kind, issue_label
from crampwatch.service.recorder import event_annotations

__all__ = [
    "ANNOTATION_PREFIX",
    "CSV_FIELDS",
    "annotation_for",
    "default_annotated_path",
    "events_as_dicts",
    "write_csv",
    "write_edf_annotations",
    "write_json",
]

log = logging.getLogger(__name__)

# Every annotation crampwatch adds starts with this, so its events stand apart from
# the recording's own annotations (e.g. a simulator's ground truth).
ANNOTATION_PREFIX = "crampwatch: "

CSV_FIELDS = (
    "id",
    "night",
    "device_id",
    "leg",
    "type",
    "onset_s",
    "end_s",
    "duration_s",
    "detected_at_s",
    "onset_time",
    "confidence",
    "periodic",
    "labels",
    "details",
)


def events_as_dicts(events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """Event contract dicts, each with ``night`` and ``labels`` added."""
    return [{**se.event.to_dict(), "night": se.night, "labels": list(se.labels)} for se in events]


def _open_for_write(path: Path) -> TextIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise CrampwatchError(f"{path}: cannot write ({exc.strerror or exc})") from None


def write_json(path: str | Path, events: Sequence[StoredEvent]) -> Path:
    """Write the events as a JSON array (see module docstring); return the path."""
    path = Path(path)
    with _open_for_write(path) as f:
        json.dump(events_as_dicts(events), f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


def write_csv(path: str | Path, events: Sequence[StoredEvent]) -> Path:
    """Write the events as CSV with the columns :data:`CSV_FIELDS`; return the path."""
    path = Path(path)
    with _open_for_write(path) as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for d in events_as_dicts(events):
            end = d["end_s"]
            w.writerow(
                {
                    **{k: d.get(k) for k in CSV_FIELDS},
                    "duration_s": "" if end is None else round(end - d["onset_s"], 3),
                    "end_s": "" if end is None else end,
                    "leg": d["leg"] or "",
                    "onset_time": d["onset_time"] or "",
                    "periodic": "" if d.get("periodic") is None else str(d["periodic"]).lower(),
                    "labels": ";".join(d["labels"]),
                    "details": json.dumps(d["details"], sort_keys=True, ensure_ascii=False),
                }
            )
    return path


def annotation_for(event: Event, labels: Sequence[str] = ()) -> Annotation:
    """The EDF+ annotation of one event: onset and duration in recording seconds (None
    for an instantaneous or unfinished event) and a readable text with the prefix."""
    leg = f" ({event.leg})" if event.leg else ""
    if event.type == EventType.LEG_MOVEMENT:
        what = "periodic leg movement" if event.periodic else "leg movement"
    elif event.type == EventType.SIGNAL_ISSUE:
        what = f"signal issue: {issue_label(issue_kind(event.details))}"
    elif event.type == EventType.CRAMP_WARNING:
        what = "calf tightening (cramp warning, no alarm)"
    else:
        what = event.type.replace("_", " ")
    if "not_a_cramp" in labels:
        what += " [not a cramp]"
    elif "acknowledged" in labels:
        what += " [acknowledged]"
    duration = None
    if event.end_s is not None and event.end_s > event.onset_s:
        duration = round(event.end_s - event.onset_s, 3)
    return Annotation(round(event.onset_s, 3), duration, f"{ANNOTATION_PREFIX}{what}{leg}")


def default_annotated_path(recording: str | Path) -> Path:
    """``night.edf`` -> ``night.events.edf`` (``.bdf`` -> ``.events.bdf``) beside it."""
    p = Path(recording)
    suffix = ".bdf" if p.suffix.lower() == ".bdf" else ".edf"
    return p.with_name(f"{p.stem}.events{suffix}")


def write_edf_annotations(
    recording: str | Path, events: Sequence[StoredEvent], out: str | Path | None = None
) -> tuple[Path, int]:
    """Write the recording with the events as EDF+ annotations to ``out`` (default
    ``<stem>.events.edf`` beside it). Events outside the recording are left out (logged).

    The copy is lossless: the raw file's signals (digital values, labels, units, header)
    and its own annotations are kept as they are, which is why this goes through edfio
    directly rather than :func:`crampwatch.recordings.write_edf` (that re-scales to the
    montage's ranges and keeps only known roles). Data is read lazily, as 16-bit
    samples, so a night at 1 kHz stays far below the memory of a float64 copy.

    Returns the written path and the number of event annotations in it.
    """
    src = Path(recording)
    dst = Path(out) if out is not None else default_annotated_path(src)
    if dst.resolve() == src.resolve():
        raise CrampwatchError(f"{dst}: refusing to overwrite the raw recording")
    try:
        raw = open_recording(src)
        duration = float(raw.duration)
    except FileNotFoundError:
        raise CrampwatchError(f"{src}: no such file") from None
    except Exception as exc:  # edfio raises plain ValueError/IndexError on bad files
        raise CrampwatchError(f"{src}: unreadable EDF/BDF ({exc})") from None
    # the recorder's own annotation of each of these events (same onset and text)
    own = {(round(a.onset_s, 3), a.text) for a in event_annotations([se.event for se in events])}
    kept = [a for a in raw.annotations if (round(a.onset, 3), a.text) not in own]
    anns = []
    for se in events:
        a = annotation_for(se.event, se.labels)
        if not 0 <= a.onset_s < duration:
            log.warning(
                "event %s at %.1f s is outside %s; not annotated", se.event.id, a.onset_s, src
            )
            continue
        if a.duration_s is not None and a.onset_s + a.duration_s > duration:
            a = Annotation(a.onset_s, round(duration - a.onset_s, 3), a.text)
        anns.append(edfio.EdfAnnotation(a.onset_s, a.duration_s, a.text))
    copy = _with_annotations(raw, [*kept, *anns])
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        copy.write(dst)
    except OSError as exc:
        raise CrampwatchError(f"{dst}: cannot write ({exc.strerror or exc})") from None
    return dst, len(anns)


def _with_annotations(
    raw: edfio.Edf | edfio.Bdf, annotations: Sequence[edfio.EdfAnnotation]
) -> edfio.Edf | edfio.Bdf:
    """A copy of ``raw`` (EDF or BDF, as it is) with exactly these annotations (EDF+C:
    every viewer shows them)."""
    if isinstance(raw, edfio.Bdf):
        return edfio.Bdf(
            list(raw.signals),
            patient=raw.patient,
            recording=raw.recording,
            starttime=raw.starttime,
            data_record_duration=raw.data_record_duration,
            annotations=annotations,
        )
    return edfio.Edf(
        list(raw.signals),
        patient=raw.patient,
        recording=raw.recording,
        starttime=raw.starttime,
        data_record_duration=raw.data_record_duration,
        annotations=annotations,
    )
