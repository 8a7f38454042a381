"""``crampwatch simulate``: write a synthetic night (EDF+) and its ground truth (JSON)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import click
from rich.console import Console

from crampwatch.errors import CrampwatchError
from crampwatch.simulate.night import (
    ACC_RATE_RANGE_HZ,
    EMG_RATE_RANGE_HZ,
    simulate_night,
    write_night,
)

__all__ = ["simulate"]


def _in_range(name: str, bounds: tuple[float, float]):
    def check(ctx: click.Context, param: click.Parameter, value: float) -> float:
        lo, hi = bounds
        if not lo <= value <= hi:
            raise CrampwatchError(f"{name} must be {lo:g}–{hi:g} Hz, got {value:g}")
        return value

    return check


@click.command("simulate")
@click.option("--hours", type=float, default=8.0, show_default=True, help="Length of the night.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="EDF+ file to write; the truth goes to <stem>.truth.json beside it.",
)
@click.option(
    "--emg-rate",
    type=float,
    default=1000.0,
    show_default=True,
    callback=_in_range("--emg-rate", EMG_RATE_RANGE_HZ),
    help="EMG sampling rate, Hz.",
)
@click.option(
    "--acc-rate",
    type=float,
    default=100.0,
    show_default=True,
    callback=_in_range("--acc-rate", ACC_RATE_RANGE_HZ),
    help="Accelerometer rate, Hz.",
)
@click.option(
    "--mains",
    type=click.Choice(["50", "60"]),
    default=None,
    help="Mains frequency (default: 50 for train, 60 for shifted).",
)
@click.option("--no-tibialis", is_flag=True, help="Leave out the tibialis EMG channel.")
@click.option(
    "--variant",
    type=click.Choice(["train", "shifted"]),
    default="train",
    show_default=True,
    help="Parameter ranges (shifted: out-of-distribution).",
)
def simulate(
    hours: float,
    seed: int,
    output: Path,
    emg_rate: float,
    acc_rate: float,
    mains: str | None,
    no_tibialis: bool,
    variant: str,
) -> None:
    """Write a synthetic overnight recording with ground truth (EDF+ and JSON)."""
    console = Console(stderr=True)
    out = Console(highlight=False, soft_wrap=True)
    started = time.perf_counter()
    with console.status(f"simulating {hours:g} h (seed {seed}, {variant})…"):
        night = simulate_night(
            hours,
            seed,
            emg_fs_hz=emg_rate,
            acc_fs_hz=acc_rate,
            mains_hz=None if mains is None else float(mains),
            tibialis=not no_tibialis,
            variant=variant,
        )
        edf_path, truth_path = write_night(night, output)
    elapsed = time.perf_counter() - started
    counts = Counter(e.type for e in night.truth)
    periodic = sum(1 for e in night.truth if e.periodic)
    issues = Counter(e.kind for e in night.truth if e.type == "signal_issue")
    parts = [
        f"{counts['cramp']} cramps",
        f"{counts['leg_movement']} leg movements ({periodic} periodic)",
        f"{counts['position_change']} position changes",
        f"{counts['stretch']} stretches",
        f"{counts['restless_bout']} restless bouts",
        f"{sum(issues.values())} signal issues",
    ]
    out.print(
        f"[bold]wrote[/bold] {edf_path} and {truth_path.name}: {hours:g} h, EMG {emg_rate:g} Hz, "
        f"acc {acc_rate:g} Hz, mains {night.params['mains_hz']:g} Hz, {variant}; "
        + ", ".join(parts)
        + f" [dim]({elapsed:.1f} s)[/dim]"
    )
