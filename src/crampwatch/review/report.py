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
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import edfio
import numpy as np

from crampwatch.consumers.store import EventStore, StoredEvent, night_bounds, night_of, parse_night
from crampwatch.errors import CrampwatchError
from crampwatch.events import Event
from crampwatch.publish import topics
from crampwatch.recordings.channels import match_roles, unit_scale
from crampwatch.review.envelope import calf_envelope
from crampwatch.review.summary import CrampSummary as Cramp
from crampwatch.review.summary import NightSummary, parse_iso, summarize_night

__all__ = [
    "CrampTrace",
    "NightReport",
    "Recording",
    "build_report",
    "build_reports",
    "known_nights",
    "night_devices",
    "night_recordings",
    "night_summary",
    "open_recording",
    "recording_span",
    "resolve_night",
    "same_run",
]

log = logging.getLogger(__name__)

HISTORY_NIGHTS = 14
# A night with status messages but no event counts as a (quiet) night only when the
# sensor was online this long: an accelerated replay (the demo) publishes its status in
# real time, minutes long, on a different date than its simulated events.
MIN_QUIET_NIGHT_S = 3600.0
# A recording belongs to a run when its header's start is this close to the run's second 0.
RUN_MATCH_S = 2.0
# Only recordings are ever read: a forged registration must not make the review open
# any other file.
RECORDING_SUFFIXES = (".edf", ".bdf")
# Seconds of calf envelope shown before a cramp's onset and after its end.
TRACE_BEFORE_S = 60.0
TRACE_AFTER_S = 60.0


@dataclass(frozen=True, eq=False)
class CrampTrace:
    """Calf EMG envelope around one cramp: recording seconds and µV."""

    event_id: str
    t_s: np.ndarray
    envelope_uv: np.ndarray


@dataclass(frozen=True)
class Recording:
    """A registered night recording: its device, path and header's (start, duration s)."""

    device_id: str
    path: str
    start: datetime | None
    duration_s: float


@dataclass(frozen=True, eq=False)
class NightReport:
    """One device's night ready to render: its summary, events, traces, the last nights."""

    summary: NightSummary
    events: tuple[StoredEvent, ...]
    history: tuple[NightSummary, ...]
    traces: Mapping[str, CrampTrace] = field(default_factory=dict)
    recordings: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    device_id: str | None = None
    # what ran on the night's recordings' channels, one line each (detect.legs)
    modes: tuple[str, ...] = ()


def _online_s_by_night(
    status: Sequence[tuple[str, str, str]], tz: tzinfo | None = None
) -> dict[str, float]:
    """Seconds online per night (wall clock of the status messages), all devices."""
    out: dict[str, float] = {}
    since: dict[str, datetime] = {}
    for device, st, at in sorted(status, key=lambda r: r[2]):
        t = parse_iso(at)
        if t is None:
            continue
        out.setdefault(night_of(t, tz), 0.0)
        if st == "online":
            since.setdefault(device, t)
        elif st in (topics.OFFLINE, topics.STOPPED) and device in since:
            start = since.pop(device)
            n = night_of(start, tz)
            out[n] = out.get(n, 0.0) + (t - start).total_seconds()
    return out


def known_nights(
    store: EventStore,
    *,
    min_quiet_s: float = MIN_QUIET_NIGHT_S,
    tz: tzinfo | None = None,
    device_id: str | None = None,
) -> list[str]:
    """Nights with events, and quiet nights (status only) monitored for at least
    ``min_quiet_s`` seconds, oldest first (of one device, if given)."""
    nights = set(store.nights(tz, device_id))
    for night, online_s in _online_s_by_night(store.status_history(device_id), tz).items():
        if online_s >= min_quiet_s:
            nights.add(night)
    return sorted(nights)


def night_devices(store: EventStore, night: str, tz: tzinfo | None = None) -> list[str]:
    """Devices with events (or monitoring status) in ``night``, sorted."""
    devices = {se.event.device_id for se in store.events(night, tz=tz)}
    lo, hi = night_bounds(night, tz)
    for device, _st, at in store.status_history():
        t = parse_iso(at)
        if t is not None and lo <= t.timestamp() < hi:
            devices.add(device)
    return sorted(devices)


def resolve_night(
    store: EventStore,
    night: str | None,
    tz: tzinfo | None = None,
    device_id: str | None = None,
) -> str:
    """The night to review: ``night`` (YYYY-MM-DD) if it was monitored, else the last one.

    Raises :class:`CrampwatchError` with a clear message when there is nothing to show.
    """
    nights = known_nights(store, tz=tz, device_id=device_id)
    if not nights:
        whose = f" of device {device_id!r}" if device_id else ""
        raise CrampwatchError(
            f"the event store {store.path} has no nights{whose} yet (run the logger or demo first)"
        )
    if night is None:
        return nights[-1]
    night = parse_night(night)
    if night not in nights and night not in known_nights(
        store, min_quiet_s=0.0, tz=tz, device_id=device_id
    ):
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


def recording_span(path: Path) -> tuple[datetime | None, float] | None:
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


def recording_mode(path: Path) -> str | None:
    """What detection runs on the recording's channels, in one line (as ``detect`` and
    ``run`` say it); None if the header cannot be read or matched."""
    from crampwatch.detect.legs import detection_mode

    try:
        signals = open_recording(path).signals
        keys = match_roles([s.label for s in signals], source=str(path))
    except Exception as exc:  # the rest of the report still helps
        log.warning("cannot read the channels of %s: %s", path, exc)
        return None
    return detection_mode(list(keys)).line


def same_run(event: Event, start: datetime | None) -> bool:
    """True when ``event`` belongs to the run recorded from wall-clock ``start`` (or
    either has no wall clock)."""
    onset = parse_iso(event.onset_time)
    if onset is None or start is None:
        return True
    return abs((onset - start).total_seconds() - event.onset_s) <= RUN_MATCH_S


def night_recordings(
    store: EventStore, night: str, device_id: str | None = None, tz: tzinfo | None = None
) -> list[Recording]:
    """The recordings of ``night`` (of one device, if given) that exist and are EDF/BDF.

    The service files a recording under the night of its start in its own time zone;
    the review may group in another, so the neighbouring nights' registrations count
    when the recording starts inside this night."""
    lo, hi = night_bounds(night, tz)
    d = date.fromisoformat(night)
    out: dict[str, Recording] = {}
    for n in ((d + timedelta(days=k)).isoformat() for k in (-1, 0, 1)):
        for device, p in store.recordings(n):
            path = Path(p)
            if device_id is not None and device != device_id:
                continue
            if path.suffix.lower() not in RECORDING_SUFFIXES or not path.is_file():
                continue
            span = recording_span(path)
            if span is None or p in out:
                continue
            start, duration = span
            inside = start is not None and lo <= start.timestamp() < hi
            if inside or (n == night and start is None):
                out[p] = Recording(device, p, start, duration)
    return list(out.values())


def night_summary(
    store: EventStore, night: str, device_id: str | None = None, tz: tzinfo | None = None
) -> NightSummary:
    """Summary of one stored night (events, status and the recordings' lengths)."""
    return summarize_night(
        night,
        store.events(night, device_id=device_id, tz=tz),
        store.status_history(device_id),
        recordings=[(r.start, r.duration_s) for r in night_recordings(store, night, device_id, tz)],
        tz=tz,
    )


def _recording_of(
    c: Cramp, summary: NightSummary, recordings: Sequence[Recording]
) -> tuple[Recording, float] | None:
    """The recording holding cramp ``c`` and its time 0 in night seconds."""
    mine = [r for r in recordings if r.device_id == c.device_id]
    if not mine and len(recordings) == 1:
        mine = list(recordings)
    if summary.origin is not None:
        for r in mine:
            if r.start is None:
                continue
            offset = (r.start - summary.origin).total_seconds()
            if offset - RUN_MATCH_S <= c.onset_s <= offset + r.duration_s:
                return r, offset
    untimed = [r for r in mine if r.start is None or summary.origin is None]
    return (untimed[0], c.run_offset_s) if len(untimed) == 1 else None


def _traces(
    summary: NightSummary,
    recordings: Sequence[Recording],
    registered: Sequence[tuple[str, str]],
    notes: list[str],
) -> dict[str, CrampTrace]:
    """Calf envelopes around each cramp, from the recording of the cramp's run."""
    out: dict[str, CrampTrace] = {}
    groups: dict[tuple[str, float], list[Cramp]] = {}
    for c in summary.cramps:
        found = _recording_of(c, summary, recordings)
        if found is None:
            gone = [p for d, p in registered if d == c.device_id and not Path(p).is_file()]
            note = (
                f"The recording {gone[0]} is missing: cramp plots are not available."
                if gone
                else f"No recording stored for {c.device_id}: cramp plots are not available."
            )
            if note not in notes:
                notes.append(note)
            continue
        groups.setdefault((found[0].path, found[1]), []).append(c)
    for (path, offset_s), cramps in groups.items():
        try:
            out.update(_cramp_traces(Path(path), cramps, offset_s))
        except CrampwatchError as exc:
            notes.append(f"Cramp plots are not available: {exc}")
        except Exception as exc:  # edfio: damaged file; the rest of the report still helps
            log.warning("cannot read %s: %s", path, exc)
            notes.append(f"The recording {path} could not be read: cramp plots are not available.")
    return out


def _cramp_traces(
    path: Path, cramps: Sequence[Cramp], offset_s: float = 0.0
) -> dict[str, CrampTrace]:
    """Read only the minutes around each cramp of the calf channel (µV) and envelope them.
    ``offset_s``: the recording's time 0 in night seconds (the cramps' clock)."""
    edf = open_recording(path)
    signals = edf.signals
    # the same label matching and unit handling as crampwatch.recordings.read_recording
    roles = match_roles([s.label for s in signals], source=str(path))
    if "emg_calf" not in roles:
        raise CrampwatchError(f"{path} has no calf channel")
    sig = signals[roles["emg_calf"]]
    scale = unit_scale("emg_calf", sig.physical_dimension, source=str(path))
    fs = float(sig.sampling_frequency)
    duration = float(edf.duration)
    out = {}
    for c in cramps:
        onset = c.onset_s - offset_s
        end = (c.end_s - offset_s) if c.end_s is not None else onset + 30.0
        # whole samples, so that the first sample's time is exact
        a = max(0.0, math.floor((onset - TRACE_BEFORE_S) * fs) / fs)
        b = min(duration, math.ceil((end + TRACE_AFTER_S) * fs) / fs)
        if b - a < 2 / fs:
            continue
        x = np.asarray(sig.get_data_slice(a, b), dtype=np.float64) * scale
        t, env = calf_envelope(x, fs)
        out[c.event_id] = CrampTrace(c.event_id, t + a + offset_s, env)
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
    store: EventStore,
    night: str | None = None,
    *,
    history_nights: int = HISTORY_NIGHTS,
    device_id: str | None = None,
    tz: tzinfo | None = None,
) -> NightReport:
    """Everything the terminal summary and the HTML report need for ``night``
    (default: the last monitored night) of ``device_id`` (default: every device of the
    night together, see :func:`build_reports`), with up to ``history_nights`` nights of
    trends."""
    night = resolve_night(store, night, tz, device_id)
    events = store.events(night, device_id=device_id, tz=tz)
    registered = [(d, p) for d, p in store.recordings(night) if device_id is None or d == device_id]
    recordings = night_recordings(store, night, device_id, tz)
    summary = summarize_night(
        night,
        events,
        store.status_history(device_id),
        recordings=[(r.start, r.duration_s) for r in recordings],
        tz=tz,
    )
    notes: list[str] = []
    if not registered and not recordings and summary.cramps:
        notes.append("No recording was stored for this night: cramp plots are not available.")
    traces = _traces(summary, recordings, registered, notes) if registered or recordings else {}
    summary = _peaks_from_traces(summary, traces)
    nights = [n for n in known_nights(store, tz=tz, device_id=device_id) if n <= night]
    history = tuple(
        summary if n == night else night_summary(store, n, device_id, tz)
        for n in nights[-history_nights:]
    )
    pairs = tuple((r.device_id, r.path) for r in recordings)
    modes = tuple(dict.fromkeys(m for r in recordings if (m := recording_mode(Path(r.path)))))
    return NightReport(
        summary, tuple(events), history, traces, pairs, tuple(notes), device_id, modes
    )


def build_reports(
    store: EventStore,
    night: str | None = None,
    *,
    history_nights: int = HISTORY_NIGHTS,
    device_id: str | None = None,
    tz: tzinfo | None = None,
) -> list[NightReport]:
    """One report per device of the night (the devices' nights are never added up);
    only ``device_id``'s when given."""
    if device_id is not None:
        return [
            build_report(store, night, history_nights=history_nights, device_id=device_id, tz=tz)
        ]
    night = resolve_night(store, night, tz)
    devices: list[str | None] = [*night_devices(store, night, tz)] or [None]
    return [
        build_report(store, night, history_nights=history_nights, device_id=d, tz=tz)
        for d in devices
    ]
