"""The morning report as one self-contained HTML page (opens offline).

The page is the Jinja2 template ``review/templates/report.html`` (with ``report.css`` and
``report.js`` included inline), autoescaped: every text that comes from data is escaped.
No external assets: plots are PNG data URIs, and a Content-Security-Policy forbids
loading anything else. This module only gathers the figures the template shows.

The inline script records, after load, how many images decoded and any error (script,
console or resource) into ``<body data-…>`` attributes, so a headless browser can check
the page with a DOM dump alone.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from crampwatch import __version__
from crampwatch.review import plots
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
from crampwatch.templates import template_env

__all__ = ["render_html"]

_ENV = template_env("crampwatch.review", autoescape=True)


def _img(png: bytes, alt: str) -> dict[str, str]:
    return {"src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "alt": alt}


def _card(kind: str, key: str, num: str, label: str) -> dict[str, str]:
    return {"kind": kind, "key": key, "num": num, "label": label}


def _glance(s: NightSummary) -> str:
    """One sentence that says the night at a glance."""
    cramps = s.real_cramps
    if cramps:
        longest = max((c.duration_s or 0.0 for c in cramps), default=0.0)
        first = _count(len(cramps), "cramp")
        if longest > 0:
            first += f" (longest {format_duration(longest)})"
    else:
        first = "no cramps"
    lms = _count(s.n_leg_movements, "leg movement")
    if s.n_leg_movements:
        lms += f" ({s.n_periodic} periodic)"
    text = f"{first}, {lms}, {_count(len(s.position_changes_s), 'position change')}."
    return text[0].upper() + text[1:]


def _count(n: int, noun: str) -> str:
    """``no cramps``, ``1 cramp``, ``3 cramps``."""
    return f"no {noun}s" if n == 0 else f"{n} {noun}{'s' if n != 1 else ''}"


def _cramp_rows(s: NightSummary, tz: tzinfo | None) -> list[tuple[str, ...]]:
    return [
        (
            clock_time(s, c.onset_s, tz),
            "still going when monitoring stopped" if c.ongoing else format_duration(c.duration_s),
            "—" if c.peak_uv is None else f"{c.peak_uv:.0f} µV",
            c.leg or "—",
            "—" if c.alert_latency_s is None else f"{c.alert_latency_s:.0f} s",
            c.response,
        )
        for c in s.cramps
    ]


def _cramp_plots(r: NightReport, tz: tzinfo | None) -> list[dict[str, str]]:
    s = r.summary
    return [
        _img(
            plots.cramp_png(r.traces[c.event_id], c, s, tz),
            f"calf EMG around the cramp at {clock_time(s, c.onset_s, tz)}",
        )
        for c in s.cramps
        if c.event_id in r.traces
    ]


def _legs(s: NightSummary) -> dict[str, Any]:
    return {
        "n": s.n_leg_movements,
        "periodic": s.n_periodic,
        "plm_index": f"{s.plm_index:.1f}",
        "band": s.plm_band[1],
        "intervals": _img(plots.intervals_png(s), "intervals between leg movements")
        if s.n_leg_movements and len(s.lm_intervals_s) >= 1
        else None,
    }


def _dropout_rows(s: NightSummary, tz: tzinfo | None) -> list[tuple[str, ...]]:
    return [
        (clock_time(s, d.start_s, tz), format_duration(d.duration_s), d.label, d.leg or "—")
        for d in s.dropouts
    ]


def _frequency_note(history: Sequence[NightSummary]) -> str:
    with_cramps, monitored = cramp_nights(history)
    if not monitored:
        return ""
    text = f"Cramps on {with_cramps} of the {monitored} monitored nights of the last week."
    if frequent_cramps(history):
        text += " Cramps on several nights a week are worth mentioning to a doctor."
    return text


def _trends(history: Sequence[NightSummary]) -> dict[str, Any] | None:
    """The last nights, newest first (``None`` until there are two)."""
    if len(history) < 2:
        return None
    rows = [
        (
            h.night,
            format_duration(h.window_s),
            len(h.real_cramps),
            format_duration(sum(c.duration_s or 0.0 for c in h.real_cramps)),
            f"{h.plm_index:.1f}",
        )
        for h in reversed(history)
    ]
    return {
        "frequency": _frequency_note(history),
        "frequent": frequent_cramps(history),
        "plot": _img(plots.trends_png(history), "trends over the last nights"),
        "rows": rows,
    }


def _pretty_date(night: str) -> str:
    try:
        return date.fromisoformat(night).strftime("%A %d %B %Y")
    except ValueError:
        return night


def _notes(report: NightReport) -> list[str]:
    s = report.summary
    notes = list(report.notes)
    if s.window_source == "events":
        notes.append("The monitoring window is estimated from the events (no status or recording).")
    if s.short and s.window_source != "none":
        notes.append(
            f"Monitoring covered only {format_duration(s.window_s)}: per-hour figures are "
            "less reliable for a short night."
        )
    if s.empty:
        notes.append("Nothing was detected this night.")
    return notes


def _cards(s: NightSummary) -> list[dict[str, str]]:
    band = s.plm_band[1]
    return [
        _card("cramp", "cramps", str(len(s.real_cramps)), "cramps"),
        _card("plm", "legs", str(s.n_leg_movements), f"leg movements ({s.n_periodic} periodic)"),
        _card("plm", "plmi", f"{s.plm_index:.1f}", f"PLM index /h — {band}"),
        _card("pos", "positions", str(len(s.position_changes_s)), "position changes"),
        _card("good", "good", f"{s.good_fraction:.0%}", "of the monitored time with good signal"),
        _card("bad", "dropouts", str(len(s.dropouts)), "signal drop-outs"),
    ]


def _body_data(s: NightSummary) -> dict[str, object]:
    """The counts as ``<body data-…>`` attributes (what the browser test reads)."""
    return {
        "night": s.night,
        "cramps": len(s.real_cramps),
        "cramp-events": len(s.cramps),
        "leg-movements": s.n_leg_movements,
        "periodic": s.n_periodic,
        "positions": len(s.position_changes_s),
        "dropouts": len(s.dropouts),
        "plm-band": s.plm_band[0],
        "cramp-warnings": len(s.cramp_warnings_s),
    }


def render_html(
    report: NightReport, *, tz: tzinfo | None = None, generated_at: datetime | None = None
) -> str:
    """The report page for one night. ``tz`` sets the clock times (default: local zone)."""
    s = report.summary
    now = (generated_at or datetime.now(UTC)).astimezone(tz)
    zone = now.tzname() or ""
    return _ENV.get_template("report.html").render(
        night=s.night,
        pretty_date=_pretty_date(s.night),
        device_id=report.device_id,
        window_text=monitored_text(s, tz),
        when="elapsed time from the start" if s.origin is None else f"times in {zone}",
        glance=_glance(s),
        body_data=_body_data(s),
        cards=_cards(s),
        notes=_notes(report),
        timeline=_img(plots.timeline_png(s, tz), "timeline of the night")
        if s.window_s > 0
        else None,
        cramp_rows=_cramp_rows(s, tz),
        cramp_plots=_cramp_plots(report, tz),
        warnings_text=warnings_text(s, tz) if s.cramp_warnings_s else "",
        legs=_legs(s),
        positions=[clock_time(s, t, tz) for t in s.position_changes_s],
        good_signal=f"{s.good_fraction:.0%}",
        dropout_rows=_dropout_rows(s, tz),
        trends=_trends(report.history),
        version=__version__,
        generated=now.strftime("%Y-%m-%d %H:%M"),
    )
