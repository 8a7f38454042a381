"""CLI verbs ``detect``, ``evaluate`` and ``train`` (the I/O edge of ``crampwatch.detect``)."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from crampwatch.errors import CrampwatchError

__all__ = ["detect", "evaluate", "train"]


def _load_model(path: str | None):
    from crampwatch.detect.model import default_model, load_model

    return load_model(path) if path else default_model()


def _progress(total_s: float, label: str):
    """A rich progress bar on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        transient=True,
    )
    task = prog.add_task(label, total=max(total_s, 1e-9))
    return prog, lambda t: prog.update(task, completed=t)


@click.command("detect")
@click.argument("rec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="ROLE=LABEL",
    help="Map a channel role to an EDF label, e.g. emg_calf='Gastroc L'; one leg of a "
    "two-leg recording: emg_tibialis.left='Leg 1'.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write JSON Lines here (default: stdout).",
)
@click.option("--device-id", default="offline", show_default=True)
@click.option(
    "--leg",
    type=click.Choice(["left", "right"]),
    default=None,
    help="The leg of a one-leg recording (default: the side its label names, if any).",
)
@click.option(
    "--block-s",
    type=float,
    default=5.0,
    show_default=True,
    help="Replay block length; neither the results nor the speed depend on it.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Model file (default: shipped model or $CRAMPWATCH_MODEL).",
)
@click.option(
    "--emg-units",
    type=click.Choice(["auto", "calibrated", "unknown"]),
    default="auto",
    show_default=True,
    help="'unknown' when the EMG values are device counts or of an uncalibrated gain: "
    "leg movements are then scored relative to the resting level instead of in µV. "
    "'auto': unknown when the file's EMG unit is counts or empty, else calibrated.",
)
def detect(
    rec: Path,
    channels: Sequence[str],
    output: Path | None,
    device_id: str,
    leg: str | None,
    block_s: float,
    model_path: str | None,
    emg_units: str,
) -> None:
    """Replay a recording through the streaming detector; one JSON event per line.

    What runs depends on the channels (one line on stderr says which): the cramp alarm
    and leg movements with a calf EMG and a shin accelerometer; leg movements only
    otherwise, on one or both legs (a polysomnogram's 'Leg L' and 'Leg R'). A summary
    on stderr gives the PLM index, per hour of sleep when the recording has a
    hypnogram (stage annotations, or a '*-Hypnogram.edf' file beside it).
    """
    from crampwatch.detect.legs import detect_legs, detection_mode, plm_summary, summary_lines
    from crampwatch.detect.streaming import detect_recording
    from crampwatch.recordings import parse_channel_options, read_recording
    from crampwatch.recordings.channels import label_side
    from crampwatch.recordings.hypnogram import hypnogram_for

    if not block_s > 0:
        raise CrampwatchError(f"--block-s must be positive, got {block_s}")
    if not rec.is_file():
        raise CrampwatchError(f"recording not found: {rec}")
    channel_map = parse_channel_options(list(channels)) if channels else None
    recording = read_recording(rec, channel_map)
    mode = detection_mode(list(recording.signals))
    if leg is not None and len(mode.leg_channels) > 1:
        raise CrampwatchError("--leg: the recording has both legs; events carry their own leg")
    if leg is None and None in mode.leg_channels:  # one leg: its label may name the side
        leg = label_side(recording.labels.get(mode.leg_channels[None], ""))
    units = {"auto": None, "calibrated": True, "unknown": False}[emg_units]
    click.echo(mode.line, err=True)
    prog, cb = _progress(recording.duration_s, f"detect {rec.name}")
    try:
        if prog:
            prog.start()
        if mode.cramp_alarm:
            events = detect_recording(
                recording,
                device_id=device_id,
                block_s=block_s,
                model=_load_model(model_path),
                leg=leg,
                progress=cb,
                emg_units_known=units,
            )
        else:
            events = detect_legs(
                recording,
                mode.leg_channels,
                device_id=device_id,
                block_s=block_s,
                leg=leg,
                progress=cb,
                emg_units_known=units,
            )
    finally:
        if prog:
            prog.stop()
    lines = "".join(ev.to_json() + "\n" for ev in events)
    if output is None:
        click.echo(lines, nl=False)
    else:
        try:
            output.write_text(lines)
        except OSError as exc:
            raise CrampwatchError(f"cannot write {output}: {exc.strerror}") from None
    hyp = hypnogram_for(recording.annotations, recording.path, recording.start_time)
    # an EDF+D file's holes are not recording time
    recorded_s = recording.duration_s - sum(b - a for a, b in recording.gaps)
    summary = plm_summary(events, recording.duration_s, hyp, recorded_s=recorded_s)
    for line in summary_lines(summary):
        click.echo(line, err=True)


def _truth_for(rec: Path):
    """Ground truth of a recording: ``<stem>.truth.json`` beside it, else its EDF+
    annotations."""
    from crampwatch.simulate import read_truth, truth_path_for

    cand = truth_path_for(rec)
    return read_truth(cand if cand.is_file() else rec)


def metrics_table(results: dict[str, dict[str, Any]]):
    """A rich table: one row per :data:`~crampwatch.detect.metrics.METRICS` entry with its
    target, one column per evaluated set."""
    from rich.table import Table

    from crampwatch.detect.metrics import METRICS, format_causes, format_value

    table = Table(title="crampwatch detection: event-level metrics")
    table.add_column("metric")
    table.add_column("target")
    for name in results:
        table.add_column(name, justify="right")
    sets = list(results.values())
    table.add_row("nights", "", *[format_value(r.get("nights", "-"), 0) for r in sets])
    for m in METRICS:
        table.add_row(
            m.label, m.target, *[format_value(r.get(m.key, math.nan), m.digits) for r in sets]
        )
    table.add_row(
        "false cramps caused by", "", *[format_causes(r["false_alarm_causes"]) for r in sets]
    )
    table.add_row("seeds", "", *[str(r.get("seeds", "-")) for r in sets])
    return table


def evaluate_simulated(
    nights: int,
    hours: float,
    seed_base: int,
    variant: str,
    model,
    progress=None,
    cramp_boost: float = 1.0,
    workers: int = 2,
) -> dict[str, Any]:
    """Simulate held-out nights, replay them through the detector, score them (in a pool
    of ``workers`` processes, see :func:`run_nights`)."""
    from crampwatch.detect.metrics import summarize
    from crampwatch.detect.training import night_config

    seeds = [seed_base + i for i in range(nights)]
    jobs = [(s, hours, variant, None, cramp_boost) for s in seeds]
    scores = run_nights(jobs, model, workers=workers, progress=progress)
    calf_only = [not night_config(s, variant)["tibialis"] for s in seeds]
    out = summarize(scores)
    # leg movements are scored on the tibialis when present, on the calf otherwise; a
    # calf-only alarm waits for the calf to outlast a leg movement
    for name, keep in (("tib", False), ("calf_only", True)):
        sub = [sc for sc, c in zip(scores, calf_only, strict=True) if c == keep]
        part = summarize(sub) if sub else {}
        for key in (
            "cramp_sensitivity",
            "lm_f1",
            "false_alarms_per_8h",
            "latency_p50_s",
            "latency_p95_s",
        ):
            out[f"{key}_{name}"] = part.get(key, float("nan"))
        out[f"plm_index_error_{name}"] = part.get("plm_index_error_per_h", float("nan"))
    out["seeds"] = f"{seed_base}..{seed_base + nights - 1}"
    out["cramp_boost"] = cramp_boost
    return out


# No-cramp soak: (name, variant, tibialis override, first seed). Development used
# 40000.. / 41000.. / 42000.. (see docs/detection.md); these held-out seeds are used
# only for the figures in the model card, never to choose a rule.
SOAK_SETS: tuple[tuple[str, str, bool | None, int], ...] = (
    ("soak in-distribution", "train", None, 50_000),
    ("soak shifted", "shifted", None, 51_000),
    ("soak calf only", "shifted", False, 52_000),
)

_WORKER_MODEL: Any = None


def _soak_init(model, nice: int) -> None:
    import os

    global _WORKER_MODEL
    _WORKER_MODEL = model
    if nice:
        os.nice(nice)


def _soak_night(job: tuple[int, float, str, bool | None, float]):
    """One night of a soak: simulate, replay, score (runs in a worker process)."""
    from crampwatch.detect.metrics import score_night
    from crampwatch.detect.streaming import detect_recording
    from crampwatch.detect.training import simulated_night

    seed, hours, variant, tibialis, boost = job
    night = simulated_night(seed, hours, variant, cramp_boost=boost, tibialis=tibialis)
    events = detect_recording(night.recording, device_id="soak", model=_WORKER_MODEL)
    return score_night(
        events,
        night.truth,
        night.recording.duration_s / 3600,
        label=str(seed),
        calf_rest_uv=night.params.get("rest_calf_uv"),
    )


def run_nights(
    jobs: Sequence[tuple[int, float, str, bool | None, float]],
    model,
    *,
    workers: int = 2,
    nice: int = 5,
    progress=None,
) -> list:
    """Score simulated nights ``(seed, hours, variant, tibialis, cramp_boost)`` in a
    pool of ``workers`` processes at ``nice`` (1 worker: in this process)."""
    if workers <= 1:
        _soak_init(model, 0)
        out = []
        for job in jobs:
            out.append(_soak_night(job))
            if progress:
                progress(f"night seed {job[0]}")
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(workers, ctx, initializer=_soak_init, initargs=(model, nice)) as ex:
        out = []
        for sc in ex.map(_soak_night, jobs):
            out.append(sc)
            if progress:
                progress(f"night seed {sc.label}")
        return out


def evaluate_soak(
    nights: int, hours: float, model, *, workers: int = 2, seed_offset: int = 0, progress=None
) -> dict[str, dict[str, Any]]:
    """The no-cramp soak: ``nights`` cramp-free nights of ``hours`` per set of
    :data:`SOAK_SETS` (first seed + ``seed_offset``); false alarms per 100 nights of 8 h,
    each with its cause, and warnings per night."""
    from crampwatch.detect.metrics import summarize

    out: dict[str, dict[str, Any]] = {}
    for name, variant, tib, base in SOAK_SETS:
        first = base + seed_offset
        jobs = [(first + i, hours, variant, tib, 0.0) for i in range(nights)]
        scores = run_nights(jobs, model, workers=workers, progress=progress)
        res = summarize(scores)
        res["seeds"] = f"{first}..{first + nights - 1}"
        res["false_alarm_list"] = [
            f"seed {sc.label} t={t:.0f} s: {cause}"
            for sc in scores
            for t, cause in sc.false_alarm_times_s
        ]
        out[name] = res
    return out


@click.command("evaluate")
@click.argument("recs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--nights", type=int, default=12, show_default=True)
@click.option("--hours", type=float, default=2.0, show_default=True)
@click.option("--seed", type=int, default=None, help="First seed (default 20000 / 30000).")
@click.option(
    "--variant", type=click.Choice(["train", "shifted", "both"]), default="both", show_default=True
)
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--cramp-boost",
    type=float,
    default=4.0,
    show_default=True,
    help="Multiply the simulated cramp rate (more onsets to score per hour).",
)
@click.option(
    "--soak-nights",
    type=int,
    default=25,
    show_default=True,
    help="No-cramp soak: cramp-free nights per set (in distribution, shifted, calf only); "
    "0 skips it.",
)
@click.option("--soak-hours", type=float, default=8.0, show_default=True)
@click.option(
    "--workers",
    type=int,
    default=2,
    show_default=True,
    help="Processes for the simulated nights (niced).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option(
    "--psg",
    is_flag=True,
    help="Leg movements and the PLMS index on held-out simulated PSG nights (both legs' "
    "tibialis, no accelerometer, a hypnogram) instead.",
)
def evaluate(
    recs: Sequence[Path],
    nights: int,
    hours: float,
    seed: int | None,
    variant: str,
    model_path: str | None,
    cramp_boost: float,
    soak_nights: int,
    soak_hours: float,
    workers: int,
    as_json: bool,
    psg: bool,
) -> None:
    """Event-level metrics against ground truth (simulated held-out nights or REC files),
    and the no-cramp soak: false alarms per 100 nights of 8 h, each with its cause."""
    if psg:
        _evaluate_psg(nights, hours, seed, as_json)
        return
    from crampwatch.detect.metrics import score_night, summarize
    from crampwatch.detect.streaming import detect_recording
    from crampwatch.detect.training import EVAL_SEED_BASE, SHIFTED_SEED_BASE
    from crampwatch.recordings import read_recording

    if nights < 1 or hours <= 0:
        raise CrampwatchError("--nights must be ≥ 1 and --hours > 0")
    if soak_nights < 0 or soak_hours <= 0 or workers < 1:
        raise CrampwatchError("--soak-nights must be ≥ 0, --soak-hours > 0, --workers ≥ 1")
    model = _load_model(model_path)
    results: dict[str, dict[str, Any]] = {}
    if recs:
        scores = []
        for rec in recs:
            if not rec.is_file():
                raise CrampwatchError(f"recording not found: {rec}")
            recording = read_recording(rec)
            truth = _truth_for(rec)
            events = detect_recording(recording, device_id="eval", model=model)
            scores.append(score_night(events, truth, recording.duration_s / 3600, label=rec.name))
        results["recordings"] = summarize(scores)
    else:
        variants = ["train", "shifted"] if variant == "both" else [variant]
        for v in variants:
            base = (
                seed
                if seed is not None
                else (EVAL_SEED_BASE if v == "train" else SHIFTED_SEED_BASE)
            )
            name = "in-distribution" if v == "train" else "shifted"
            results[name] = evaluate_simulated(
                nights, hours, base, v, model, cramp_boost=cramp_boost, workers=workers
            )
        if soak_nights:
            results.update(evaluate_soak(soak_nights, soak_hours, model, workers=workers))
    if as_json:
        click.echo(json.dumps(results, indent=2, default=str))
        return
    from rich.console import Console

    console = Console()
    console.print(metrics_table(results))
    for name, r in results.items():
        for line in r.get("false_alarm_list", []) if name.startswith("soak") else []:
            console.print(f"{name}: false alarm, {line}")


def _evaluate_psg(nights: int, hours: float, seed: int | None, as_json: bool) -> None:
    """``evaluate --psg``: leg-movement F1 and PLMS-index error on simulated PSG nights."""
    from crampwatch.detect.metrics import format_value
    from crampwatch.detect.psg_eval import PSG_SEED_BASE, evaluate_psg

    if nights < 1 or hours <= 0:
        raise CrampwatchError("--nights must be ≥ 1 and --hours > 0")
    res = evaluate_psg(nights, hours, PSG_SEED_BASE if seed is None else seed)
    if as_json:
        click.echo(json.dumps({"psg": res}, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="crampwatch leg movements: simulated PSG nights (both legs, no accel)")
    table.add_column("metric")
    table.add_column("psg", justify="right")
    for key, label, digits in (
        ("nights", "nights", 0),
        ("hours", "hours", 1),
        ("lm_precision", "leg movement precision (per leg)", 3),
        ("lm_recall", "leg movement recall (per leg)", 3),
        ("lm_f1", "leg movement F1 (≥ 0.95)", 3),
        ("plms_index_error_per_h", "PLMS index error, /h of sleep (≤ 2)", 2),
        ("plms_index_error_max_per_h", "  worst night", 2),
    ):
        table.add_row(label, format_value(res[key], digits))
    Console().print(table)


@click.command("train")
@click.option("--nights", type=int, default=8, show_default=True, help="Training nights.")
@click.option("--val-nights", type=int, default=4, show_default=True)
@click.option("--hours", type=float, default=1.5, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--eval-nights",
    type=int,
    default=12,
    show_default=True,
    help="Held-out nights per variant for the model card (0: skip).",
)
@click.option("--eval-hours", type=float, default=2.0, show_default=True)
@click.option(
    "--soak-nights",
    type=int,
    default=0,
    show_default=True,
    help="No-cramp soak nights of 8 h per set for the model card (0: skip; 100 = 800 h).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the model and its card (default: the package's models/ folder).",
)
@click.option(
    "--from-edf",
    "from_edf",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Train on labelled EDF+ recordings in DIR instead.",
)
def train(
    nights: int,
    val_nights: int,
    hours: float,
    seed: int,
    eval_nights: int,
    eval_hours: float,
    soak_nights: int,
    output: Path | None,
    from_edf: Path | None,
) -> None:
    """Fit the detection model (simulated nights with fixed seeds, or labelled EDF+)."""
    from crampwatch.detect.card import write_model_card
    from crampwatch.detect.model import MODEL_FILENAME, packaged_model_dir, save_model
    from crampwatch.detect.training import (
        EVAL_SEED_BASE,
        SHIFTED_SEED_BASE,
        VALIDATION_OFFSET,
        frame_report,
        labelled_recordings,
        labelled_simulated,
        train_from_nights,
    )

    t0 = time.perf_counter()

    def say(msg: str) -> None:
        click.echo(f"[{time.perf_counter() - t0:6.1f} s] {msg}", err=True)

    if from_edf is not None:
        files = sorted(from_edf.glob("*.edf")) + sorted(from_edf.glob("*.bdf"))
        if len(files) < 2:
            raise CrampwatchError(
                f"{from_edf}: need at least 2 EDF+ recordings (train + validation)"
            )
        from crampwatch.recordings import read_recording

        pairs = [(read_recording(f), _truth_for(f)) for f in files]
        labelled = labelled_recordings(pairs, progress=say)
        n_val = max(1, len(labelled) // 4)
        train_n, val_n = labelled[:-n_val], labelled[-n_val:]
        config: dict[str, Any] = {"source": str(from_edf), "files": [f.name for f in files]}
    else:
        if nights < 1:
            raise CrampwatchError("--nights must be ≥ 1")
        train_seeds = [seed + i for i in range(nights)]
        val_seeds = [seed + VALIDATION_OFFSET + i for i in range(val_nights)]
        say(f"simulating {nights} training + {val_nights} validation nights of {hours} h")
        train_n = labelled_simulated(train_seeds, hours, "train", cramp_boost=20.0, progress=say)
        val_n = labelled_simulated(val_seeds, hours, "train", cramp_boost=4.0, progress=say)
        config = {
            "source": "simulator",
            "train_seeds": f"{train_seeds[0]}..{train_seeds[-1]}",
            "val_seeds": f"{val_seeds[0]}..{val_seeds[-1]}" if val_seeds else "-",
            "hours": hours,
            "cramp_boost": "20x (train), 4x (validation)",
        }
    model = train_from_nights(train_n, val_n, seed=seed, meta=config, progress=say)
    say(f"alarm thresholds chosen on validation nights: {dict(model.thresholds)}")
    frames = frame_report(model, val_n) if val_n else {}
    output = output or packaged_model_dir()
    output.mkdir(parents=True, exist_ok=True)
    path = save_model(model, output / MODEL_FILENAME)
    say(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    results: dict[str, dict[str, Any]] = {}
    if eval_nights > 0:
        for v, base in (("train", EVAL_SEED_BASE), ("shifted", SHIFTED_SEED_BASE)):
            name = "in-distribution" if v == "train" else "shifted"
            results[name] = evaluate_simulated(
                eval_nights, eval_hours, base, v, model, progress=say, cramp_boost=4.0
            )
    if soak_nights > 0:
        results.update(evaluate_soak(soak_nights, 8.0, model, progress=say))
    if results:
        from rich.console import Console

        Console(stderr=True).print(metrics_table(results))
    card = write_model_card(
        output / "MODEL_CARD.md",
        model,
        config=config,
        frame_metrics=frames,
        event_metrics=results,
        eval_command=f"crampwatch evaluate --nights {eval_nights} --hours {eval_hours} "
        f"--cramp-boost 4 --soak-nights {soak_nights}",
        train_command=f"crampwatch train --nights {nights} --val-nights {val_nights} "
        f"--hours {hours} --seed {seed} --eval-nights {eval_nights} --soak-nights {soak_nights}",
    )
    say(f"wrote {card}")
