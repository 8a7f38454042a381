"""Command line: ``crampwatch <verb>``. This module only parses and dispatches.

Each verb lives beside the code it drives and is imported only when used, so
``crampwatch simulate`` never pays for Bluetooth or MQTT imports.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from crampwatch import __version__
from crampwatch.errors import CrampwatchError

__all__ = ["configure_logging", "main", "verbose_option"]

# Libraries whose INFO/WARNING lines are for their own developers (amqtt logs every
# connection, transitions every state change): shown only with --verbose.
QUIET_LIBRARIES = (
    "amqtt",
    "transitions",
    "bleak",
    "bleak_retry_connector",
    "bumble",
    "dbus_fast",
    "paho",
    "crampwatch.mqtt.paho",
    "websockets",
)

# verb -> "module:attribute" of a click command
VERBS: dict[str, tuple[str, str]] = {
    "run": (
        "crampwatch.service.command:run",
        "the overnight service",
    ),
    "demo": ("crampwatch.service.command:demo", "zero-configuration demo of a simulated night"),
    "simulate": (
        "crampwatch.simulate.command:simulate",
        "write a synthetic night",
    ),
    "detect": ("crampwatch.detect.command:detect", "replay a recording through the pipeline"),
    "evaluate": ("crampwatch.detect.command:evaluate", "score detections against ground truth"),
    "train": ("crampwatch.detect.command:train", "fit and save the detection model"),
    "scan": ("crampwatch.acquire.command:scan", "find BLE sensors nearby"),
    "devices": ("crampwatch.acquire.command:devices", "list supported sensor profiles"),
    "logger": ("crampwatch.consumers.command:logger", "store events from MQTT in SQLite"),
    "alarm": ("crampwatch.consumers.command:alarm", "wake alert with stretch prompts"),
    "review": ("crampwatch.review.command:review", "the morning report"),
}

# Verbs that stream a night: their matrix work is tiny and per hop, where a BLAS/OpenMP
# thread pool costs more CPU (and memory per thread) than it saves. `train` keeps threads.
SINGLE_THREADED = ("run", "demo", "detect", "evaluate")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in VERBS:
            return None
        target, short_help = VERBS[cmd_name]
        module_name, attr = target.split(":")
        if cmd_name in SINGLE_THREADED and "numpy" not in sys.modules:
            for var in _THREAD_VARS:  # read once, when numpy loads: set them first
                os.environ.setdefault(var, "1")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("crampwatch"):
                return _unavailable(cmd_name, short_help)
            raise
        return getattr(module, attr)


def _unavailable(name: str, short_help: str) -> click.Command:
    @click.command(name, help=f"{short_help} (not available in this build)")
    def cmd() -> None:
        raise CrampwatchError(f"'{name}' is not available in this build of crampwatch")

    return cmd


class _PlainFormatter(logging.Formatter):
    """``warning: <message>``: what a person reads, without timestamps or module names."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            text += f" ({record.exc_info[1]!r})"
        return text


def configure_logging(verbose: bool) -> None:
    """Default: warnings and errors only, one plain line each, libraries quiet.
    ``verbose``: everything from DEBUG up, with time and logger name."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    if verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_PlainFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.CRITICAL)


def _verbose_callback(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        configure_logging(True)


verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_verbose_callback,
    help="Log debug details (also from the libraries).",
)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crampwatch")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def cli(verbose: bool) -> None:
    """crampwatch: wakes you when a leg cramp starts, shows you your night in the morning.

    Not a medical device.
    """
    configure_logging(verbose)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="crampwatch", standalone_mode=False)
    except CrampwatchError as exc:
        click.echo(f"crampwatch: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("crampwatch: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
