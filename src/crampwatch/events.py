"""``Event``: what detection emits and what travels over MQTT (✦ contract).

One JSON object per event; the JSON Schema lives in ``crampwatch/schemas/event.schema.json``.
A cramp produces an onset event (``end_s`` null) as soon as it is recognised and an
update with the same ``id`` when it ends.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "MAX_JSON_DEPTH",
    "SCHEMA_VERSION",
    "Event",
    "EventType",
    "SignalIssueKind",
    "event_id",
    "event_schema",
    "loads_event_json",
    "onset_time_iso",
    "parse_iso",
    "validate_event",
]

SCHEMA_VERSION = 1

# Bounds for what a consumer accepts from the network before and after parsing: an event
# is a few hundred bytes; 64 KiB leaves room for rich details and keeps a hostile 50 MB
# payload out of memory and out of the store.
MAX_EVENT_BYTES = 64 * 1024
# details may hold small structures; deeper nesting is an attack on the parser
# (RecursionError), not an event.
MAX_JSON_DEPTH = 16
# Wall-clock years an onset_time may fall in. EDF's anonymised start date (1985) and
# forged years (0001, 9999) would overflow date arithmetic downstream.
ONSET_YEARS = (2000, 2099)


class EventType(StrEnum):
    """Every ``type`` an event can have (✦ contract: more may be added, none removed).

    Members are strings, so ``event.type == EventType.CRAMP`` holds for a decoded event.
    """

    CRAMP = "cramp"
    # "calf tightening": the slow rise that may or may not become a cramp. It informs;
    # it never wakes anyone by default.
    CRAMP_WARNING = "cramp_warning"
    LEG_MOVEMENT = "leg_movement"
    POSITION_CHANGE = "position_change"
    SIGNAL_ISSUE = "signal_issue"


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)


class SignalIssueKind(StrEnum):
    """Every ``details.kind`` of a ``signal_issue`` event (✦ contract: more may be added).

    ``details.channel`` says where: ``calf`` / ``tib`` (one EMG channel, judged by the
    detector frame by frame) or ``all`` (the data itself: lost, silent, not stored).
    The review has words for each (``crampwatch.review.summary``); the event schema
    lists them under ``signal_issue`` details.
    """

    # the detector's bad-signal reasons, per EMG channel (crampwatch.detect.bad_signal)
    POOR_QUALITY = "poor_quality"
    MAINS = "mains"  # mains hum large enough to hide the muscle
    SATURATION = "saturation"  # clipping at the amplifier rails
    ELECTRODE_OFF = "electrode_off"  # a flat line: electrode off or disconnected
    GAP = "gap"  # frames with missing samples; a data gap of unknown cause
    # data lost between packets, as the acquisition saw it (crampwatch.acquire.assembler)
    SEQUENCE = "sequence"  # packets missing while connected
    RECONNECT = "reconnect"  # the time the sensor was disconnected
    # the service's own (crampwatch.service.runner)
    NO_DATA = "no_data"  # nothing arrived for the watchdog's timeout; ends when data is back
    BATTERY_LOW = "battery_low"
    STORAGE_FAILED = "storage_failed"  # the outbox, journal or recording cannot be written


_ID_NAMESPACE = uuid.UUID("6f1c1d0e-7a5b-4c8e-9a51-3f2b8c0d9e11")


def event_id(
    device_id: str,
    type_: str,
    onset_s: float,
    leg: str | None = None,
    start_time: datetime | None = None,
) -> str:
    """A stable id: the same event found again (a replay, a resend) gets the same id.

    ``start_time`` (the wall-clock start of the recording or run) keeps the ids of two
    nights apart, whose sample clocks both start at 0. Onset is rounded to the
    millisecond so that float noise cannot change it.
    """
    run = start_time.isoformat() if start_time is not None else ""
    key = f"{device_id}|{leg or ''}|{type_}|{round(onset_s * 1000)}|{run}"
    return str(uuid.uuid5(_ID_NAMESPACE, key))


def parse_iso(text: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` accepted) as an aware datetime (UTC if no zone); None if
    missing or bad."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)  # Python 3.11 reads "Z"
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def onset_time_iso(start: datetime | None, onset_s: float) -> str | None:
    """Wall-clock ISO 8601 UTC time of ``onset_s`` seconds after ``start`` (or None)."""
    if start is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    try:
        t = (start + timedelta(seconds=round(onset_s, 3))).astimezone(UTC)
    except OverflowError:
        return None
    # A start outside the sane years (an anonymised EDF date) is no wall clock at all.
    if not ONSET_YEARS[0] <= t.year <= ONSET_YEARS[1]:
        return None
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One detected event. Times are recording seconds (sample clock)."""

    id: str
    device_id: str
    type: str
    onset_s: float
    end_s: float | None
    detected_at_s: float
    confidence: float
    leg: str | None = None
    onset_time: str | None = None
    periodic: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @property
    def ongoing(self) -> bool:
        return self.end_s is None

    def with_end(self, end_s: float, detected_at_s: float, **details: Any) -> Event:
        """The update of an ongoing event: same id, its end and new details."""
        return replace(
            self, end_s=end_s, detected_at_s=detected_at_s, details={**self.details, **details}
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["onset_s"] = round(float(self.onset_s), 3)
        d["end_s"] = None if self.end_s is None else round(float(self.end_s), 3)
        d["detected_at_s"] = round(float(self.detected_at_s), 3)
        d["confidence"] = round(float(self.confidence), 4)
        # A detail that could not be measured (NaN) is unknown, not a reason for every
        # consumer to refuse the event: it travels as null.
        d["details"] = _finite_or_none(d["details"])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        validate_event(d)
        return cls(
            id=d["id"],
            device_id=d["device_id"],
            type=d["type"],
            onset_s=float(d["onset_s"]),
            end_s=None if d["end_s"] is None else float(d["end_s"]),
            detected_at_s=float(d["detected_at_s"]),
            confidence=float(d["confidence"]),
            leg=d.get("leg"),
            onset_time=d.get("onset_time"),
            periodic=d.get("periodic"),
            details=dict(d.get("details") or {}),
            schema=int(d["schema"]),
        )


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


@cache
def event_schema() -> dict[str, Any]:
    """The event JSON Schema shipped with the package."""
    text = resources.files("crampwatch").joinpath("schemas/event.schema.json").read_text()
    return json.loads(text)


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(event_schema())
    return cls(event_schema(), format_checker=cls.FORMAT_CHECKER)


def validate_event(d: Any) -> None:
    """Raise ``jsonschema.ValidationError`` if ``d`` is not a valid event object.

    Beyond the schema: every number finite (Python's ``json`` reads ``NaN`` and
    ``Infinity``, which would switch comparisons off and break the store), nesting at
    most :data:`MAX_JSON_DEPTH` levels, and ``onset_time`` a real date in
    :data:`ONSET_YEARS`.
    """
    _validator().validate(d)
    _check_values(d, "", 0)
    _check_onset_time(d.get("onset_time"))


def _check_values(value: Any, path: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise jsonschema.ValidationError(f"{path or 'event'}: nested deeper than {MAX_JSON_DEPTH}")
    if isinstance(value, float) and not math.isfinite(value):
        raise jsonschema.ValidationError(f"{path}: {value} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_values(v, f"{path}.{k}" if path else str(k), depth + 1)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_values(v, f"{path}[{i}]", depth + 1)


def _check_onset_time(text: Any) -> None:
    if text is None:
        return
    try:
        t = datetime.fromisoformat(str(text))  # Python 3.11 reads "Z"
    except ValueError:
        raise jsonschema.ValidationError(f"onset_time {text!r} is not a date and time") from None
    if not ONSET_YEARS[0] <= t.year <= ONSET_YEARS[1]:
        raise jsonschema.ValidationError(
            f"onset_time {text!r} is outside the years {ONSET_YEARS[0]}-{ONSET_YEARS[1]}"
        )


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def loads_event_json(payload: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> Any:
    """Decode a UTF-8 JSON payload from the network, bounded: at most ``max_bytes``
    (checked before parsing), no ``NaN``/``Infinity``, no nesting that exhausts the
    parser. Raises :class:`ValueError` with a one-line reason."""
    if len(payload) > max_bytes:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {max_bytes}")
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
