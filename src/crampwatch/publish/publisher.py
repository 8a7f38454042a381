"""``EventPublisher``: events to MQTT with QoS 1 through a durable outbox.

Life of an event: :meth:`EventPublisher.publish` validates it against the event schema,
commits it to the SQLite :class:`~crampwatch.publish.outbox.Outbox`, then hands it to
paho-mqtt (which sends it now or after the next reconnect). The broker's PUBACK removes
it from the outbox. A killed process therefore loses nothing: :meth:`start` sends what
the outbox still holds before anything new. A resend carries the same event ``id``, so
consumers store it once and the alarm rings once.

Threads: paho's network thread (``loop_start``) connects, reconnects with exponential
backoff (``reconnect_min_s`` … ``reconnect_max_s``, a few seconds at most: a queued cramp
alert waits for the next attempt) and runs the callbacks; ``publish`` may be called from
any thread and never blocks on the network. A broker that is down (at start or later)
is one log line, then one every ``unreachable_log_s`` seconds while it stays down.

Disk: when the outbox cannot be written (disk full, I/O error) an event is still sent,
from memory (paho keeps it until the PUBACK, also across reconnects); the first failure
is logged and passed to ``on_storage_failure``, later ones are only counted
(``storage_failures``). Such an event is lost only if the process ends before the broker
has it.

Status: ``crampwatch/<device_id>/status`` is ``online`` (retained) after each connect;
the last will publishes ``offline`` (retained) if the process dies or the link drops;
:meth:`stop` publishes ``offline`` itself before a clean disconnect, after waiting for a
reconnect if the broker was away (a restarted broker may have kept a retained
``online``).
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from crampwatch.errors import CrampwatchError
from crampwatch.events import Event, validate_event
from crampwatch.publish import homeassistant, topics
from crampwatch.publish.config import (
    MQTT_V311,
    BrokerConfig,
    CredentialsRefused,
    connect_client,
    make_client,
    probe_protocol,
)
from crampwatch.publish.outbox import Outbox

__all__ = ["EventPublisher", "PublisherCounters"]

log = logging.getLogger(__name__)

RECONNECT_MAX_S = 5.0  # a queued cramp alert waits at most this long for the broker
UNREACHABLE_LOG_S = 300.0  # a broker that stays away: one line per this many seconds


@dataclass(frozen=True)
class PublisherCounters:
    """Snapshot of a publisher's counters since :meth:`EventPublisher.start`."""

    published: int  # events handed to paho (first sends and outbox drains)
    acked: int  # PUBACKs that removed an outbox entry
    invalid: int  # events refused by the schema (never queued)
    rejected: int  # PUBACKs with an MQTT 5 failure reason (entry kept for the next run)
    reconnects: int  # connections after the first one
    pending: int  # events and messages still waiting for their PUBACK
    storage_failures: int = 0  # outbox writes that failed (the message went from memory)


class EventPublisher:
    """Publishes events of one device (QoS 1) and its ``online``/``offline`` status.

    Parameters
    ----------
    config : broker settings (``parse_broker_url`` or ``EmbeddedBroker.config``).
    device_id : the ``<device_id>`` of the topics.
    outbox_path : SQLite file of the durable outbox (created if missing).
    home_assistant : publish Home Assistant discovery on connect and whenever Home
        Assistant announces ``online`` on ``homeassistant/status``.
    reconnect_min_s, reconnect_max_s : reconnect backoff bounds, seconds.
    unreachable_log_s : while the broker stays unreachable, one log line per this many
        seconds (the first failure is logged at once).
    on_storage_failure : called (from the publishing thread) with the first exception
        of an outbox write that failed, instead of logging it; the event is sent from
        memory all the same.
    probe_timeout_s : how long to wait for the broker's answer to an MQTT 5 CONNECT
        before falling back to 3.1.1 (only when ``config.protocol`` is None).
    outbox_fsync : sync each outbox write to disk (see :class:`Outbox`); False trades
        power-cut safety for speed (fast replays), never process-kill safety.
    """

    def __init__(
        self,
        config: BrokerConfig,
        device_id: str,
        outbox_path: str | Path,
        *,
        home_assistant: bool = False,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = RECONNECT_MAX_S,
        probe_timeout_s: float = 2.0,
        client_id: str | None = None,
        outbox_fsync: bool = True,
        unreachable_log_s: float = UNREACHABLE_LOG_S,
        on_storage_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        if not device_id or "/" in device_id or "+" in device_id or "#" in device_id:
            raise CrampwatchError(f"device id must be a non-empty topic level, got {device_id!r}")
        self.config = config
        self.device_id = device_id
        # A full or read-only disk must not leave the night unwatched: the outbox then
        # lives in memory (events wait there until the broker has them, not across a
        # restart) and ``outbox_error`` says why, for the run to report.
        self.outbox_error: BaseException | None = None
        try:
            self.outbox = Outbox(outbox_path, fsync=outbox_fsync)
        except CrampwatchError as exc:
            log.warning("%s; events wait in memory until the broker has them", exc)
            self.outbox_error = exc.__context__ or exc
            self.outbox = Outbox(":memory:", fsync=False)
        self.home_assistant = home_assistant
        self.client_id = client_id or f"{config.client_id_prefix}-pub-{device_id}"
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._probe_timeout_s = probe_timeout_s
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._inflight: dict[int, int | None] = {}  # paho mid -> outbox seq (None: not an event)
        self._early: set[int] = set()  # PUBACKs that beat the bookkeeping of their publish()
        self._connected = threading.Event()
        self._connects = 0
        self._n = dict.fromkeys(("published", "acked", "invalid", "rejected"), 0)
        # Sent from memory because the outbox could not be written: negative seq -> topic
        # (the payload itself is in paho's queue until the PUBACK).
        self._memory: dict[int, str] = {}
        self._memory_seq = itertools.count(-1, -1)
        self._unsaved_acks: set[int] = set()  # PUBACKs whose outbox delete failed
        self._storage_failures = 0
        self.on_storage_failure = on_storage_failure
        self._unreachable_log_s = unreachable_log_s
        self._down_since: float | None = None  # monotonic time the broker went away
        self._down_logged = 0.0  # monotonic time of the last "unreachable" line
        self._failed_attempts = 0

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background and send what the outbox still holds.

        Never fails on a dead broker (the outbox fills, paho retries); refused
        credentials raise :class:`CrampwatchError`.
        """
        protocol = self.config.protocol
        if protocol is None:
            try:
                protocol = probe_protocol(self.config, self._probe_timeout_s)
            except CredentialsRefused:
                raise
            except CrampwatchError as exc:
                log.warning(
                    "%s; monitoring goes on, events wait in the outbox until it is back", exc
                )
                self._down_since = self._down_logged = time.monotonic()
                protocol = MQTT_V311
        client = make_client(self.config, self.client_id, protocol=protocol)
        client.will_set(topics.status_topic(self.device_id), topics.OFFLINE, qos=1, retain=True)
        # paho annotates the delays as int but computes with floats: sub-second delays work
        client.reconnect_delay_set(*self._backoff)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client
        connect_client(client, self.config)
        client.loop_start()
        backlog = [
            (e.seq, topics.event_topic(e.event.device_id), e.event.to_json())
            for e in self.outbox.entries()
        ]
        backlog += [(m.seq, m.topic, m.payload) for m in self.outbox.messages()]
        if backlog:
            log.info("outbox %s: resending %d messages", self.outbox.path, len(backlog))
        for seq, topic, payload in sorted(backlog):
            self._send(topic, payload, seq)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish ``offline``, wait (≤ ``timeout_s`` s) for outstanding acks, disconnect.

        A broker that is away gets ``timeout_s`` seconds to come back first, so that its
        retained status is not left ``online``. Events still unacknowledged stay in the
        outbox for the next start.
        """
        client = self._client
        if client is None:
            return
        if self._connected.wait(timeout_s):
            # "stopped" (not retained) tells consumers this end is normal; the retained
            # "offline" after it is what the last will would say (docs/mqtt.md)
            status = topics.status_topic(self.device_id)
            client.publish(status, topics.STOPPED, qos=1, retain=False)
            info = client.publish(status, topics.OFFLINE, qos=1, retain=True)
            self.wait_drained(timeout_s)
            deadline = time.monotonic() + timeout_s
            while not info.is_published() and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            log.warning(
                "broker %s unreachable: the final status 'offline' was not published",
                self.config.address,
            )
        self._client = None  # from here on a disconnect is expected
        client.disconnect()
        client.loop_stop()
        self._save_acks()
        self.outbox.close()

    def __enter__(self) -> EventPublisher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- publishing --------------------------------------------------------------------
    def publish(self, event: Event) -> int | None:
        """Queue ``event`` durably and send it; returns its outbox ``seq``.

        An event the schema refuses is logged and counted (``invalid``), and None is
        returned: it is a bug upstream, not a reason to stop the night.
        """
        try:
            validate_event(event.to_dict())
        except jsonschema.ValidationError as exc:
            self._n["invalid"] += 1
            log.error("not publishing invalid event %s: %s", event.id, exc.message)
            return None
        topic = topics.event_topic(event.device_id)
        try:
            seq = self.outbox.put(event)
        except (sqlite3.Error, OSError) as exc:
            seq = self._in_memory(topic, exc)
        self._send(topic, event.to_json(), seq)
        return seq

    def publish_recording(self, night: str, path: str, start_time: str | None) -> None:
        """Announce a finished EDF+ recording of ``night`` (QoS 1, through the outbox: a
        broker away at the end of the night gets it on the next start) so the logger can
        register it for the review's plots and exports."""
        payload = json.dumps({"night": night, "path": path, "start_time": start_time})
        topic = topics.recording_topic(self.device_id)
        try:
            seq = self.outbox.put_message(topic, payload, f"recording:{night}:{path}")
        except (sqlite3.Error, OSError) as exc:
            seq = self._in_memory(topic, exc)
        self._send(topic, payload, seq)

    def _in_memory(self, topic: str, exc: BaseException) -> int:
        """Book a message the outbox could not take; returns its (negative) seq."""
        with self._lock:
            self._storage_failures += 1
            first = self._storage_failures == 1
            seq = next(self._memory_seq)
            self._memory[seq] = topic
        if first and self.on_storage_failure is not None:
            self.on_storage_failure(exc)  # it logs and announces the failure
        elif first:
            log.error(
                "outbox %s cannot be written (%s): sending from memory; further failures "
                "are only counted",
                self.outbox.path,
                getattr(exc, "strerror", None) or exc,
            )
        return seq

    def _send(self, topic: str, payload: str, seq: int | None, *, retain: bool = False) -> None:
        client = self._client
        if client is None:
            return  # not started: the outbox keeps it for start()
        info = client.publish(topic, payload, qos=1, retain=retain)
        # MQTT_ERR_NO_CONN means "queued until connected" for QoS 1: paho resends it
        # after the reconnect, so it is not an error and must not be queued again.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.error("paho refused %s (%s); it stays in the outbox", topic, info.rc)
            return
        if seq is not None:
            self._n["published"] += 1
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                self._acked(info.mid, seq)
            else:
                self._inflight[info.mid] = seq

    def _acked(self, mid: int, seq: int | None) -> None:
        if seq is None:
            return
        if seq < 0:  # sent from memory
            if self._memory.pop(seq, None) is not None:
                self._n["acked"] += 1
            return
        try:
            removed = self.outbox.ack(seq)
        except (sqlite3.Error, OSError):
            # a full disk cannot even take a DELETE: the broker has it all the same (a
            # resend on the next start would be dropped by id); retried at stop()
            self._unsaved_acks.add(seq)
            removed = True
        if removed:
            self._n["acked"] += 1

    def _save_acks(self) -> None:
        for seq in sorted(self._unsaved_acks):
            try:
                self.outbox.ack(seq)
            except (sqlite3.Error, OSError):
                return
            self._unsaved_acks.discard(seq)

    def wait_connected(self, timeout_s: float) -> bool:
        """True once connected to the broker (within ``timeout_s`` seconds)."""
        return self._connected.wait(timeout_s)

    def wait_drained(self, timeout_s: float) -> bool:
        """True once every outbox entry has been acknowledged (within ``timeout_s`` s)."""
        deadline = time.monotonic() + timeout_s
        while self.pending > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def pending(self) -> int:
        """Events and messages not yet acknowledged by the broker (outbox and memory)."""
        try:
            stored = len(self.outbox) - len(self._unsaved_acks)
        except sqlite3.Error:  # an outbox that cannot even be read: what memory holds
            stored = 0
        return stored + len(self._memory)

    @property
    def in_memory(self) -> int:
        """Messages not yet acknowledged that only this process holds (no outbox row)."""
        return len(self._memory)

    @property
    def counters(self) -> PublisherCounters:
        return PublisherCounters(
            published=self._n["published"],
            acked=self._n["acked"],
            invalid=self._n["invalid"],
            rejected=self._n["rejected"],
            reconnects=max(0, self._connects - 1),
            pending=self.pending,
            storage_failures=self._storage_failures,
        )

    # -- paho callbacks (network thread) -------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        if reason_code.is_failure:
            if self._should_log_down():
                log.error("broker %s refused the connection: %s", self.config.address, reason_code)
            return
        self._connects += 1
        if self._down_since is not None:
            log.warning(
                "connected to %s after %.0f s away; sending %d waiting messages",
                self.config.address,
                time.monotonic() - self._down_since,
                self.pending,
            )
        else:
            log.info("connected to %s (connection %d)", self.config.address, self._connects)
        self._down_since, self._failed_attempts = None, 0
        self._send(topics.status_topic(self.device_id), topics.ONLINE, None, retain=True)
        if self.home_assistant:
            client.subscribe(homeassistant.HA_STATUS_TOPIC, qos=1)
            self._publish_discovery()
        # only now: stop() waits for this and must publish its "offline" after "online"
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._client is not None and was_connected:
            log.warning("disconnected from %s (%s); retrying", self.config.address, reason_code)
            self._down_since = self._down_logged = time.monotonic()

    def _on_connect_fail(self, _c: Any, _u: Any) -> None:
        self._failed_attempts += 1
        if self._should_log_down():
            log.warning(
                "broker %s unreachable; monitoring goes on, %d messages wait (retrying "
                "every %.0f s at most)",
                self.config.address,
                self.pending,
                self._backoff[1],
            )

    def _should_log_down(self) -> bool:
        """True for the first failure of an outage and then once per unreachable_log_s."""
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = self._down_logged = now
            return True
        if now - self._down_logged >= self._unreachable_log_s:
            self._down_logged = now
            return True
        return False

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason_code: Any, _p: Any) -> None:
        if reason_code.is_failure:
            # The broker refused it (MQTT 5, e.g. not authorised): keep it in the outbox.
            self._n["rejected"] += 1
            log.error("broker refused message %d: %s", mid, reason_code)
            with self._lock:
                self._inflight.pop(mid, None)
            return
        with self._lock:
            if mid not in self._inflight:
                self._early.add(mid)
                return
            seq = self._inflight.pop(mid)
            self._acked(mid, seq)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == homeassistant.HA_STATUS_TOPIC and msg.payload == b"online":
            log.info("Home Assistant is online: republishing discovery")
            self._publish_discovery()

    def _publish_discovery(self) -> None:
        for topic, payload in homeassistant.discovery_messages(self.device_id):
            self._send(topic, json.dumps(payload, separators=(",", ":")), None, retain=True)

    def __repr__(self) -> str:
        return f"EventPublisher({self.device_id!r}, {self.config.address})"
