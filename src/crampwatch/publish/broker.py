"""``EmbeddedBroker``: a pure-Python MQTT 3.1.1 broker (amqtt) on loopback, for the
zero-configuration demo and for tests.

It runs in its own thread with its own asyncio loop, so a busy detection loop in the
service cannot stall message delivery, and sync code (tests, CLI) can use
``start()``/``stop()`` while async code uses ``async with EmbeddedBroker() as b``.

Why a username and password: amqtt marks sessions of anonymous clients as anonymous
and never keeps them (no persistent session, so a restarted logger would miss events);
it only keeps a session for an authenticated client. The broker therefore accepts a
single random user (:attr:`EmbeddedBroker.config` carries it) and nobody else, which
also keeps other local users off the loopback port. amqtt speaks MQTT 3.1.1 only, so
the config pins that version (a v5 client with a username would hang until keep-alive).
"""

from __future__ import annotations

import asyncio
import hmac
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

__all__ = ["EmbeddedBroker", "broker_for", "free_port"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SharedSecretAuthPlugin(BaseAuthPlugin):
    """amqtt auth plugin: exactly one username/password pair is accepted."""

    @dataclass
    class Config:
        username: str = ""
        password: str = ""

    async def authenticate(self, *, session: Session) -> bool | None:
        cfg = self.context.config
        user_ok = hmac.compare_digest(str(session.username or ""), cfg.username)
        pass_ok = hmac.compare_digest(str(session.password or ""), cfg.password)
        return bool(session.username) and user_ok and pass_ok


class EmbeddedBroker:
    """amqtt on ``127.0.0.1:<port>`` (a free port unless given) in a background thread."""

    def __init__(self, port: int | None = None, *, start_timeout_s: float = 10.0) -> None:
        self.port = port
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
            self.port = free_port()
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
