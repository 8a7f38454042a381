"""Fixtures for tests against real MQTT brokers: mosquitto on a free loopback port
(started by the test: Debian's package does not start a service in a container) and
the in-process amqtt broker. Without ``/usr/sbin/mosquitto`` the mosquitto tests skip
locally and fail in CI (``CI=true``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from crampwatch.events import Event
from crampwatch.publish import BrokerConfig, EmbeddedBroker
from crampwatch.publish.broker import LOOPBACK, free_port
from support.events import make_event

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


def wait_for(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.02) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout_s`` seconds have passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


class Mosquitto:
    """A mosquitto process with disk persistence, restartable on the same port."""

    def __init__(self, workdir: Path, port: int, listener: Sequence[str] = ()) -> None:
        """``listener``: more lines for the listener (TLS files, ``allow_anonymous false``,
        a ``password_file``); by default an anonymous plain-TCP listener."""
        self.workdir = workdir
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        lines = [
            "per_listener_settings true",
            f"listener {port} {LOOPBACK}",
            *(listener or ["allow_anonymous true"]),
            "persistence true",
            f"persistence_location {workdir}/",
            # Sessions are saved only on a clean shutdown or every autosave_interval
            # (default 1800 s): save every second so a SIGKILL loses little.
            "autosave_interval 1",
            # The default 1000 drops QoS 1 messages to a slow or absent subscriber.
            "max_queued_messages 0",
            f"log_dest file {workdir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # As root mosquitto drops to user 'mosquitto', which then silently fails to
            # write the root-owned persistence folder.
            lines.append("user root")
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def config(self) -> BrokerConfig:
        return BrokerConfig(host=LOOPBACK, port=self.port, keepalive=5)

    @property
    def url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def accepting() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.2).close()
            except OSError:
                return False
            return True

        if not wait_for(accepting, timeout_s, 0.05):
            raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
        """SIGTERM: clean shutdown (sessions saved); SIGKILL: crash."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """``make(listener=[...])``: start another mosquitto (own folder, free port); all are
    stopped at the end of the test."""
    _require(os.path.exists(MOSQUITTO), f"mosquitto not installed at {MOSQUITTO}")
    started: list[Mosquitto] = []

    def make(listener: Sequence[str] = ()) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto{len(started)}", free_port(), listener)
        started.append(broker)
        broker.start()
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A fresh mosquitto (persistence on, anonymous) on a free loopback port."""
    return mosquitto_factory()


@pytest.fixture
def embedded_broker() -> Iterator[EmbeddedBroker]:
    """The in-process amqtt broker (MQTT 3.1.1, internal user) on a free port."""
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture(params=["mosquitto", "embedded"])
def any_broker(request: pytest.FixtureRequest) -> BrokerConfig:
    """Each test runs once against mosquitto and once against the embedded broker."""
    if request.param == "mosquitto":
        return request.getfixturevalue("mosquitto").config
    return request.getfixturevalue("embedded_broker").config


@pytest.fixture(name="make_event")
def make_event_fixture() -> Callable[..., Event]:
    return make_event


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., bool]:
    """:func:`wait_for`: poll a predicate with a timeout."""
    return wait_for
