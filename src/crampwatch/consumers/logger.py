"""``EventLogger``: every device's events from MQTT into the SQLite :class:`EventStore`.

Subscribes (persistent session, QoS 1) to ``crampwatch/+/event``, ``crampwatch/+/status``
and ``crampwatch/+/alert/ack``. Events are validated against the event schema and stored
idempotently by ``id`` (a resend is counted as a duplicate, a cramp's end update
completes its onset); acknowledgements become labels (``acknowledged``,
``not_a_cramp`` for retraining); status changes are kept for the review. After each
stored event the logger publishes the night's counts, retained, on
``crampwatch/<device_id>/stats`` for Home Assistant.

Nothing can poison it: every message that fails to parse, validate or store is
acknowledged, counted and dropped (never left with the broker, where it would be
redelivered first forever and block the valid events behind it once the broker's
in-flight window is full). Payloads are bounded (:data:`~crampwatch.events.MAX_EVENT_BYTES`)
before parsing; ``recording`` paths are accepted only inside the recordings folder;
acknowledgements only for stored events, with a short ``source``.

Threading: :meth:`EventLogger.start` returns at once; messages are handled in paho's
network thread. :meth:`EventLogger.handle` is the broker-free core used by tests.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema

from crampwatch.consumers.client import InvalidMessage, LocalBroker, Subscriber, default_client_id
from crampwatch.consumers.store import EventStore
from crampwatch.events import Event, loads_event_json
from crampwatch.paths import default_recordings_dir
from crampwatch.publish import topics
from crampwatch.publish.config import BrokerConfig

__all__ = [
    "ACK_ACTIONS",
    "RECORDING_SUFFIXES",
    "STATUSES",
    "EventLogger",
    "LoggerCounters",
    "NightStats",
    "decode_event",
    "night_stats",
    "parse_ack",
]

log = logging.getLogger(__name__)

# alert/ack "action" -> label stored with the event
ACK_ACTIONS: dict[str, str] = {"ack": "acknowledged", "not_a_cramp": "not_a_cramp"}
# ack "source": a short word (key, mqtt, watch, demo, ...), never free text of any size
_SOURCE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
# status payloads: "stopped" (a normal end, sent before the retained "offline") tells a
# finished night from a lost one
STATUSES = (topics.ONLINE, topics.OFFLINE, topics.STOPPED)
RECORDING_SUFFIXES = (".edf", ".bdf")
# A failing store is logged on the first failure and then every this many.
_LOG_EVERY = 100


def decode_event(payload: bytes) -> Event:
    """A network payload as a validated :class:`Event`, or :class:`InvalidMessage`
    (size bounded before parsing; no NaN/Infinity; no deep nesting; sane times)."""
    obj = _json_object(payload)
    try:
        return Event.from_dict(obj)
    except jsonschema.ValidationError as exc:
        raise InvalidMessage(f"schema violation: {exc.message}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidMessage(f"bad event: {exc}") from None


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        obj = loads_event_json(payload)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    if not isinstance(obj, dict):
        raise InvalidMessage(f"not a JSON object: {type(obj).__name__}")
    return obj


@dataclass(frozen=True)
class LoggerCounters:
    stored: int  # new events
    updated: int  # end updates of stored events
    duplicates: int  # resends, dropped
    invalid: int  # malformed messages, logged and dropped
    labels: int  # acknowledgements stored
    errors: int  # messages that could not be stored (acknowledged and dropped)


@dataclass(frozen=True)
class NightStats:
    """Counts of one device's night. ``plm_index`` is periodic leg movements per hour of
    monitoring so far (the union of the night's runs, each on its own clock)."""

    device_id: str
    night: str
    cramps_tonight: int
    periodic_leg_movements: int
    monitored_h: float
    plm_index: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))


def night_stats(
    device_id: str, night: str, cramps: int, periodic_lms: int, monitored_s: float
) -> NightStats:
    """Counts of a night (pure). ``monitored_s``: seconds monitored so far, all runs."""
    hours = monitored_s / 3600.0
    # Below a minute of monitoring a rate per hour means nothing.
    index = periodic_lms / hours if hours >= 1 / 60 else 0.0
    return NightStats(device_id, night, cramps, periodic_lms, round(hours, 3), round(index, 1))


def parse_ack(payload: bytes) -> tuple[str | None, str, str]:
    """``{"event_id": …, "action": "ack"|"not_a_cramp", "source": …}`` →
    ``(event_id or None, action, source)``; raises :class:`InvalidMessage`."""
    obj = _json_object(payload)
    action = obj.get("action")
    if action not in ACK_ACTIONS:
        raise InvalidMessage(f"ack action must be one of {sorted(ACK_ACTIONS)}, got {action!r}")
    event_id = obj.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise InvalidMessage(f"ack event_id must be a string, got {event_id!r}")
    if event_id is not None and not 0 < len(event_id) <= 128:
        raise InvalidMessage("ack event_id must be 1 to 128 characters")
    source = obj.get("source", "mqtt")
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise InvalidMessage("ack source must be a short word (letters, digits, _.-; ≤ 32)")
    return event_id, action, source


class EventLogger:
    """Stores all devices' events from the broker in ``db_path``.

    ``publish_stats``: publish :class:`NightStats` retained on the stats topic.
    ``recordings_dir``: recording announcements are registered only for files inside it
    (default: the service's default recordings folder).
    ``on_stored(event, result)``: called (network thread) after each event was applied,
    ``result`` being ``new``, ``updated`` or ``duplicate`` (progress bars, benchmarks).
    """

    def __init__(
        self,
        config: BrokerConfig | LocalBroker,
        db_path: str | Path,
        *,
        client_id: str | None = None,
        publish_stats: bool = True,
        on_stored: Callable[[Event, str], None] | None = None,
        recordings_dir: str | Path | None = None,
    ) -> None:
        self.store = EventStore(db_path)
        self.recordings_dir = Path(recordings_dir or default_recordings_dir()).resolve()
        self.on_stored = on_stored
        self.publish_stats = publish_stats
        self._last_status: dict[str, str] = {}
        for device_id, status, _at in self.store.status_history():
            self._last_status[device_id] = status
        self._n = dict.fromkeys(("new", "updated", "duplicate", "labels", "errors"), 0)
        self._invalid_direct = 0
        self._subscriber = Subscriber(
            config,
            client_id or default_client_id(config, "logger"),
            [topics.ALL_EVENTS, topics.ALL_STATUS, topics.ALL_ACKS, topics.ALL_RECORDINGS],
            self.handle,
            # poison must never be redelivered forever: everything is acknowledged
            ack_on_error=True,
        )

    def start(self) -> None:
        """Connect and subscribe in the background (paho network thread)."""
        self._subscriber.start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self._subscriber.wait_subscribed(timeout_s)

    def stop(self) -> None:
        self._subscriber.stop()
        self.store.close()

    def __enter__(self) -> EventLogger:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def counters(self) -> LoggerCounters:
        return LoggerCounters(
            stored=self._n["new"],
            updated=self._n["updated"],
            duplicates=self._n["duplicate"],
            invalid=self._subscriber.invalid + self._invalid_direct,
            labels=self._n["labels"],
            errors=self._subscriber.errors + self._n["errors"],
        )

    # -- the core: one message in, the store updated -------------------------------------
    def handle(self, topic: str, payload: bytes) -> str:
        """Apply one message; returns what happened (``new``, ``updated``, ``duplicate``,
        ``label``, ``status``, ``recording``, ``ignored``, or ``error`` when the store
        failed: counted, logged, dropped). Raises :class:`InvalidMessage`."""
        device_id = topics.device_of(topic)
        if device_id is None:
            return "ignored"
        handler = {
            topics.event_topic(device_id): self._handle_event,
            topics.status_topic(device_id): self._handle_status,
            topics.alert_ack_topic(device_id): self._handle_ack,
            topics.recording_topic(device_id): self._handle_recording,
        }.get(topic)
        if handler is None:
            return "ignored"
        try:
            return handler(device_id, payload)
        except InvalidMessage:
            raise
        except Exception as exc:  # the store failed (disk full, locked, corrupt, ...)
            self._n["errors"] += 1
            n = self._n["errors"]
            if n == 1 or n % _LOG_EVERY == 0:
                log.error("cannot store a message on %s (%d so far): %s", topic, n, exc)
            return "error"

    def _handle_recording(self, device_id: str, payload: bytes) -> str:
        msg = _json_object(payload)
        night, path = msg.get("night"), msg.get("path")
        if not isinstance(night, str) or not isinstance(path, str) or len(path) > 4096:
            raise InvalidMessage("recording message needs JSON night and path strings")
        try:
            night = date.fromisoformat(night).isoformat()
        except ValueError:
            raise InvalidMessage(f"recording night is not a date: {night[:40]!r}") from None
        self.store.add_recording(device_id, night, self._recording_path(path))
        return "recording"

    def _recording_path(self, path: str) -> Path:
        """``path`` resolved, if it is an EDF/BDF file inside the recordings folder: a
        forged announcement must not make the review read any other file."""
        p = Path(path)
        resolved = p.resolve()
        if not p.is_absolute() or not resolved.is_relative_to(self.recordings_dir):
            raise InvalidMessage(f"recording path outside {self.recordings_dir}: {path[:200]!r}")
        if resolved.suffix.lower() not in RECORDING_SUFFIXES:
            raise InvalidMessage(f"recording is not an EDF/BDF file: {path[:200]!r}")
        return resolved

    def _handle_event(self, device_id: str, payload: bytes) -> str:
        event = decode_event(payload)
        if event.device_id != device_id:
            log.warning(
                "event %s of %s arrived on %s's topic", event.id, event.device_id, device_id
            )
        result = self.store.upsert(event)
        self._n[result] += 1
        if result == "duplicate":
            log.debug("duplicate event %s dropped", event.id)
        elif self.publish_stats:
            self._publish_stats(event.device_id, event.id)
        if self.on_stored is not None:
            self.on_stored(event, result)
        return result

    def _handle_status(self, device_id: str, payload: bytes) -> str:
        status = payload[:64].decode("utf-8", "replace").strip()
        if status not in STATUSES:
            raise InvalidMessage(f"status must be one of {STATUSES}, got {status[:40]!r}")
        # The retained status comes again on every reconnect: store changes only.
        if self._last_status.get(device_id) != status:
            self._last_status[device_id] = status
            self.store.add_status(device_id, status)
        return "status"

    def _handle_ack(self, _device_id: str, payload: bytes) -> str:
        event_id, action, source = parse_ack(payload)
        if event_id is None:
            raise InvalidMessage("ack without event_id cannot be stored")
        if not self.store.has_event(event_id):
            # labels are training data: only for events this store knows
            raise InvalidMessage(f"ack for an unknown event {event_id[:40]!r}")
        self.store.add_label(event_id, ACK_ACTIONS[action], source=source)
        self._n["labels"] += 1
        return "label"

    def _publish_stats(self, device_id: str, event_id: str) -> None:
        night = self.store.night_of_event(event_id)
        if night is None:
            return
        stats = night_stats(device_id, night, *self.store.night_counts(night, device_id))
        self._subscriber.publish(topics.stats_topic(device_id), stats.to_json(), retain=True)
