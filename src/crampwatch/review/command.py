"""``crampwatch review``: the morning report from the logger's event store."""

from __future__ import annotations

import logging
import webbrowser
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from crampwatch.consumers.store import EventStore
from crampwatch.errors import CrampwatchError
from crampwatch.paths import default_db_path

if TYPE_CHECKING:
    from crampwatch.review.report import NightReport

__all__ = ["review"]

log = logging.getLogger(__name__)


def _write_text(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CrampwatchError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


@click.command("review")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Event store (default: $CRAMPWATCH_DB or ~/.local/share/crampwatch/events.sqlite).",
)
@click.option("--night", default=None, metavar="YYYY-MM-DD", help="The night to review.")
@click.option("--last", is_flag=True, help="Review the last recorded night (the default).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the HTML report there.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML report in a browser.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export the night's events as CSV.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export the night's events as JSON.",
)
@click.option(
    "--edf-annotations",
    is_flag=True,
    help="Write <recording>.events.edf: the night's recording with its events as EDF+ annotations.",
)
@click.option("--history", default=14, show_default=True, help="Nights shown in the trends.")
@click.option(
    "--device",
    "device_id",
    default=None,
    metavar="ID",
    help="Review this device's night only (a night with several devices shows each).",
)
@click.option(
    "--tz",
    "tz_name",
    default=None,
    metavar="ZONE",
    help="Time zone for clock times and noon-to-noon nights, e.g. Europe/Berlin "
    "(default: the local zone; TZ is respected).",
)
def review(
    db_path: Path | None,
    night: str | None,
    last: bool,
    html_path: Path | None,
    open_browser: bool,
    csv_path: Path | None,
    json_path: Path | None,
    edf_annotations: bool,
    history: int,
    device_id: str | None,
    tz_name: str | None,
) -> None:
    """The morning report: your night in the terminal, as an HTML page, and exports.

    Information, not a diagnosis: crampwatch is not a medical device.
    """
    from crampwatch.review.report import build_reports
    from crampwatch.review.terminal import print_summary

    if night is not None and last:
        raise CrampwatchError("give either --night or --last, not both")
    if history < 1:
        raise CrampwatchError(f"--history must be at least 1, got {history}")
    tz = _zone(tz_name)
    db = db_path or default_db_path()
    with EventStore(db, create=False) as store:
        reports = build_reports(store, night, history_nights=history, device_id=device_id, tz=tz)
    if len(reports) > 1:
        names = ", ".join(str(r.device_id) for r in reports)
        click.echo(
            f"The night of {reports[0].summary.night} has {len(reports)} devices ({names}): "
            "each is shown on its own; choose one with --device ID."
        )
    for report in reports:
        print_summary(report, tz=tz)
    if len(reports) > 1 and (html_path is not None or open_browser):
        raise CrampwatchError(
            f"the night of {reports[0].summary.night} has several devices: "
            "choose one with --device ID for the HTML report"
        )
    _html(reports[0], db, html_path, open_browser, tz)
    # exports hold events, each with its device: the whole night's, every device's
    events = [se for r in reports for se in r.events]
    if csv_path is not None or json_path is not None:
        from crampwatch.review.export import write_csv, write_json

        if csv_path is not None:
            click.echo(f"CSV: {write_csv(csv_path, events)}")
        if json_path is not None:
            click.echo(f"JSON: {write_json(json_path, events)}")
    if edf_annotations:
        if not any(r.recordings for r in reports):
            raise CrampwatchError(
                f"no recording stored for the night of {reports[0].summary.night}: "
                "nothing to annotate"
            )
        for report in reports:
            _export_edf(report)


def _zone(name: str | None) -> tzinfo | None:
    """``--tz`` as a zone (None: the local zone, which follows ``TZ``)."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CrampwatchError(f"--tz: unknown time zone {name!r} (e.g. Europe/Berlin)") from None


def _html(
    report: NightReport, db: Path, html_path: Path | None, open_browser: bool, tz: tzinfo | None
) -> None:
    if open_browser and html_path is None:
        html_path = db.parent / "reports" / f"review-{report.summary.night}.html"
    if html_path is None:
        return
    from crampwatch.review.html import render_html

    _write_text(html_path, render_html(report, tz=tz))
    click.echo(f"HTML report: {html_path}")
    if open_browser and not webbrowser.open(html_path.resolve().as_uri()):
        click.echo("could not start a browser; open the file above yourself")


def _export_edf(report: NightReport) -> None:
    from crampwatch.review.export import write_edf_annotations
    from crampwatch.review.report import recording_span, same_run

    for device, path in report.recordings:
        if not Path(path).is_file():
            raise CrampwatchError(f"{path}: recording of {device} not found")
        span = recording_span(Path(path))
        start = span[0] if span else None
        # a night with a restart has a recording per run: each gets its run's events
        events = [
            se for se in report.events if se.event.device_id == device and same_run(se.event, start)
        ]
        out, n = write_edf_annotations(path, events)
        click.echo(f"EDF+ with {n} event annotations: {out}")
