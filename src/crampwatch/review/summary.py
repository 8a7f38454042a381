"""One night, summarised: stored events and monitoring status in, a ``NightSummary`` out.

Pure functions, no I/O. Each event's times are seconds of its own run (the sample clock
from the start of the recording or monitoring run); a night may hold several runs (a
restart, a crash and systemd's restart, a second replay), each with its own second 0
(``onset_time - onset_s``). The summary puts them all on one clock, *night seconds*
from the earliest run's start, ``NightSummary.origin`` (wall clock, when known), so the
renderers print true clock times.

Where the numbers come from:

- **monitored time**: the union of the runs. Each run spans the service's
  ``online``/``offline`` status when that agrees with the events (an accelerated replay
  does not: its status times are real time, its events recording time), else its
  recording, else its events from its second 0. Gaps between runs were not monitored
  and are shown as such;
- **good signal**: the monitored time minus the union of ``signal_issue`` spans;
- **PLM index**: periodic leg movements per hour of monitoring time (time online), with
  the usual clinical bands (< 15, 15-29.9, 30-49.9, >= 50 /h). It is information for a
  conversation with a doctor, not a diagnosis: a sleep lab scores it per hour of sleep
  on a polysomnogram.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from crampwatch.consumers.store import StoredEvent, group_runs, night_of
from crampwatch.detect.wasm import plm_index
from crampwatch.events import EventType, SignalIssueKind, parse_iso
from crampwatch.publish import topics

__all__ = [
    "PLM_BANDS",
    "CrampSummary",
    "Dropout",
    "NightSummary",
    "alert_latency_s",
    "clock_time",
    "cramp_nights",
    "format_duration",
    "frequent_cramps",
    "issue_kind",
    "issue_label",
    "merge_spans",
    "monitored_text",
    "parse_iso",
    "plm_band",
    "summarize_night",
    "warnings_text",
]

# Upper bound (exclusive, per hour) and wording of each PLM-index band. Worded as
# information about a number, never as a finding about the person.
PLM_BANDS: tuple[tuple[float, str, str], ...] = (
    (15.0, "normal", "below 15 /h (within the usual range)"),
    (30.0, "mild", "15–29.9 /h (mild range)"),
    (50.0, "moderate", "30–49.9 /h (moderate range)"),
    (math.inf, "severe", "≥ 50 /h (severe range)"),
)

# Nights with cramps in a week from which the report suggests seeing a doctor.
FREQUENT_CRAMP_NIGHTS = 3
# A night shorter than this makes per-hour figures shaky; the report says so.
SHORT_NIGHT_S = 4 * 3600.0
# Status times converted to recording time must agree with the events this closely,
# otherwise they belong to an accelerated replay and are not used for the window.
_STATUS_TOLERANCE_S = 120.0
# A status-only run (no event, no recording) counts when it lasted this long: a quiet
# night; shorter ones are the real-time status of an accelerated replay.
QUIET_RUN_S = 600.0
# A live alert takes seconds; a larger receipt delay means a replay or a backlog.
_MAX_RECEIVED_DELAY_S = 600.0

# The review's own drop-out kind: time between runs, when no service was watching.
OFFLINE = "offline"

# Words for every signal_issue ``details.kind`` (tests/review: exactly the kinds of
# SignalIssueKind) and for the review's own drop-out kind.
_ISSUE_LABELS = {
    SignalIssueKind.ELECTRODE_OFF: "electrode off or loose",
    SignalIssueKind.MAINS: "mains interference",
    SignalIssueKind.SATURATION: "signal saturated",
    SignalIssueKind.POOR_QUALITY: "poor signal",
    SignalIssueKind.GAP: "data gap",
    SignalIssueKind.SEQUENCE: "data gap (packets lost)",
    SignalIssueKind.RECONNECT: "sensor disconnected",
    SignalIssueKind.NO_DATA: "no data",
    SignalIssueKind.BATTERY_LOW: "battery low",
    SignalIssueKind.STORAGE_FAILED: "storage failed",
    OFFLINE: "not monitored (service not running)",
}
_CHANNELS = {"calf": "calf", "emg_calf": "calf", "tib": "tibialis", "emg_tibialis": "tibialis"}

Span = tuple[float, float]


@dataclass(frozen=True)
class CrampSummary:
    """One cramp of the night. Times in recording seconds, intensity in µV."""

    event_id: str
    device_id: str
    leg: str | None
    onset_s: float
    end_s: float | None
    duration_s: float | None
    peak_uv: float | None
    median_uv: float | None
    alert_latency_s: float | None
    confidence: float
    acknowledged: bool
    not_a_cramp: bool
    # night seconds of the second 0 of this cramp's run (its recording's time 0)
    run_offset_s: float = 0.0

    @property
    def ongoing(self) -> bool:
        """True when no end was ever received (monitoring stopped during the cramp)."""
        return self.end_s is None

    @property
    def response(self) -> str:
        """What the sleeper did with the alert, in words."""
        if self.not_a_cramp:
            return "marked “not a cramp”"
        if self.acknowledged:
            return "acknowledged"
        return "no response"


@dataclass(frozen=True)
class Dropout:
    """A stretch without usable signal (recording seconds)."""

    kind: str
    device_id: str
    leg: str | None
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def label(self) -> str:
        return issue_label(self.kind)


@dataclass(frozen=True)
class NightSummary:
    """Everything the review shows about one night (recording seconds, counts, µV)."""

    night: str
    origin: datetime | None
    window_start_s: float
    window_end_s: float
    window_source: str  # "status", "recording", "events" or "none"
    online_s: float
    good_signal_s: float
    cramps: tuple[CrampSummary, ...]
    lm_onsets_s: tuple[float, ...]
    lm_periodic: tuple[bool, ...]
    position_changes_s: tuple[float, ...]
    dropouts: tuple[Dropout, ...]
    bad_spans: tuple[Span, ...]
    devices: tuple[str, ...]
    # the monitored spans (the union of the night's runs); gaps were not monitored
    monitored: tuple[Span, ...] = ()
    # "calf tightening" warnings: informed, woke nobody
    cramp_warnings_s: tuple[float, ...] = ()

    @property
    def window_s(self) -> float:
        """Seconds monitored: the union of the runs (gaps between them not counted)."""
        return self.online_s

    @property
    def good_fraction(self) -> float:
        """Share of the monitored time with good signal, 0..1 (0 when nothing was)."""
        return self.good_signal_s / self.online_s if self.online_s > 0 else 0.0

    @property
    def real_cramps(self) -> tuple[CrampSummary, ...]:
        """Cramps the sleeper did not mark as "not a cramp"."""
        return tuple(c for c in self.cramps if not c.not_a_cramp)

    @property
    def n_leg_movements(self) -> int:
        return len(self.lm_onsets_s)

    @property
    def n_periodic(self) -> int:
        return sum(self.lm_periodic)

    @property
    def plm_index(self) -> float:
        """Periodic leg movements per hour of monitoring (online) time."""
        return plm_index(self.n_periodic, self.online_s / 3600.0)

    @property
    def plm_band(self) -> tuple[str, str]:
        return plm_band(self.plm_index)

    @property
    def lm_intervals_s(self) -> tuple[float, ...]:
        """Onset-to-onset intervals between consecutive leg movements, s."""
        t = self.lm_onsets_s
        return tuple(b - a for a, b in pairwise(t))

    @property
    def short(self) -> bool:
        """True when monitoring covered less than 4 hours."""
        return self.window_s < SHORT_NIGHT_S

    @property
    def empty(self) -> bool:
        return not (
            self.cramps
            or self.cramp_warnings_s
            or self.lm_onsets_s
            or self.position_changes_s
            or self.dropouts
        )


def plm_band(index_per_h: float) -> tuple[str, str]:
    """(key, wording) of the clinical band of a PLM index in movements per hour."""
    for upper, key, text in PLM_BANDS:
        if index_per_h < upper:
            return key, text
    return PLM_BANDS[-1][1], PLM_BANDS[-1][2]  # NaN lands here; never expected


def issue_kind(details: dict[str, Any]) -> str:
    """The kind of a ``signal_issue`` from its details (``kind``), with the EMG channel
    when one is named."""
    kind = str(details.get("kind") or EventType.SIGNAL_ISSUE)
    channel = _CHANNELS.get(str(details.get("channel") or ""))
    return f"{kind}:{channel}" if channel else kind


def issue_label(kind: str) -> str:
    """Plain words for a ``signal_issue`` kind, as :func:`issue_kind` gives it (unknown
    kinds are shown as they are)."""
    kind, _, channel = kind.partition(":")
    text = _ISSUE_LABELS.get(kind, kind.replace("_", " "))
    return f"{text} ({channel})" if channel else text


def alert_latency_s(
    details: dict[str, Any],
    onset_s: float,
    detected_at_s: float,
    ended: bool,
    received_delay_s: float | None = None,
) -> float | None:
    """Seconds from cramp onset to the wake alert, or None when it cannot be known.

    The store keeps a cramp's end update, whose ``detected_at_s`` is when the *end* was
    seen, so the alarm's delay survives only in ``details`` (``alert_after_s``, written
    by the detector); an onset record without its end update still carries it in
    ``detected_at_s``. Last resort, ``received_delay_s``:
    when the logger first received the event minus its wall-clock onset, which is the
    alert delay in a live night (used only when 0..600 s: a replay faster than real time
    gives nonsense there).
    """
    after_s = details.get("alert_after_s")
    if isinstance(after_s, int | float):
        return max(0.0, float(after_s))
    if not ended:
        return max(0.0, detected_at_s - onset_s)
    if received_delay_s is not None and 0.0 <= received_delay_s <= _MAX_RECEIVED_DELAY_S:
        return received_delay_s
    return None


def _received_delay_s(se: StoredEvent) -> float | None:
    """Logger receipt time minus wall-clock onset, s (None when either is unknown)."""
    onset, received = parse_iso(se.event.onset_time), parse_iso(se.received_at)
    if onset is None or received is None:
        return None
    return (received - onset).total_seconds()


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Union of (start, end) intervals, sorted, overlapping ones merged; empty ones dropped."""
    out: list[list[float]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _event_span(se: StoredEvent) -> Span:
    e = se.event
    return e.onset_s, max(e.onset_s, e.end_s if e.end_s is not None else e.detected_at_s)


def _cramp(se: StoredEvent, offset_s: float = 0.0) -> CrampSummary:
    """A cramp on the night's clock (its run starts ``offset_s`` after the night's)."""
    e, d = se.event, se.event.details
    duration = e.end_s - e.onset_s if e.end_s is not None else None

    def num(key: str) -> float | None:
        v = d.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    return CrampSummary(
        event_id=e.id,
        device_id=e.device_id,
        leg=e.leg,
        onset_s=offset_s + e.onset_s,
        end_s=None if e.end_s is None else offset_s + e.end_s,
        duration_s=duration,
        peak_uv=num("peak_uv"),
        median_uv=num("median_uv"),
        alert_latency_s=alert_latency_s(
            d, e.onset_s, e.detected_at_s, e.end_s is not None, _received_delay_s(se)
        ),
        confidence=e.confidence,
        acknowledged="acknowledged" in se.labels,
        not_a_cramp="not_a_cramp" in se.labels,
        run_offset_s=offset_s,
    )


def _run_origin(se: StoredEvent) -> float | None:
    """Epoch seconds of the second 0 of the run an event belongs to (None: no wall clock)."""
    t = parse_iso(se.event.onset_time)
    return None if t is None else t.timestamp() - se.event.onset_s


def _status_spans(
    status: Sequence[tuple[str, str, str]], night: str, tz: tzinfo | None
) -> list[tuple[float, float | None]]:
    """Online intervals that start in the night, as epoch seconds, per device (an open
    one: None). A run that goes on past noon keeps its end."""
    rows = sorted(
        (t.timestamp(), device, st) for device, st, at in status if (t := parse_iso(at)) is not None
    )
    since: dict[str, float] = {}
    spans: list[tuple[float, float | None]] = []
    for at_s, device, st in rows:
        if st == "online":
            since.setdefault(device, at_s)
        elif st in (topics.OFFLINE, topics.STOPPED) and device in since:
            spans.append((since.pop(device), at_s))
    spans += [(a, None) for a in since.values()]
    return [(a, b) for a, b in spans if night_of(datetime.fromtimestamp(a, UTC), tz) == night]


def _overlaps(span: Span, spans: Sequence[Span], slack_s: float = _STATUS_TOLERANCE_S) -> bool:
    return any(span[0] <= b + slack_s and a - slack_s <= span[1] for a, b in spans)


def _within(span: Span, spans: Sequence[Span]) -> bool:
    return any(
        a - _STATUS_TOLERANCE_S <= span[0] and span[1] <= b + _STATUS_TOLERANCE_S for a, b in spans
    )


def _monitored(
    runs: Sequence[Span],
    recordings: Sequence[Span],
    status: Sequence[tuple[float, float | None]],
) -> tuple[list[Span], str]:
    """The union of the night's runs (night seconds) and where it came from.

    The service's status gives each run's true start and end when it agrees with the
    events (live nights). An accelerated replay's status is minutes of real time that do
    not contain its events: then the events' runs and the recordings count, and status
    only adds a long quiet run that no event contradicts.
    """
    known = merge_spans([*runs, *recordings])
    # an open status (still online) reaches to the end of the runs it overlaps
    spans = [(a, b if b is not None else _open_end(a, runs)) for a, b in status]
    if spans and runs and all(_within(r, spans) for r in runs):
        return merge_spans([*spans, *known]), "status"
    quiet = [s for s in spans if s[1] - s[0] >= QUIET_RUN_S and not _overlaps(s, known)]
    if quiet and not known:
        return merge_spans(quiet), "status"
    source = "recording" if recordings else "events"
    return merge_spans([*known, *quiet]), source if known else "none"


def _open_end(start_s: float, runs: Sequence[Span]) -> float:
    return max([start_s, *(b for a, b in runs if b >= start_s - _STATUS_TOLERANCE_S)])


def summarize_night(
    night: str,
    events: Sequence[StoredEvent],
    status: Sequence[tuple[str, str, str]] = (),
    recording: tuple[datetime | None, float] | None = None,
    *,
    recordings: Sequence[tuple[datetime | None, float]] = (),
    tz: tzinfo | None = None,
) -> NightSummary:
    """Summarise one night (of one device: never add two devices' nights together).

    Parameters
    ----------
    night:
        The night's ISO date (its evening), noon to noon in ``tz`` (default local).
    events:
        The night's stored events (any order; times in recording seconds of their run).
    status:
        ``(device_id, "online"|"stopped"|"offline", ISO time)`` rows; rows of other
        nights, and of devices other than the events', are ignored.
    recording, recordings:
        ``(wall-clock start or None, duration in s)`` of the night's recordings.

    Every run (a start of the service: a restart, a crash and systemd's restart, a second
    replay) keeps its own time origin, its events' ``onset_time - onset_s``. The summary
    puts them on one clock: night seconds from the earliest run's start (``origin``).
    """
    recs = [*recordings, *([recording] if recording is not None else [])]
    devices = {se.event.device_id for se in events}
    if devices:
        status = [row for row in status if row[0] in devices]
    wall_status = _status_spans(status, night, tz)
    origin, placed = _place(events, recs, wall_status)
    zero = origin.timestamp() if origin is not None else 0.0

    def night_s(t: datetime | None) -> float:
        return t.timestamp() - zero if t is not None and origin is not None else 0.0

    run_ends: dict[float, float] = {}
    for off, se in placed:
        run_ends[off] = max(run_ends.get(off, off), off + _event_span(se)[1])
    runs = list(run_ends.items())
    rec_spans = [(night_s(t), night_s(t) + d) for t, d in recs if d > 0]
    status_spans = [(a - zero, None if b is None else b - zero) for a, b in wall_status]
    monitored, source = _monitored(runs, rec_spans, status_spans)
    start_s = monitored[0][0] if monitored else 0.0
    end_s = monitored[-1][1] if monitored else 0.0
    gaps = [(a[1], b[0]) for a, b in pairwise(monitored)]

    dropouts = [Dropout(OFFLINE, "", None, a, b) for a, b in gaps if b > a]
    for off, se in placed:
        e = se.event
        if e.type == EventType.SIGNAL_ISSUE:
            # still bad when its run ended
            run_end = run_ends.get(off, end_s)
            stop = off + e.end_s if e.end_s is not None else max(run_end, _run_stop(off, monitored))
            kind = issue_kind(e.details)
            dropouts.append(Dropout(kind, e.device_id, e.leg, off + e.onset_s, stop))
    dropouts.sort(key=lambda d: d.start_s)
    issue_spans = [(d.start_s, d.end_s) for d in dropouts if d.kind != OFFLINE]
    bad = merge_spans((max(a, lo), min(b, hi)) for a, b in issue_spans for lo, hi in monitored)
    online_s = sum(b - a for a, b in monitored)
    lms = [(off, se.event) for off, se in placed if se.event.type == EventType.LEG_MOVEMENT]
    return NightSummary(
        night=night,
        origin=origin,
        window_start_s=start_s,
        window_end_s=end_s,
        window_source=source,
        online_s=online_s,
        good_signal_s=max(0.0, online_s - sum(b - a for a, b in bad)),
        cramps=tuple(_cramp(se, off) for off, se in placed if se.event.type == EventType.CRAMP),
        cramp_warnings_s=tuple(
            off + se.event.onset_s for off, se in placed if se.event.type == EventType.CRAMP_WARNING
        ),
        lm_onsets_s=tuple(off + e.onset_s for off, e in lms),
        lm_periodic=tuple(bool(e.periodic) for _, e in lms),
        position_changes_s=tuple(
            off + se.event.onset_s
            for off, se in placed
            if se.event.type == EventType.POSITION_CHANGE
        ),
        dropouts=tuple(dropouts),
        bad_spans=tuple(bad),
        devices=tuple(sorted(devices)),
        monitored=tuple(monitored),
    )


def _place(
    events: Sequence[StoredEvent],
    recs: Sequence[tuple[datetime | None, float]],
    wall_status: Sequence[tuple[float, float | None]],
) -> tuple[datetime | None, list[tuple[float, StoredEvent]]]:
    """The night's origin (the earliest run start known: events, recordings, else the
    first ``online``) and each event with its run's offset from it, s, in time order."""
    raw = [_run_origin(se) for se in events]
    grouped = iter(group_runs([o for o in raw if o is not None]))
    run_of = [None if o is None else next(grouped) for o in raw]
    starts = [r for r in run_of if r is not None] + [t.timestamp() for t, _ in recs if t]
    starts = starts or [a for a, _ in wall_status]
    origin = datetime.fromtimestamp(min(starts), UTC) if starts else None
    zero = origin.timestamp() if origin is not None else 0.0
    offsets = [0.0 if r is None else r - zero for r in run_of]
    placed = sorted(zip(offsets, events, strict=True), key=lambda p: p[0] + p[1].event.onset_s)
    return origin, placed


def _run_stop(offset_s: float, monitored: Sequence[Span]) -> float:
    """End of the monitored span a run that starts at ``offset_s`` lies in."""
    return next((b for a, b in monitored if a - 1.0 <= offset_s <= b), offset_s)


def cramp_nights(history: Sequence[NightSummary], days: int = 7) -> tuple[int, int]:
    """(nights with at least one cramp, monitored nights) within the last ``days`` days
    up to the last night of ``history`` (nights not monitored are not counted)."""
    if not history:
        return 0, 0
    last = date.fromisoformat(history[-1].night)
    recent = [h for h in history if (last - date.fromisoformat(h.night)).days < days]
    return sum(1 for h in recent if h.real_cramps), len(recent)


def frequent_cramps(history: Sequence[NightSummary]) -> bool:
    """Cramps on 3 or more of the last 7 nights: "several nights a week", the point at
    which the report suggests talking to a doctor."""
    return cramp_nights(history)[0] >= FREQUENT_CRAMP_NIGHTS


def clock_time(summary: NightSummary, t_s: float, tz: tzinfo | None = None) -> str:
    """``t_s`` (recording s) as a wall-clock ``HH:MM`` in ``tz`` (default: local zone),
    or as elapsed time ``+H:MM`` when the night's wall-clock start is unknown."""
    if summary.origin is None:
        total = round(t_s / 60)
        return f"+{total // 60}:{total % 60:02d}"
    return (summary.origin + timedelta(seconds=t_s)).astimezone(tz).strftime("%H:%M")


def monitored_text(s: NightSummary, tz: tzinfo | None = None) -> str:
    """``22:30–00:41, 01:05–06:58 (7 h 44 min)``: each run's span and the time monitored
    (a gap between runs was not monitored)."""
    if s.window_source == "none" or not s.monitored:
        return "no monitoring time recorded"
    spans = ", ".join(f"{clock_time(s, a, tz)}–{clock_time(s, b, tz)}" for a, b in s.monitored)
    return f"{spans} ({format_duration(s.window_s)})"


def warnings_text(s: NightSummary, tz: tzinfo | None = None) -> str:
    """The night's "calf tightening" warnings in words: a count and the times, and that
    they woke nobody."""
    n = len(s.cramp_warnings_s)
    if n == 0:
        return "none"
    times = ", ".join(clock_time(s, t, tz) for t in s.cramp_warnings_s[:12])
    more = f" and {n - 12} more" if n > 12 else ""
    return f"{n} ({times}{more}): calf tightening, noted only, nobody was woken"


def format_duration(seconds: float | None) -> str:
    """Human duration: ``42 s``, ``3 min 05 s``, ``7 h 32 min``; ``—`` for None."""
    if seconds is None or math.isnan(seconds):
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
