"""``crampwatch demo``: a scripted night through the real parts, in about a minute.

Simulated sensor (through the same :class:`~crampwatch.acquire.base.Source` interface
as a BLE sensor) → signal → detection → outbox → embedded MQTT broker → logger (SQLite)
and alarm (terminal) → the morning review. Nothing to install, no network.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn

from crampwatch.acquire.replay import ReplaySource
from crampwatch.consumers.alarm import Alarm, AlarmAction
from crampwatch.consumers.logger import EventLogger
from crampwatch.consumers.outputs import SoundCheck, SoundOutput, find_player
from crampwatch.consumers.store import EventStore, night_of
from crampwatch.events import Event, EventType
from crampwatch.publish.broker import EmbeddedBroker
from crampwatch.service.app import run_service
from crampwatch.service.config import RecordingSettings, ServiceConfig
from crampwatch.service.runner import RunResult
from crampwatch.service.sources import replay_block_s
from crampwatch.simulate import ScheduledEvent, simulate_night

__all__ = ["demo_schedule", "run_demo"]

DEVICE_ID = "demo"
ACK_AFTER_S = 4.0  # the demo presses "I'm awake" for you after this many seconds


def demo_schedule(hours: float) -> list[ScheduledEvent]:
    """A night with a bit of everything: a periodic leg-movement series, turning over, a
    calf stretch, a restless spell, electrode trouble and one cramp with a slow prodromal
    rise (the one that wakes you). Laid out for one hour (>= 0.5 h needed); a longer
    night spreads the same story over its length."""
    if hours < 0.5:
        raise ValueError("the demo night needs at least half an hour")
    k = max(1.0, hours)  # stretch factor over a one-hour night
    return [
        ScheduledEvent("turn_over", 120 * k, posture="side_left"),
        ScheduledEvent("plm_series", 300 * k, count=8, interval_s=25.0),
        ScheduledEvent("stretch", 620 * k, duration_s=6.0),
        ScheduledEvent("leg_movement", 760 * k, duration_s=2.0),
        ScheduledEvent(
            "cramp", 900 * k, duration_s=90.0, peak_uv=260.0, prodrome_s=30.0, reaction="stand_up"
        ),
        ScheduledEvent("restless_bout", 1260 * k, duration_s=60.0),
        ScheduledEvent("electrode_off", 1440 * k, duration_s=20.0, muscle="emg_calf"),
        ScheduledEvent("turn_over", 1560 * k, posture="supine"),
        ScheduledEvent("plm_series", 1620 * k, count=6, interval_s=30.0),
    ]


def _clock(t_s: float) -> str:
    t = int(t_s)
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"


class _DemoAlarmView:
    """Shows the wake alert and its prompts in the demo's console, rings it (the alarm's
    real sound output and the terminal bell), and acknowledges it on the sleeper's
    behalf after a few seconds (through the alarm's real ack path)."""

    def __init__(self, console: Console, sound: SoundCheck) -> None:
        self.console = console
        self.sound = sound
        self.alarm: Alarm | None = None
        self.rings = 0

    def handle(self, action: AlarmAction) -> None:
        if action.kind == "ring":
            self.rings += 1
            how = (
                f"tone through {Path(self.sound.player).name} and the terminal bell"
                if self.sound.player
                else "terminal bell only: no sound output works on this computer"
            )
            self.console.print(
                Panel(
                    f"[bold]{action.text}[/bold]\n\nRINGING ({how}) — the demo answers "
                    f"'I'm awake' in {ACK_AFTER_S:.0f} s",
                    title="[red]crampwatch alarm: ringing",
                    border_style="red",
                )
            )
            self.console.file.write("\a")  # the bell, as crampwatch alarm rings it
            self.console.file.flush()
            timer = threading.Timer(ACK_AFTER_S, self._ack, args=(action.event_id,))
            timer.daemon = True
            timer.start()
        elif action.kind == "prompt":
            self.console.print(
                Panel(action.text or "", title="stretch prompt", border_style="yellow")
            )
        elif action.kind in ("notice", "silence"):
            self.console.print(f"[yellow]alarm: {action.kind}: {action.text}[/yellow]")

    def _ack(self, event_id: str | None) -> None:
        if self.alarm is not None:
            self.alarm.acknowledge("ack", event_id, source="demo")


def _forget_previous_demo(db_path: Path, recordings_dir: Path) -> None:
    """A second demo starts a fresh demo night: the previous one's events, status and
    recordings (device ``demo`` only, whatever else the store holds) are removed, so
    that its counts are not added to the new night's."""
    if not db_path.exists():
        return
    with EventStore(db_path) as store:
        paths = store.forget_device(DEVICE_ID)
    for p in map(Path, paths):
        if p.suffix.lower() == ".edf" and p.resolve().is_relative_to(recordings_dir.resolve()):
            p.unlink(missing_ok=True)


def run_demo(
    *, hours: float, speed: float, seed: int, out_dir: Path, console: Console | None = None
) -> Path:
    """Run the demo night (replacing a previous demo's); returns the HTML report path."""
    console = console or Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "events.sqlite"
    _forget_previous_demo(db_path, out_dir / "recordings")
    console.print(
        Panel(
            "A simulated night streams through the real pipeline at "
            f"{speed:g}x real time. Leg movements are logged quietly; a cramp rings the alarm.\n"
            "[dim]crampwatch is not a medical device.[/dim]",
            title="crampwatch demo",
        )
    )
    start = datetime.now(UTC).replace(microsecond=0)
    night = simulate_night(hours, seed, start_time=start, schedule=demo_schedule(hours))
    source = ReplaySource(
        night.recording, device_id=DEVICE_ID, leg="left", speed=speed, block_s=replay_block_s(speed)
    )
    cfg = ServiceConfig(
        device_id=DEVICE_ID,
        recording=RecordingSettings(enabled=True, folder=str(out_dir / "recordings")),
        outbox=str(out_dir / "outbox.sqlite"),
        no_data_timeout_s=3600.0,
    )
    sound = find_player()
    console.print(sound.line(), style=None if sound.ok else "bold red")
    view = _DemoAlarmView(console, sound)
    outputs: list = [view] + ([SoundOutput(sound.player)] if sound.player else [])
    with EmbeddedBroker() as broker:
        logger = EventLogger(broker.config, db_path, recordings_dir=out_dir / "recordings")
        alarm = Alarm(broker.config, outputs, escalate_after_s=30.0, prompt_step_s=1.5)
        view.alarm = alarm
        logger.start()
        alarm.start()
        if not (logger.wait_subscribed(10) and alarm.wait_subscribed(10)):
            console.print("[red]the logger or alarm could not subscribe[/red]")
        progress = Progress(
            TextColumn("night {task.fields[clock]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            console=console,
        )

        def on_event(ev: Event) -> None:
            if ev.type != EventType.CRAMP and ev.end_s is not None:
                tag = " (periodic)" if ev.periodic else ""
                progress.console.print(f"[dim]{_clock(ev.onset_s)}  {ev.type}{tag}[/dim]")

        with progress:
            task = progress.add_task("night", total=night.recording.duration_s, clock=_clock(0))
            outcome = run_service(
                cfg,
                broker_config=broker.config,
                on_event=on_event,
                progress=lambda t: progress.update(task, completed=t, clock=_clock(t)),
                sources=([source], {DEVICE_ID: start}),
            )
        _wait_logged(db_path, night_of(start), outcome.result, timeout_s=10.0)
        time.sleep(ACK_AFTER_S + 0.5 if view.rings else 0.0)  # let the ack reach the log
        alarm.stop()
        logger.stop()
    console.print(outcome.summary_line())
    return _morning(console, db_path, outcome.result.recordings, start, out_dir)


def _wait_logged(db_path: Path, night: str, result: RunResult, timeout_s: float) -> None:
    """Until the logger stored every event of this run and registered the recording."""
    ids = {e.id for e in result.events}
    deadline = time.monotonic() + timeout_s
    with EventStore(db_path) as store:
        while time.monotonic() < deadline and (
            not ids <= {se.event.id for se in store.events(night)}
            or len(store.recordings(night)) < len(result.recordings)
        ):
            time.sleep(0.2)


def _morning(
    console: Console, db_path: Path, recordings: list[Path], start: datetime, out_dir: Path
) -> Path:
    from crampwatch.review.html import render_html
    from crampwatch.review.report import build_report
    from crampwatch.review.terminal import print_summary

    with EventStore(db_path) as store:
        report = build_report(store, night_of(start), device_id=DEVICE_ID)
    console.rule("the morning after")
    print_summary(report, console=console)
    html = out_dir / "report.html"
    html.write_text(render_html(report), encoding="utf-8")
    console.print(f"HTML report: {html}   (crampwatch review --db {db_path} --html FILE)")
    return html
