"""``crampwatch run`` (the overnight service) and ``crampwatch demo``."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import click

from crampwatch.cli import verbose_option
from crampwatch.errors import CrampwatchError
from crampwatch.paths import default_db_path
from crampwatch.service.config import (
    ReplaySettings,
    ServiceConfig,
    check_device_id,
    load_config,
)

__all__ = ["demo", "run"]

log = logging.getLogger(__name__)


def apply_overrides(
    cfg: ServiceConfig,
    *,
    broker: str | None = None,
    device_id: str | None = None,
    replay: Path | None = None,
    speed: float | None = None,
    channels: tuple[str, ...] = (),
    record: bool | None = None,
) -> ServiceConfig:
    """The ✦ command-line overrides on top of the config file."""
    from crampwatch.recordings import parse_channel_options

    if broker is not None:
        cfg = dataclasses.replace(cfg, broker=dataclasses.replace(cfg.broker, url=broker))
    if device_id is not None:
        cfg = dataclasses.replace(cfg, device_id=check_device_id(device_id, "--device-id"))
    if replay is not None:
        cfg = dataclasses.replace(
            cfg, replay=ReplaySettings(path=str(replay)), sensors=(), simulator=None
        )
    if speed is not None or channels:
        if cfg.replay is None:
            raise CrampwatchError("--speed and --channel apply to a replay: add --replay REC")
        replay_settings = cfg.replay
        if speed is not None:
            if speed < 0:
                raise CrampwatchError(
                    f"--speed must be >= 0 (0 = as fast as possible), got {speed}"
                )
            replay_settings = dataclasses.replace(replay_settings, speed=speed)
        if channels:
            mapping = {**replay_settings.channels, **parse_channel_options(channels)}
            replay_settings = dataclasses.replace(replay_settings, channels=mapping)
        cfg = dataclasses.replace(cfg, replay=replay_settings)
    if record is not None:
        cfg = dataclasses.replace(cfg, recording=dataclasses.replace(cfg.recording, enabled=record))
    return cfg


@click.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML config (see configs/): sensors, broker, recording. Or use --replay REC.",
)
@click.option("--broker", default=None, help="mqtt://host:port, mqtts://..., or 'embedded'.")
@click.option("--device-id", default=None, help="The <device_id> in topics and events.")
@click.option(
    "--replay",
    type=click.Path(path_type=Path),
    default=None,
    help="Use an EDF/BDF recording as the sensor.",
)
@click.option(
    "--speed",
    type=float,
    default=None,
    help="Replay speed: times real time (default 1); 0 = as fast as possible.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="ROLE=LABEL",
    help="Map a recording's channel label to a role (repeatable).",
)
@click.option(
    "--record/--no-record",
    default=None,
    help="Write the raw night as EDF+ with the events (default: on).",
)
@verbose_option
def run(
    config_path: Path | None,
    broker: str | None,
    device_id: str | None,
    replay: Path | None,
    speed: float | None,
    channels: tuple[str, ...],
    record: bool | None,
) -> None:
    """The overnight service: sensors -> detection -> MQTT, until stopped.

    A replay ends by itself once the recording is consumed and every event is
    acknowledged by the broker. Not a medical device.
    """
    from crampwatch.acquire.base import Source
    from crampwatch.detect.legs import detection_mode
    from crampwatch.service.app import run_service

    cfg = apply_overrides(
        load_config(config_path),
        broker=broker,
        device_id=device_id,
        replay=replay,
        speed=speed,
        channels=channels,
        record=record,
    )

    def ready(sources: list[Source]) -> None:
        if cfg.source_kind != "none":
            click.echo(
                f"crampwatch: {_what(cfg)} as device {cfg.device_id!r}; the night is kept in "
                f"{default_db_path()} (Ctrl-C stops)"
            )
        for source in sources:  # what runs on this sensor set's channels, in one line
            click.echo(f"{source.device_id}: {detection_mode(list(source.fs_hz)).line}")

    outcome = run_service(cfg, on_ready=ready)
    click.echo(outcome.summary_line())
    if (problem := outcome.error_line()) is not None:
        raise CrampwatchError(problem)


def _what(cfg: ServiceConfig) -> str:
    """What the run watches, in a few words."""
    if cfg.replay is not None:
        speed = cfg.replay.speed
        pace = "as fast as possible" if speed == 0 else f"at {speed:g}x real time"
        return f"replaying {cfg.replay.path} {pace}"
    if cfg.simulator is not None:
        sim = cfg.simulator
        return f"a simulated night of {sim.hours:g} h (seed {sim.seed})"
    sensors = ", ".join(
        f"{s.name or s.address} ({s.profile}{f', {s.leg} leg' if s.leg else ''})"
        for s in cfg.sensors
    )
    return f"watching {sensors}"


@click.command("demo")
@click.option(
    "--hours", type=float, default=1.0, show_default=True, help="Length of the simulated night."
)
@click.option(
    "--speed",
    type=float,
    default=60.0,
    show_default=True,
    help="Times real time (60: an hour a minute).",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("crampwatch-demo"),
    show_default=True,
    help="Folder for the event store, recording and report.",
)
@verbose_option
def demo(hours: float, speed: float, seed: int, out_dir: Path) -> None:
    """Zero configuration: a simulated night through the real pipeline, embedded broker,
    logger and alarm, then the morning review. No hardware, no network."""
    from crampwatch.service.demo import run_demo

    if hours < 0.5 or speed < 0:
        raise CrampwatchError("--hours must be at least 0.5 and --speed >= 0")
    run_demo(hours=hours, speed=speed, seed=seed, out_dir=out_dir)
