"""``EventLogger``: every device's events from MQTT into the SQLite :class:`EventStore`.

Subscribes (persistent session, QoS 1) to ``crampwatch/+/event``, ``crampwatch/+/status``
and ``crampwatch/+/alert/ack``. Events are validated against the event schema and stored
idempotently by ``id`` (a resend is counted as a duplicate, a cramp's end update
completes its onset); acknowledgements become labels (``acknowledged``,
``not_a_cramp`` for retraining); status changes are kept for the review. After each
stored event the logger publishes the night's counts, retained, on
``crampwatch/<device_id>/stats`` for Home Assistant.

Threading: :meth:`EventLogger.start` returns at once; messages are handled in paho's
network thread. :meth:`EventLogger.handle` is the broker-free core used by tests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crampwatch.consumers.client import (
    InvalidMessage,
    LocalBroker,
    Subscriber,
    default_client_id,
    parse_event,
    parse_json_object,
)
from crampwatch.consumers.store import EventStore
from crampwatch.events import Event
from crampwatch.publish import topics
from crampwatch.publish.config import BrokerConfig

__all__ = ["ACK_ACTIONS", "EventLogger", "LoggerCounters", "NightStats", "night_stats", "parse_ack"]

log = logging.getLogger(__name__)

# alert/ack "action" -> label stored with the event
ACK_ACTIONS: dict[str, str] = {"ack": "acknowledged", "not_a_cramp": "not_a_cramp"}


@dataclass(frozen=True)
class LoggerCounters:
    stored: int  # new events
    updated: int  # end updates of stored events
    duplicates: int  # resends, dropped
    invalid: int  # malformed messages, logged and dropped
    labels: int  # acknowledgements stored
    errors: int  # messages that could not be stored (left with the broker)


@dataclass(frozen=True)
class NightStats:
    """Counts of one device's night. ``plm_index`` is periodic leg movements per hour of
    monitoring so far (hours = latest ``detected_at_s`` / 3600, the recording clock)."""

    device_id: str
    night: str
    cramps_tonight: int
    periodic_leg_movements: int
    monitored_h: float
    plm_index: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))


def night_stats(
    device_id: str, night: str, cramps: int, periodic_lms: int, last_detected_s: float
) -> NightStats:
    """Counts of a night (pure). ``last_detected_s``: latest ``detected_at_s`` of the
    night's events, seconds of the recording clock (≈ time monitored so far)."""
    hours = last_detected_s / 3600.0
    # Below a minute of monitoring a rate per hour means nothing.
    index = periodic_lms / hours if hours >= 1 / 60 else 0.0
    return NightStats(device_id, night, cramps, periodic_lms, round(hours, 3), round(index, 1))


def parse_ack(payload: bytes) -> tuple[str | None, str, str]:
    """``{"event_id": …, "action": "ack"|"not_a_cramp", "source": …}`` →
    ``(event_id or None, action, source)``; raises :class:`InvalidMessage`."""
    obj = parse_json_object(payload)
    action = obj.get("action")
    if action not in ACK_ACTIONS:
        raise InvalidMessage(f"ack action must be one of {sorted(ACK_ACTIONS)}, got {action!r}")
    event_id = obj.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise InvalidMessage(f"ack event_id must be a string, got {event_id!r}")
    source = obj.get("source")
    return event_id, action, source if isinstance(source, str) else "mqtt"


class EventLogger:
    """Stores all devices' events from the broker in ``db_path``.

    ``publish_stats``: publish :class:`NightStats` retained on the stats topic.
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
    ) -> None:
        self.store = EventStore(db_path)
        self.on_stored = on_stored
        self.publish_stats = publish_stats
        self._last_status: dict[str, str] = {}
        for device_id, status, _at in self.store.status_history():
            self._last_status[device_id] = status
        self._n = dict.fromkeys(("new", "updated", "duplicate", "labels"), 0)
        self._invalid_direct = 0
        self._subscriber = Subscriber(
            config,
            client_id or default_client_id(config, "logger"),
            [topics.ALL_EVENTS, topics.ALL_STATUS, topics.ALL_ACKS, topics.ALL_RECORDINGS],
            self.handle,
            ack_on_error=False,  # a store that cannot be written must not eat events
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
            errors=self._subscriber.errors,
        )

    # -- the core: one message in, the store updated -------------------------------------
    def handle(self, topic: str, payload: bytes) -> str:
        """Apply one message; returns what happened (``new``, ``updated``, ``duplicate``,
        ``label``, ``status``, ``ignored``). Raises :class:`InvalidMessage`."""
        device_id = topics.device_of(topic)
        if device_id is None:
            return "ignored"
        if topic == topics.event_topic(device_id):
            return self._handle_event(device_id, payload)
        if topic == topics.status_topic(device_id):
            return self._handle_status(device_id, payload)
        if topic == topics.alert_ack_topic(device_id):
            return self._handle_ack(payload)
        if topic == topics.recording_topic(device_id):
            return self._handle_recording(device_id, payload)
        return "ignored"

    def _handle_recording(self, device_id: str, payload: bytes) -> str:
        try:
            msg = json.loads(payload)
            night, path = str(msg["night"]), str(msg["path"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidMessage(f"recording message needs JSON night and path: {exc}") from None
        self.store.add_recording(device_id, night, path)
        return "recording"

    def _handle_event(self, device_id: str, payload: bytes) -> str:
        event = parse_event(payload)
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
        status = payload.decode("utf-8", "replace").strip()
        if status not in (topics.ONLINE, topics.OFFLINE):
            raise InvalidMessage(f"status must be online/offline, got {status[:40]!r}")
        # The retained status comes again on every reconnect: store changes only.
        if self._last_status.get(device_id) != status:
            self._last_status[device_id] = status
            self.store.add_status(device_id, status)
        return "status"

    def _handle_ack(self, payload: bytes) -> str:
        event_id, action, source = parse_ack(payload)
        if event_id is None:
            raise InvalidMessage("ack without event_id cannot be stored")
        self.store.add_label(event_id, ACK_ACTIONS[action], source=source)
        self._n["labels"] += 1
        return "label"

    def _publish_stats(self, device_id: str, event_id: str) -> None:
        night = self.store.night_of_event(event_id)
        if night is None:
            return
        stats = night_stats(device_id, night, *self.store.night_counts(night, device_id))
        self._subscriber.publish(topics.stats_topic(device_id), stats.to_json(), retain=True)
