"""``crampwatch logger`` and ``crampwatch alarm``: the MQTT consumers on their own.

Both take ``--broker URL`` (``mqtt://[user:pass@]host:port``, ``mqtts://…``, or
``embedded`` to start the in-process broker); an unreachable ``--broker`` is one error
line and exit status 2. Without it they follow the crampwatch service on this computer
(its endpoint file, else ``mqtt://127.0.0.1:1883``), waiting for it while it is not up.
Both run until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import click

from crampwatch.cli import verbose_option
from crampwatch.consumers.alarm import Alarm
from crampwatch.consumers.client import LocalBroker
from crampwatch.consumers.logger import EventLogger
from crampwatch.consumers.outputs import SoundCheck, default_outputs, find_player
from crampwatch.consumers.store import default_db_path
from crampwatch.errors import CrampwatchError
from crampwatch.publish.config import BrokerConfig, broker_for, check_reachable

__all__ = ["alarm", "logger"]

_broker_option = click.option(
    "--broker",
    "broker_url",
    default=None,
    help="mqtt://[user:pass@]host:port, mqtts://…, or 'embedded' "
    "(default: the crampwatch service on this computer, waited for).",
)


def _broker(url: str | None) -> AbstractContextManager[BrokerConfig | LocalBroker]:
    """The ``--broker`` given (checked reachable: one error line if not), or the local
    service followed wherever it is."""
    if url is None:
        return nullcontext(LocalBroker(report=click.echo))
    return _reachable(url)


@contextlib.contextmanager
def _reachable(url: str) -> Iterator[BrokerConfig]:
    with broker_for(url) as config:
        check_reachable(config)
        yield config


def _wait_subscribed(consumer: Alarm | EventLogger, config: BrokerConfig | LocalBroker) -> None:
    if isinstance(config, BrokerConfig) and not consumer.wait_subscribed(10.0):
        raise CrampwatchError(f"broker {config.address} did not confirm the subscription")


def _where(config: BrokerConfig | LocalBroker) -> str:
    return (
        config.address
        if isinstance(config, BrokerConfig)
        else "the crampwatch service on this computer"
    )


_client_id_option = click.option(
    "--client-id", default=None, help="MQTT client id (keeps the persistent session)."
)


@click.command("logger")
@_broker_option
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Event store (default: $CRAMPWATCH_DB or {default_db_path()}).",
)
@click.option(
    "--recordings",
    "recordings_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The service's recordings folder: announced recordings are registered only "
    "inside it (default: $CRAMPWATCH_DATA/recordings or ~/.local/share/crampwatch/recordings).",
)
@_client_id_option
@verbose_option
def logger(
    broker_url: str, db: Path | None, recordings_dir: Path | None, client_id: str | None
) -> None:
    """Store every device's events from MQTT in SQLite, grouped into nights."""
    db_path = db or default_db_path()
    _interrupt_on_sigterm()
    # Ctrl-C / SIGTERM at any point is a clean stop (exit 0): before connecting there is
    # nothing to close; once connecting, a persistent session's queued events may already
    # be stored, and the summary says so
    with contextlib.suppress(KeyboardInterrupt), _broker(broker_url) as config:
        event_logger = EventLogger(
            config, db_path, client_id=client_id, recordings_dir=recordings_dir
        )
        try:
            with contextlib.suppress(KeyboardInterrupt):
                event_logger.start()
                _wait_subscribed(event_logger, config)
                click.echo(f"logging events from {_where(config)} into {db_path} (Ctrl-C stops)")
                while True:
                    time.sleep(1.0)
        finally:
            c = event_logger.counters
            event_logger.stop()
        # not after an error (refused credentials, …): its one line only
        click.echo(
            f"stored {c.stored} events ({c.updated} updates, {c.duplicates} duplicates "
            f"dropped, {c.invalid} invalid messages, {c.labels} labels, "
            f"{c.errors} could not be stored)"
        )


@click.command("alarm")
@_broker_option
@click.option(
    "--escalate-after",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Seconds without acknowledgement before the alarm gets louder.",
)
@click.option(
    "--prompt-step",
    type=click.FloatRange(min=1.0),
    default=20.0,
    show_default=True,
    help="Seconds each stretch prompt stays on screen.",
)
@click.option(
    "--max-age",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Do not ring for a cramp onset older than this many seconds (wall clock).",
)
@click.option("--no-sound", is_flag=True, help="Terminal bell only, no audio player.")
@click.option(
    "--warnings",
    "show_warnings",
    is_flag=True,
    help="Show a quiet notice for calf tightening (cramp_warning); it never rings.",
)
@_client_id_option
@verbose_option
def alarm(
    broker_url: str,
    escalate_after: float,
    prompt_step: float,
    max_age: float | None,
    no_sound: bool,
    show_warnings: bool,
    client_id: str | None,
) -> None:
    """Wake alert with stretch prompts on a cramp onset (keys: a = awake, n = not a cramp)."""
    _interrupt_on_sigterm()
    sound = SoundCheck(None, ("turned off with --no-sound",)) if no_sound else find_player()
    if no_sound:
        click.echo("sound: off (--no-sound): the terminal bell only")
    else:
        click.secho(sound.line(), bold=not sound.ok, fg=None if sound.ok else "red")
    # Ctrl-C / SIGTERM at any point is a clean stop (exit 0), connecting or not
    with contextlib.suppress(KeyboardInterrupt), _broker(broker_url) as config:
        the_alarm = Alarm(
            config,
            default_outputs(sound=not no_sound, check=sound),
            escalate_after_s=escalate_after,
            prompt_step_s=prompt_step,
            stale_after_s=max_age,
            client_id=client_id,
            show_warnings=show_warnings,
            sound=sound,
        )
        try:
            with contextlib.suppress(KeyboardInterrupt):
                the_alarm.start()
                _wait_subscribed(the_alarm, config)
                click.echo(
                    f"alarm armed on {_where(config)}: a = I'm awake, n = not a cramp, q = quit"
                )
                for key in _keys():
                    if key in ("a", " ", "\n", "\r"):
                        the_alarm.acknowledge("ack", source="key")
                    elif key == "n":
                        the_alarm.acknowledge("not_a_cramp", source="key")
                    elif key == "q":
                        break
        finally:
            the_alarm.stop()


def _interrupt_on_sigterm() -> None:
    """Stop on SIGTERM (systemd, docker stop) as on Ctrl-C: clean disconnect, summary."""

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _keys(poll_s: float = 0.2) -> Iterator[str]:
    """Single key presses from a terminal stdin (nothing, forever, without one)."""
    if not sys.stdin.isatty():
        while True:
            time.sleep(1.0)
            yield ""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)  # keys arrive one by one, without Enter
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], poll_s)
            yield sys.stdin.read(1).lower() if ready else ""
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
