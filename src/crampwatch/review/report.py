"""Gather what the morning review shows: the store's events and status, the night's
recording, the last nights for the trends. This is the I/O edge of the review; the
numbers come from :mod:`crampwatch.review.summary`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import edfio
import numpy as np

from crampwatch.consumers.store import EventStore, StoredEvent, night_of, parse_night
from crampwatch.errors import CrampwatchError
from crampwatch.recordings.channels import match_roles, unit_scale
from crampwatch.review.envelope import calf_envelope
from crampwatch.review.summary import CrampSummary as Cramp
from crampwatch.review.summary import NightSummary, parse_iso, summarize_night

__all__ = [
    "CrampTrace",
    "NightReport",
    "build_report",
    "known_nights",
    "night_summary",
    "open_recording",
    "resolve_night",
]

log = logging.getLogger(__name__)

HISTORY_NIGHTS = 14
# A night with status messages but no event counts as a (quiet) night only when the
# sensor was online this long: an accelerated replay (the demo) publishes its status in
# real time, minutes long, on a different date than its simulated events.
MIN_QUIET_NIGHT_S = 3600.0
# Seconds of calf envelope shown before a cramp's onset and after its end.
TRACE_BEFORE_S = 60.0
TRACE_AFTER_S = 60.0


@dataclass(frozen=True, eq=False)
class CrampTrace:
    """Calf EMG envelope around one cramp: recording seconds and µV."""

    event_id: str
    t_s: np.ndarray
    envelope_uv: np.ndarray


@dataclass(frozen=True, eq=False)
class NightReport:
    """One night ready to render: its summary, events, traces and the last nights."""

    summary: NightSummary
    events: tuple[StoredEvent, ...]
    history: tuple[NightSummary, ...]
    traces: Mapping[str, CrampTrace] = field(default_factory=dict)
    recordings: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()


def _online_s_by_night(status: Sequence[tuple[str, str, str]]) -> dict[str, float]:
    """Seconds online per night (wall clock of the status messages), all devices."""
    out: dict[str, float] = {}
    since: dict[str, datetime] = {}
    for device, st, at in sorted(status, key=lambda r: r[2]):
        t = parse_iso(at)
        if t is None:
            continue
        out.setdefault(night_of(t), 0.0)
        if st == "online":
            since.setdefault(device, t)
        elif st == "offline" and device in since:
            start = since.pop(device)
            out[night_of(start)] = out.get(night_of(start), 0.0) + (t - start).total_seconds()
    return out


def known_nights(store: EventStore, *, min_quiet_s: float = MIN_QUIET_NIGHT_S) -> list[str]:
    """Nights with events, and quiet nights (status only) monitored for at least
    ``min_quiet_s`` seconds, oldest first."""
    nights = set(store.nights())
    for night, online_s in _online_s_by_night(store.status_history()).items():
        if online_s >= min_quiet_s:
            nights.add(night)
    return sorted(nights)


def resolve_night(store: EventStore, night: str | None) -> str:
    """The night to review: ``night`` (YYYY-MM-DD) if it was monitored, else the last one.

    Raises :class:`CrampwatchError` with a clear message when there is nothing to show.
    """
    nights = known_nights(store)
    if not nights:
        raise CrampwatchError(
            f"the event store {store.path} has no nights yet (run the logger or demo first)"
        )
    if night is None:
        return nights[-1]
    night = parse_night(night)
    if night not in nights and night not in known_nights(store, min_quiet_s=0.0):
        shown = ", ".join(nights[-5:])
        raise CrampwatchError(
            f"no events or monitoring for the night of {night} in {store.path}"
            f" (nights there: {shown})"
        )
    return night


def open_recording(path: Path) -> edfio.Edf | edfio.Bdf:
    """The recording with its header read and (EDF) its data left on disk: a night at
    1 kHz is hundreds of MB as float64, the review needs a few minutes of it."""
    with path.open("rb") as f:
        bdf = f.read(8) == b"\xffBIOSEMI"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if bdf:
            return edfio.read_bdf(path, header_encoding="latin-1")
        return edfio.read_edf(path, lazy_load_data=True, header_encoding="latin-1")


def _recording_span(path: Path) -> tuple[datetime | None, float] | None:
    """(wall-clock start, duration s) from the EDF/BDF header; None if unreadable."""
    try:
        edf = open_recording(path)
        duration = float(edf.duration)
        try:
            start = edf.startdatetime.replace(tzinfo=UTC)  # crampwatch writes UTC
        except Exception:  # anonymised start date
            start = None
    except Exception as exc:
        log.warning("cannot read recording header %s: %s", path, exc)
        return None
    return start, duration


def _main_recording(store: EventStore, night: str) -> tuple[datetime | None, float] | None:
    spans = [
        s
        for _, p in store.recordings(night)
        if Path(p).is_file() and (s := _recording_span(Path(p)))
    ]
    return max(spans, key=lambda s: s[1], default=None)


def night_summary(store: EventStore, night: str) -> NightSummary:
    """Summary of one stored night (events, status and the recording's length)."""
    return summarize_night(
        night, store.events(night), store.status_history(), _main_recording(store, night)
    )


def _traces(
    summary: NightSummary, recordings: Sequence[tuple[str, str]], notes: list[str]
) -> dict[str, CrampTrace]:
    """Calf envelopes around each cramp, from the recording of the cramp's device."""
    out: dict[str, CrampTrace] = {}
    if not summary.cramps:
        return out
    by_device: dict[str, str] = {}
    for device, p in recordings:
        by_device.setdefault(device, p)
    for device in sorted({c.device_id for c in summary.cramps}):
        path = by_device.get(device) or (recordings[0][1] if len(recordings) == 1 else None)
        if path is None:
            notes.append(f"No recording stored for {device}: cramp plots are not available.")
            continue
        if not Path(path).is_file():
            notes.append(f"The recording {path} is missing: cramp plots are not available.")
            continue
        cramps = [c for c in summary.cramps if c.device_id == device]
        try:
            out.update(_cramp_traces(Path(path), cramps))
        except CrampwatchError as exc:
            notes.append(f"Cramp plots are not available: {exc}")
        except Exception as exc:  # edfio: damaged file; the rest of the report still helps
            log.warning("cannot read %s: %s", path, exc)
            notes.append(f"The recording {path} could not be read: cramp plots are not available.")
    return out


def _cramp_traces(path: Path, cramps: Sequence[Cramp]) -> dict[str, CrampTrace]:
    """Read only the minutes around each cramp of the calf channel (µV) and envelope them."""
    edf = open_recording(path)
    signals = edf.signals
    # the same label matching and unit handling as crampwatch.recordings.read_recording
    sig = signals[match_roles([s.label for s in signals], source=str(path))["emg_calf"]]
    scale = unit_scale("emg_calf", sig.physical_dimension, source=str(path))
    fs = float(sig.sampling_frequency)
    duration = float(edf.duration)
    out = {}
    for c in cramps:
        end = c.end_s if c.end_s is not None else c.onset_s + 30.0
        # whole samples, so that the first sample's time is exact
        a = max(0.0, math.floor((c.onset_s - TRACE_BEFORE_S) * fs) / fs)
        b = min(duration, math.ceil((end + TRACE_AFTER_S) * fs) / fs)
        if b - a < 2 / fs:
            continue
        x = np.asarray(sig.get_data_slice(a, b), dtype=np.float64) * scale
        t, env = calf_envelope(x, fs)
        out[c.event_id] = CrampTrace(c.event_id, t + a, env)
    return out


def _peaks_from_traces(summary: NightSummary, traces: Mapping[str, CrampTrace]) -> NightSummary:
    """Cramps whose events carry no ``peak_uv`` get the peak of the calf envelope during
    the cramp (µV RMS over 0.5 s), read from the recording."""
    cramps = []
    for c in summary.cramps:
        tr = traces.get(c.event_id)
        if c.peak_uv is None and tr is not None:
            end = c.end_s if c.end_s is not None else tr.t_s[-1]
            inside = tr.envelope_uv[(tr.t_s >= c.onset_s) & (tr.t_s <= end)]
            if inside.size:
                c = replace(c, peak_uv=float(inside.max()))
        cramps.append(c)
    return replace(summary, cramps=tuple(cramps))


def build_report(
    store: EventStore, night: str | None = None, *, history_nights: int = HISTORY_NIGHTS
) -> NightReport:
    """Everything the terminal summary and the HTML report need for ``night``
    (default: the last monitored night), with up to ``history_nights`` nights of trends."""
    night = resolve_night(store, night)
    events = store.events(night)
    recordings = tuple(store.recordings(night))
    summary = night_summary(store, night)
    notes: list[str] = []
    if not recordings and summary.cramps:
        notes.append("No recording was stored for this night: cramp plots are not available.")
    traces = _traces(summary, recordings, notes) if recordings else {}
    summary = _peaks_from_traces(summary, traces)
    nights = [n for n in known_nights(store) if n <= night][-history_nights:]
    history = tuple(summary if n == night else night_summary(store, n) for n in nights)
    return NightReport(summary, tuple(events), history, traces, recordings, tuple(notes))
