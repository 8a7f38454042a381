"""The morning summary in the terminal (rich tables)."""

from __future__ import annotations

from datetime import tzinfo

from rich.console import Console, Group, JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crampwatch.review.report import NightReport
from crampwatch.review.summary import (
    NightSummary,
    clock_time,
    cramp_nights,
    format_duration,
    frequent_cramps,
    monitored_text,
    warnings_text,
)

__all__ = ["print_summary", "summary_renderable"]


def _overview(s: NightSummary, tz: tzinfo | None) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    window = monitored_text(s, tz)
    if s.window_source != "none":
        window += f", {s.good_fraction:.0%} with good signal"
    _, band = s.plm_band
    marked = len(s.cramps) - len(s.real_cramps)
    cramps = str(len(s.real_cramps)) + (f" (+{marked} marked “not a cramp”)" if marked else "")
    t.add_row("Monitoring", window)
    t.add_row("Cramps", cramps)
    t.add_row("Calf tightening", warnings_text(s, tz))
    t.add_row("Leg movements", f"{s.n_leg_movements} ({s.n_periodic} periodic)")
    t.add_row("PLM index", f"{s.plm_index:.1f} /h — {band}")
    t.add_row("Position changes", str(len(s.position_changes_s)))
    t.add_row("Signal drop-outs", str(len(s.dropouts)))
    return t


def _cramps(s: NightSummary, tz: tzinfo | None) -> Table:
    t = Table(title="Cramps", title_justify="left", expand=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("time", "left"),
        ("duration", "right"),
        ("peak", "right"),
        ("leg", "left"),
        ("alert after", "right"),
        ("your response", "left"),
    )
    for col, just in columns:
        t.add_column(col, justify=just)
    for c in s.cramps:
        t.add_row(
            clock_time(s, c.onset_s, tz),
            "ongoing at the end" if c.ongoing else format_duration(c.duration_s),
            "—" if c.peak_uv is None else f"{c.peak_uv:.0f} µV",
            c.leg or "—",
            "—" if c.alert_latency_s is None else f"{c.alert_latency_s:.0f} s",
            c.response,
        )
    return t


def _dropouts(s: NightSummary, tz: tzinfo | None) -> Table:
    t = Table(title="Sensor drop-outs", title_justify="left")
    t.add_column("from")
    t.add_column("lasting", justify="right")
    t.add_column("what")
    t.add_column("leg")
    for d in s.dropouts:
        t.add_row(
            clock_time(s, d.start_s, tz), format_duration(d.duration_s), d.label, d.leg or "—"
        )
    return t


def summary_renderable(report: NightReport, tz: tzinfo | None = None) -> Group:
    """The summary as a rich renderable (for printing or capturing in tests)."""
    s = report.summary
    device = f" — {report.device_id}" if report.device_id else ""
    parts: list = [
        Panel(
            _overview(s, tz),
            title=f"crampwatch — night of {s.night}{device}",
            subtitle="information, not a diagnosis · not a medical device",
            expand=False,
        )
    ]
    if s.cramps:
        parts.append(_cramps(s, tz))
    if s.dropouts:
        parts.append(_dropouts(s, tz))
    parts.extend(Text(f"What ran: {mode}", style="dim") for mode in report.modes)
    notes = list(report.notes)
    if s.empty:
        notes.append("Nothing was detected this night.")
    if s.short and s.window_source != "none":
        notes.append(f"Short night ({format_duration(s.window_s)}): per-hour figures are rough.")
    if frequent_cramps(report.history):
        n, of = cramp_nights(report.history)
        notes.append(
            f"Cramps on {n} of the last {of} monitored nights: worth mentioning to a doctor."
        )
    if s.plm_band[0] != "normal":
        notes.append("A PLM index above 15 /h is worth mentioning to a doctor if you sleep badly.")
    parts.extend(Text(n, style="yellow") for n in notes)
    return Group(*parts)


def print_summary(report: NightReport, console: Console | None = None, tz: tzinfo | None = None):
    """Print the night's summary to ``console`` (default: stdout)."""
    (console or Console()).print(summary_renderable(report, tz))
