"""``EmbeddedBroker``: a pure-Python MQTT 3.1.1 broker (amqtt) on loopback: the default
broker of ``crampwatch run``, and the broker of the demo and of tests.

``crampwatch run`` asks for the standard MQTT port, ``127.0.0.1:1883`` (a free port only
when that one is taken, e.g. by a mosquitto): the port a ``crampwatch alarm`` on the same
computer tries when it has nothing else to go by.

It runs in its own thread with its own asyncio loop, so a busy detection loop in the
service cannot stall message delivery, and sync code (tests, CLI) can use
``start()``/``stop()`` while async code uses ``async with EmbeddedBroker() as b``.

Why a username and password: amqtt marks sessions of anonymous clients as anonymous
and never keeps them (no persistent session, so a restarted logger would miss events);
it only keeps a session for an authenticated client. The broker therefore has a single
random user (:attr:`EmbeddedBroker.config` carries it) for the service and for consumers
that read it from the service's endpoint file (same user account: persistent sessions).

Why anonymous clients too, from loopback only: on a bedside computer the service may run
under another account (a system user, another person's login) than the person who starts
``crampwatch alarm``, who then cannot read the service's endpoint file (mode 0600) and
tries ``127.0.0.1:1883`` without credentials. Such an alarm connects
without credentials; amqtt keeps no session for it, which the alarm does not need (an
alert older than its connection is not worth ringing for). The listener is bound to
127.0.0.1, so only programs on this computer get that far.

amqtt speaks MQTT 3.1.1 only, so the config pins that version (a v5 client with a
username would hang until keep-alive).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import secrets
import socket
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from crampwatch.errors import CrampwatchError
from crampwatch.publish.config import MQTT_V311, BrokerConfig, broker_for

__all__ = ["EmbeddedBroker", "broker_for", "free_port", "port_is_free"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a listener could bind ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the broker's listener does: a port in TIME_WAIT after a restart is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class SharedSecretAuthPlugin(BaseAuthPlugin):
    """amqtt auth plugin: one username/password pair, or no username from loopback
    (then the session is anonymous: amqtt keeps nothing for it)."""

    @dataclass
    class Config:
        username: str = ""
        password: str = ""

    async def authenticate(self, *, session: Session) -> bool | None:
        cfg = self.context.config
        if not session.username:
            session.is_anonymous = True
            return _is_loopback(session.remote_address)
        user_ok = hmac.compare_digest(str(session.username), cfg.username)
        pass_ok = hmac.compare_digest(str(session.password or ""), cfg.password)
        return user_ok and pass_ok


class EmbeddedBroker:
    """amqtt on ``127.0.0.1:<port>`` in a background thread.

    ``port``: that port; else ``preferred_port`` when it is free; else one the OS picks.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        preferred_port: int | None = None,
        start_timeout_s: float = 10.0,
    ) -> None:
        self.port = port
        self._preferred_port = preferred_port
        self._timeout_s = start_timeout_s
        self._username = "crampwatch"
        self._password = secrets.token_urlsafe(16)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def config(self) -> BrokerConfig:
        """How to reach this broker (loopback, its port, the internal user, MQTT 3.1.1)."""
        if self.port is None:
            raise CrampwatchError("the embedded broker is not started")
        return BrokerConfig(
            host=LOOPBACK,
            port=self.port,
            username=self._username,
            password=self._password,
            protocol=MQTT_V311,
            keepalive=30,
        )

    def _amqtt_config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{self.port}"}},
            "plugins": {
                f"{__name__}.SharedSecretAuthPlugin": {
                    "username": self._username,
                    "password": self._password,
                }
            },
        }

    # -- sync API ------------------------------------------------------------------------
    def start(self) -> EmbeddedBroker:
        """Start the broker thread; returns once it accepts connections."""
        if self._thread is not None:
            return self
        if self.port is None:
            preferred = self._preferred_port
            self.port = preferred if preferred and port_is_free(preferred) else free_port()
            if preferred and self.port != preferred:
                log.warning(
                    "port %d is taken on %s (another MQTT broker?): the embedded broker "
                    "uses %d; local consumers find it through the endpoint file",
                    preferred,
                    LOOPBACK,
                    self.port,
                )
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="crampwatch-broker", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout=self._timeout_s)
        except Exception as exc:
            self._thread = None
            raise CrampwatchError(
                f"embedded MQTT broker failed to start on port {self.port}: {exc}"
            ) from exc
        log.info("embedded MQTT broker listening on %s:%d", LOOPBACK, self.port)
        return self

    def stop(self) -> None:
        """Shut the broker down (clients see the connection close)."""
        if self._thread is None or self._loop is None or self._stopped is None:
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(self._timeout_s)
        self._thread = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- async API -------------------------------------------------------------------------
    async def __aenter__(self) -> EmbeddedBroker:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- broker thread ---------------------------------------------------------------------
    def _run(self, ready: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.exception("embedded MQTT broker crashed")
        finally:
            loop.close()

    async def _serve(self, ready: Future[None]) -> None:
        self._stopped = asyncio.Event()
        broker = Broker(self._amqtt_config(), loop=asyncio.get_running_loop())
        await broker.start()
        self._broker = broker
        ready.set_result(None)
        await self._stopped.wait()
        await broker.shutdown()
