"""``Subscriber``: the MQTT plumbing the consumers share (logger, alarm).

A persistent session (stable client id; clean session off, or in MQTT 5 clean start
off with a week's session expiry) so that the broker keeps QoS 1 messages for a
consumer that is away, and resends them when it is back. paho acknowledges a QoS 1
message once the handler returned, so a handler that stores before returning gives
at-least-once delivery; the event ``id`` makes the repeats harmless.

A handler error is logged and counted and never stops the consumer: paho's network
thread must survive any message. A malformed message (bad JSON, schema violation) is
acknowledged and dropped. Any other error (the store cannot be written) leaves the
message unacknowledged when ``ack_on_error`` is False (the logger): the broker keeps it
and resends it on the next connection instead of it being lost.

Without a ``--broker`` the consumers follow :class:`LocalBroker`, the crampwatch service
on this computer: they wait calmly while it is not up (bedtime order does not matter)
and move with it when it restarts on another port or with a new password.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from crampwatch.paths import default_endpoint_path
from crampwatch.publish.config import (
    DEFAULT_PORT,
    BrokerConfig,
    check_reachable,
    connect_client,
    make_client,
    probe_protocol,
)
from crampwatch.publish.endpoint import read_endpoint

__all__ = [
    "InvalidMessage",
    "LocalBroker",
    "Subscriber",
    "default_client_id",
]

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], object]  # what it returns is ignored

# how long a stop waits for the DISCONNECT (and the acknowledgements before it) to be
# written; a dead connection gives up at once or after this
_DISCONNECT_WAIT_S = 2.0


# where the embedded broker of `crampwatch run` listens, unless that port was taken
LOCAL_DEFAULT = BrokerConfig(host="127.0.0.1", port=DEFAULT_PORT)


class LocalBroker:
    """The broker of the crampwatch service on this computer, looked up afresh each time:
    the one its endpoint file names (same user account: with the internal credentials),
    else ``mqtt://127.0.0.1:1883`` (the embedded broker's port, or a local mosquitto).

    ``report`` receives the few lines a person should see (waiting, connected, lost).
    """

    client_id_prefix = "crampwatch"

    def __init__(
        self,
        endpoint_path: Path | None = None,
        *,
        report: Callable[[str], None] = log.info,
        fallback: BrokerConfig = LOCAL_DEFAULT,
        poll_s: float = 1.0,
        waiting_poll_s: float = 0.25,
    ) -> None:
        self.endpoint_path = endpoint_path or default_endpoint_path()
        self.report = report
        self.fallback = fallback
        self.poll_s = poll_s  # how often a connected consumer checks the endpoint file
        # while waiting, look often: the first events of a run follow its start closely
        self.waiting_poll_s = waiting_poll_s
        self._said: str | None = None

    def current(self) -> BrokerConfig:
        return read_endpoint(self.endpoint_path) or self.fallback

    def say(self, line: str) -> None:
        """Report ``line`` unless it was the last one said (a status, not a log)."""
        if line != self._said:
            self._said = line
            self.report(line)


def default_client_id(config: BrokerConfig | LocalBroker, role: str) -> str:
    """``<prefix>-<role>-<host name>``: stable across restarts (the persistent session is
    found again) and distinct per machine (two alarms must not kick each other off)."""
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())
    return f"{config.client_id_prefix}-{role}-{host or 'host'}"[:64]


class InvalidMessage(ValueError):
    """A message that is not what its topic promises (bad JSON, schema violation)."""


class Subscriber:
    """A persistent-session MQTT subscriber running in paho's network thread.

    ``handler(topic, payload)`` is called for every message; raising
    :class:`InvalidMessage` counts it in :attr:`invalid`, any other exception in
    :attr:`errors`; neither stops the subscriber. ``ack_on_error``: acknowledge a
    message whose handler failed (True) or leave it with the broker (False).

    ``config`` a :class:`LocalBroker`: follow the local service (see :meth:`_follow`)
    instead of connecting once to a fixed broker.

    ``resubscribe_after_s``: a subscription the broker has not confirmed after this many
    seconds is sent again (counted in :attr:`resubscribes`). MQTT 3.1.1 and 5 resend an
    unanswered SUBSCRIBE only on a new connection, so one lost on a live connection
    would leave an alarm deaf for the night.
    """

    def __init__(
        self,
        config: BrokerConfig | LocalBroker,
        client_id: str,
        subscriptions: Sequence[str],
        handler: Handler,
        *,
        persistent: bool = True,
        ack_on_error: bool = True,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 15.0,
        resubscribe_after_s: float = 5.0,
    ) -> None:
        self._local = config if isinstance(config, LocalBroker) else None
        self.config = config.fallback if isinstance(config, LocalBroker) else config
        self.client_id = client_id
        self.subscriptions = tuple(subscriptions)
        self.handler = handler
        self.persistent = persistent
        self.ack_on_error = ack_on_error
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._client: mqtt.Client | None = None
        self._follower: threading.Thread | None = None
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._sub_mids: set[int] = set()  # SUBSCRIBEs of the current connection
        self._sub_lock = threading.Lock()  # a SUBACK may race the recording of its mid
        self._resubscribe_after_s = resubscribe_after_s
        self._out_lock = threading.Lock()
        # held while a message is handled and acknowledged: a disconnect waits for it
        self._handling = threading.Lock()
        self._retained: dict[str, str] = {}  # topic -> payload, sent on every connection
        self._held: list[tuple[str, str]] = []  # published while there was no connection
        self.invalid = 0
        self.errors = 0
        self.received = 0
        self.connects = 0
        self.resubscribes = 0

    def start(self) -> None:
        """Connect in the background (reconnecting with backoff until :meth:`stop`).

        A fixed broker that is unreachable raises :class:`CrampwatchError`; a
        :class:`LocalBroker` is waited for.
        """
        self._stopping.clear()
        if self._local is None:
            self._connect(self.config)
            return
        self._follower = threading.Thread(
            target=self._follow, args=(self._local,), name="crampwatch-follow", daemon=True
        )
        self._follower.start()

    def _follow(self, local: LocalBroker) -> None:
        """Until :meth:`stop`: connect to the local service's broker once it accepts
        connections; when the endpoint file names another broker (the service restarted
        with a new port or password, or stopped), drop the old connection and follow."""
        while True:
            target = local.current()
            if self._client is None or target != self.config:
                self._disconnect()
                self.config = target
                try:
                    check_reachable(target, timeout_s=1.0)
                    self._connect(target)
                # anything (refused credentials, a TLS file): this thread must live on,
                # or the alarm would stay deaf for the night; the next look may succeed
                except Exception as exc:
                    self._disconnect()
                    local.say(f"waiting for the crampwatch service on {target.address} …")
                    log.debug("%s: %s", self.client_id, exc)
            waiting = not self._subscribed.is_set()
            if self._stopping.wait(local.waiting_poll_s if waiting else local.poll_s):
                return

    def _connect(self, config: BrokerConfig) -> None:
        protocol = probe_protocol(config)
        client = make_client(config, self.client_id, persistent=self.persistent, protocol=protocol)
        client.manual_ack_set(True)  # acknowledged in _on_message, after the handler
        # paho annotates the delays as int but computes with floats: sub-second delays work
        client.reconnect_delay_set(*self._backoff)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        connect_client(client, config, persistent=self.persistent)
        client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(5.0)
            self._follower = None
        self._disconnect()

    def _disconnect(self) -> None:
        """Close the connection without losing an acknowledgement: a message being
        handled is finished and acknowledged first (later ones stay with the broker for
        the next session), and the network thread runs until the DISCONNECT, queued
        behind every acknowledgement, is written — or a persistent session would get
        them all again."""
        client, self._client = self._client, None
        self._subscribed.clear()
        if client is None:
            return
        with self._handling:
            written = threading.Event()
            client.on_disconnect = lambda *_args: written.set()
            sent = client.disconnect() == mqtt.MQTT_ERR_SUCCESS
        if sent:
            written.wait(_DISCONNECT_WAIT_S)
        client.loop_stop()

    def wait_subscribed(self, timeout_s: float) -> bool:
        """True once the broker confirmed the subscriptions (within ``timeout_s`` s)."""
        return self._subscribed.wait(timeout_s)

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        """QoS 1 publish (queued by paho while offline). With no connection at all (still
        waiting for the local service) it is held until the next one; a retained message
        is sent again on every new connection (a restarted service's broker lacks it)."""
        with self._out_lock:
            if retain:
                self._retained[topic] = payload
            if self._client is None:
                if not retain:
                    self._held.append((topic, payload))
                return
            self._client.publish(topic, payload, qos=1, retain=retain)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason_code: Any, _p: Any
    ) -> None:
        if client is not self._client:
            return  # a connection being dropped (following the service elsewhere)
        if reason_code.is_failure:
            if self._local is not None:  # said once; paho retries, the endpoint may change
                self._local.say(f"the broker on {self.config.address} refused: {reason_code}")
            else:
                log.error(
                    "%s: broker %s refused: %s", self.client_id, self.config.address, reason_code
                )
            return
        self.connects += 1
        if self._local is not None:
            self._local.say(f"connected to the crampwatch service on {self.config.address}")
        log.info(
            "%s connected to %s (session present: %s)",
            self.client_id,
            self.config.address,
            flags.session_present,
        )
        # Subscribing again is harmless with a stored session and needed without one.
        with self._sub_lock:
            self._sub_mids.clear()
        self._subscribe(client)
        with self._out_lock:
            held, self._held = self._held, []
            for topic, payload in self._retained.items():
                client.publish(topic, payload, qos=1, retain=True)
            for topic, payload in held:
                client.publish(topic, payload, qos=1)

    def _subscribe(self, client: mqtt.Client) -> None:
        """Send the subscriptions and check, ``resubscribe_after_s`` later, that the
        broker confirmed them."""
        with self._sub_lock:
            _result, mid = client.subscribe([(t, 1) for t in self.subscriptions])
            if mid is not None:  # None: the connection is already gone; the next one subscribes
                self._sub_mids.add(mid)
        timer = threading.Timer(self._resubscribe_after_s, self._check_subscribed, (client,))
        timer.daemon = True
        timer.start()

    def _check_subscribed(self, client: mqtt.Client) -> None:
        if self._subscribed.is_set() or self._stopping.is_set() or client is not self._client:
            return
        if not client.is_connected():
            return  # the next connection subscribes afresh
        self.resubscribes += 1
        log.warning(
            "%s: the broker has not confirmed the subscriptions after %.0f s; sending them again",
            self.client_id,
            self._resubscribe_after_s,
        )
        self._subscribe(client)

    def _on_subscribe(self, client: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        with self._sub_lock:
            confirmed = mid in self._sub_mids
        if client is self._client and confirmed:
            self._subscribed.set()

    def _on_disconnect(self, client: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        if client is not self._client:
            return  # a deliberate disconnect (stop, or following the service elsewhere)
        self._subscribed.clear()
        if self._local is not None:
            # the service stopped or restarts: normal at the end of a night
            self._local.say(f"waiting for the crampwatch service on {self.config.address} …")
        else:
            log.warning("%s disconnected (%s); retrying", self.client_id, reason_code)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._handling:
            if client is not self._client:
                return  # disconnecting: unacknowledged, the next session gets it
            self._handle(client, msg)

    def _handle(self, client: mqtt.Client, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        try:
            self.handler(msg.topic, bytes(msg.payload))
        except InvalidMessage as exc:
            self.invalid += 1
            log.warning("invalid message on %s ignored: %s", msg.topic, exc)
        except Exception:
            self.errors += 1
            if not self.ack_on_error:
                log.exception("cannot handle a message on %s: left with the broker", msg.topic)
                return
            log.exception("error handling a message on %s", msg.topic)
        client.ack(msg.mid, msg.qos)
