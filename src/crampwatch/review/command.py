"""``crampwatch review``: the morning report from the logger's event store."""

from __future__ import annotations

import logging
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

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
) -> None:
    """The morning report: your night in the terminal, as an HTML page, and exports.

    Information, not a diagnosis: crampwatch is not a medical device.
    """
    from crampwatch.review.report import build_report
    from crampwatch.review.terminal import print_summary

    if night is not None and last:
        raise CrampwatchError("give either --night or --last, not both")
    if history < 1:
        raise CrampwatchError(f"--history must be at least 1, got {history}")
    db = db_path or default_db_path()
    with EventStore(db, create=False) as store:
        report = build_report(store, night, history_nights=history)
    print_summary(report)
    night_id = report.summary.night
    if open_browser and html_path is None:
        html_path = db.parent / "reports" / f"review-{night_id}.html"
    if html_path is not None:
        from crampwatch.review.html import render_html

        _write_text(html_path, render_html(report))
        click.echo(f"HTML report: {html_path}")
        if open_browser and not webbrowser.open(html_path.resolve().as_uri()):
            click.echo("could not start a browser; open the file above yourself")
    if csv_path is not None or json_path is not None:
        from crampwatch.review.export import write_csv, write_json

        if csv_path is not None:
            click.echo(f"CSV: {write_csv(csv_path, report.events)}")
        if json_path is not None:
            click.echo(f"JSON: {write_json(json_path, report.events)}")
    if edf_annotations:
        _export_edf(report)


def _export_edf(report: NightReport) -> None:
    from crampwatch.review.export import write_edf_annotations

    if not report.recordings:
        raise CrampwatchError(
            f"no recording stored for the night of {report.summary.night}: nothing to annotate"
        )
    for device, path in report.recordings:
        events = [se for se in report.events if se.event.device_id == device]
        if not Path(path).is_file():
            raise CrampwatchError(f"{path}: recording of {device} not found")
        out, n = write_edf_annotations(path, events)
        click.echo(f"EDF+ with {n} event annotations: {out}")
