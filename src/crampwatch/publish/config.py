"""Broker connection settings and the paho-mqtt client factory shared by all MQTT parts.

``parse_broker_url`` turns ``mqtt://user:pass@host:port`` / ``mqtts://…`` into a frozen
:class:`BrokerConfig`; :func:`make_client` builds a paho-mqtt 2.x client (callback API
version 2) with TLS, credentials and the MQTT version chosen for that broker;
:func:`probe_protocol` finds out whether a broker speaks MQTT 5 (else 3.1.1).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from crampwatch.errors import CrampwatchError

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "MQTT_V5",
    "MQTT_V311",
    "BrokerConfig",
    "CredentialsRefused",
    "check_reachable",
    "connect_client",
    "make_client",
    "parse_broker_url",
    "probe_protocol",
    "without_password",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
MQTT_V311 = 4  # protocol level byte of MQTT 3.1.1
MQTT_V5 = 5

# A persistent consumer session must survive a night without the consumer (a week):
# MQTT 5 ends a session when the connection closes unless an expiry is given.
SESSION_EXPIRY_S = 7 * 24 * 3600


class CredentialsRefused(CrampwatchError):
    """The broker answered but refused the username/password (not worth retrying)."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to reach an MQTT broker.

    ``protocol`` is :data:`MQTT_V5`, :data:`MQTT_V311` or ``None`` (probe the broker
    once and use MQTT 5 where it speaks it). ``keepalive`` is in seconds.
    """

    host: str = "localhost"
    port: int = DEFAULT_PORT
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line
    ca_file: str | None = None
    client_id_prefix: str = "crampwatch"
    keepalive: int = 30
    protocol: int | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def with_protocol(self, protocol: int) -> BrokerConfig:
        return replace(self, protocol=protocol)


class _QuietShutdown(logging.Filter):
    """paho logs "Client is not connected" at ERROR when its loop runs once more after a
    deliberate disconnect; that is no error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Client is not connected"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return log.isEnabledFor(logging.DEBUG)
        return True


_PAHO_LOG = logging.getLogger("crampwatch.mqtt.paho")
_PAHO_LOG.addFilter(_QuietShutdown())


def parse_broker_url(url: str) -> BrokerConfig:
    """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://…`` → :class:`BrokerConfig`.

    A query ``?protocol=5`` / ``?protocol=3.1.1`` pins the MQTT version. A bad URL
    raises :class:`CrampwatchError` naming it, its password replaced by ``***``.
    """
    text = url.strip()
    url = without_password(text)  # the error lines below name it: logs, terminals
    if "://" not in text:
        raise CrampwatchError(f"broker URL must look like mqtt://host:port, got {url!r}")
    parts = urlsplit(text)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise CrampwatchError(f"broker URL scheme must be mqtt:// or mqtts://, got {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port
    except ValueError:
        raise CrampwatchError(f"bad port in broker URL {url!r}") from None
    if not parts.hostname:
        raise CrampwatchError(f"no host in broker URL {url!r}")
    if parts.path not in ("", "/"):
        raise CrampwatchError(f"broker URL takes no path, got {url!r}")
    protocol: int | None = None
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        if key != "protocol" or value not in ("5", "3.1.1", "311"):
            raise CrampwatchError(f"unknown broker URL option {item!r} in {url!r}")
        protocol = MQTT_V5 if value == "5" else MQTT_V311
    return BrokerConfig(
        host=parts.hostname,
        port=port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        protocol=protocol,
    )


def without_password(url: str) -> str:
    """``url`` with the password of its user part (up to the last ``@``) as ``***``."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def check_reachable(config: BrokerConfig, timeout_s: float = 3.0) -> None:
    """Raise ``CrampwatchError("broker unreachable: host:port (…)")`` if no TCP connection
    can be opened within ``timeout_s`` seconds."""
    try:
        with socket.create_connection((config.host, config.port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CrampwatchError(f"broker unreachable: {config.address} ({reason})") from exc


def make_client(
    config: BrokerConfig,
    client_id: str,
    *,
    persistent: bool = False,
    protocol: int | None = None,
) -> mqtt.Client:
    """A paho client (callback API v2) configured for ``config``; not yet connected.

    ``persistent`` asks the broker to keep the session (subscriptions and queued QoS 1
    messages) while the client is away: clean session off in 3.1.1, clean start off
    plus a session expiry in MQTT 5 (see :func:`connect_client`).
    """
    proto = protocol or config.protocol or MQTT_V311
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if proto == MQTT_V5 else mqtt.MQTTv311,
        # MQTT 5 has no clean session (paho refuses one): see connect_client
        clean_session=(not persistent) if proto == MQTT_V311 else None,
    )
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set(ca_certs=config.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    # Callbacks must never kill the network thread: our handlers catch their own
    # errors, and this is the backstop for anything they miss.
    client.suppress_exceptions = True
    client.enable_logger(_PAHO_LOG)
    return client


def connect_client(
    client: mqtt.Client, config: BrokerConfig, *, persistent: bool = False, blocking: bool = False
) -> None:
    """Connect (``connect_async`` unless ``blocking``), with ``persistent`` as given to
    :func:`make_client`. Raises ``OSError`` only when ``blocking``."""
    clean_start: mqtt.CleanStartOption = mqtt.MQTT_CLEAN_START_FIRST_ONLY  # paho's default
    properties: Properties | None = None
    if client.protocol == mqtt.MQTTv5:
        # paho's default is "clean start on the first connect only", which would drop
        # a consumer's stored session every time the consumer restarts.
        clean_start = not persistent
        if persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
    connect = client.connect if blocking else client.connect_async
    connect(
        config.host,
        config.port,
        keepalive=config.keepalive,
        clean_start=clean_start,
        properties=properties,
    )


def probe_protocol(config: BrokerConfig, timeout_s: float = 2.0) -> int:
    """The MQTT version to use with this broker: 5 where it speaks it, else 3.1.1.

    A pinned ``config.protocol`` is returned as is. Raises :class:`CrampwatchError` when
    the broker is unreachable or refuses the credentials.
    """
    if config.protocol is not None:
        return config.protocol
    check_reachable(config, timeout_s)
    client = make_client(
        config, f"{config.client_id_prefix}-probe-{uuid.uuid4().hex[:8]}", protocol=MQTT_V5
    )
    result: dict[str, ReasonCode] = {}
    done = threading.Event()

    def on_connect(_c, _u, _f, reason_code: ReasonCode, _p) -> None:
        result["rc"] = reason_code
        done.set()

    def on_disconnect(_c, _u, _f, _reason_code, _p) -> None:
        done.set()  # closed without a CONNACK

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        connect_client(client, config, blocking=True)
    except (OSError, ssl.SSLError) as exc:
        raise CrampwatchError(f"broker unreachable: {config.address} ({exc})") from exc
    deadline = time.monotonic() + timeout_s
    while not done.is_set() and time.monotonic() < deadline:
        client.loop(timeout=0.05)
    rc = result.get("rc")
    client.on_disconnect = None
    client.disconnect()
    # A 3.1.1-only broker answers a v5 CONNECT with "unacceptable protocol version",
    # closes the socket, or (amqtt with a username) says nothing until keep-alive.
    if rc is None or getattr(rc, "value", 0) in (1, 0x84):
        log.info("broker %s does not speak MQTT 5: using 3.1.1", config.address)
        return MQTT_V311
    if rc.value in (0x86, 0x87, 0x8C):
        raise CredentialsRefused(f"broker {config.address} refused the credentials ({rc})")
    if rc.is_failure:
        log.info("MQTT 5 CONNECT to %s refused (%s): using 3.1.1", config.address, rc)
        return MQTT_V311
    return MQTT_V5


@contextmanager
def broker_for(url: str | None) -> Iterator[BrokerConfig]:
    """The broker of a ``--broker`` option: ``embedded`` (or None) starts an
    :class:`~crampwatch.publish.broker.EmbeddedBroker` on 127.0.0.1:1883 (another free
    port when that one is taken) for the duration of the ``with`` block; anything else is
    parsed by :func:`parse_broker_url`.

    amqtt (and its yaml, websockets, transitions: ~14 MB) is imported only for
    ``embedded``: a service talking to mosquitto never loads it.
    """
    if url is None or url.strip().lower() == "embedded":
        from crampwatch.publish.broker import EmbeddedBroker

        with EmbeddedBroker(preferred_port=DEFAULT_PORT) as broker:
            yield broker.config
    else:
        yield parse_broker_url(url)
