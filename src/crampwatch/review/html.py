"""The morning report as one self-contained HTML page (opens offline).

No external assets: styles and the small check script are inline, plots are PNG data
URIs, and a Content-Security-Policy forbids loading anything else. Every text that
comes from data is escaped with :func:`html.escape`.

The inline script records, after load, how many images decoded and any error (script,
console or resource) into ``<body data-…>`` attributes, so a headless browser can check
the page with a DOM dump alone.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo

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

__all__ = ["render_html"]

_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

_CHECK_JS = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      errors.push('resource ' + t.tagName + ' ' + (t.src || t.href || ''));
    } else {
      errors.push('script ' + e.message);
    }
  }, true);
  document.addEventListener('securitypolicyviolation', function (e) {
    errors.push('csp ' + e.blockedURI);
  });
  var orig = console.error;
  console.error = function () {
    errors.push('console ' + Array.prototype.join.call(arguments, ' '));
    return orig.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var imgs = document.images, ok = 0;
    for (var i = 0; i < imgs.length; i++) {
      if (imgs[i].complete && imgs[i].naturalWidth > 0 && imgs[i].naturalHeight > 0) ok++;
    }
    var b = document.body;
    b.setAttribute('data-images-total', String(imgs.length));
    b.setAttribute('data-images-ok', String(ok));
    b.setAttribute('data-errors', JSON.stringify(errors));
    b.setAttribute('data-checked', 'yes');
  });
})();
"""

_CSS = """
:root { --ink:#2b2d42; --muted:#6c7086; --line:#e6e8ee; --bg:#f7f8fb; --card:#fff;
  --cramp:#d1495b; --plm:#6a4c93; --pos:#2a9d8f; --good:#3a9d5d; --bad:#e07b39; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
main { max-width:1140px; margin:0 auto; padding:24px 20px 48px; }
header h1 { font-size:1.7rem; margin:0 0 4px; }
header p { margin:0; color:var(--muted); }
.glance { font-size:1.1rem; margin:14px 0 4px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(160px,1fr)); gap:12px;
  margin:18px 0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:12px 14px; }
.card .num { font-size:1.9rem; font-weight:650; line-height:1.1; }
.card .lbl { color:var(--muted); font-size:.9rem; }
.card.cramp .num { color:var(--cramp); } .card.plm .num { color:var(--plm); }
.card.pos .num { color:var(--pos); } .card.good .num { color:var(--good); }
.card.bad .num { color:var(--bad); }
section { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:16px 18px; margin:16px 0; }
section h2 { font-size:1.2rem; margin:0 0 10px; }
img.plot { max-width:100%; height:auto; display:block; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit,minmax(440px,1fr)); gap:12px; }
table { border-collapse:collapse; width:100%; font-size:.95rem; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); }
th { color:var(--muted); font-weight:600; }
th.n { text-align:right; }
.help h3 { font-size:1rem; margin:4px 0; }
td.n { text-align:right; font-variant-numeric:tabular-nums; }
.legend span { display:inline-block; margin-right:14px; font-size:.9rem; color:var(--muted); }
.legend i { display:inline-block; width:12px; height:12px; border-radius:2px;
  margin-right:5px; vertical-align:-1px; }
.note { background:#fff7e6; border-left:4px solid var(--bad); padding:8px 12px; margin:8px 0;
  border-radius:4px; }
.muted { color:var(--muted); }
.help { display:grid; grid-template-columns:repeat(auto-fit,minmax(320px,1fr)); gap:16px; }
.help ul { margin:6px 0 0; padding-left:20px; }
footer { color:var(--muted); font-size:.85rem; margin-top:24px; }
@media print {
  body { background:#fff; font-size:12pt; }
  main { max-width:none; padding:0; }
  section, .card { break-inside:avoid; border-color:#ccc; }
}
"""

_WHAT_HELPS = """
<div>
<h3>During a cramp</h3>
<ul>
<li>Straighten the knee and pull your toes and foot up toward your shin: this lengthens
the calf muscle that is cramping.</li>
<li>Stand up and put your weight on the leg, heel on the floor; a few steps often help
the muscle let go.</li>
<li>Rub the calf firmly. Warmth afterwards (a warm shower, a heat pad) can ease the
soreness that may follow.</li>
</ul>
</div>
<div>
<h3>Before bed</h3>
<ul>
<li>A few minutes of calf stretching: face a wall, one leg back with the knee straight
and the heel down, lean forward until the calf feels the stretch, hold about
30 seconds, then change legs.</li>
<li>Keep the bedding loose over the feet, so the toes are not held pointing down all
night.</li>
</ul>
</div>
"""

_DOCTOR = """
<p>The figures on this page are estimates from a wearable sensor, meant to help you
describe your nights. They are not a diagnosis. It is worth talking to a doctor, and
bringing this report along, when:</p>
<ul>
<li>cramps wake you on several nights a week, or are becoming more frequent;</li>
<li>a cramp comes with swelling, redness or warmth of the calf, or pain that does not
settle (get this looked at soon);</li>
<li>you notice muscle weakness, numbness, or cramps spreading to other muscles;</li>
<li>your sleep is disturbed night after night, or the leg-movement index stays in the
higher ranges and you feel an urge to move your legs in the evening;</li>
<li>the cramps started around the time you began a new medicine.</li>
</ul>
"""


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _card(kind: str, key: str, num: str, label: str) -> str:
    return (
        f'<div class="card {kind}" id="card-{key}"><div class="num" data-value="{_e(num)}">'
        f'{_e(num)}</div><div class="lbl">{_e(label)}</div></div>'
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[object]], numeric: set[int]) -> str:
    th = "".join(
        f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _window_text(s: NightSummary, tz: tzinfo | None) -> str:
    return monitored_text(s, tz)


def _warnings_section(s: NightSummary, tz: tzinfo | None) -> str:
    if not s.cramp_warnings_s:
        return ""
    return (
        "<section id='warnings'><h2>Calf tightening</h2>"
        f"<p>{_e(warnings_text(s, tz))}. A slow rise of calf tone that may or may not "
        "become a cramp: crampwatch notes it and does not wake you for it.</p></section>"
    )


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


def _cramps_section(r: NightReport, tz: tzinfo | None) -> str:
    s = r.summary
    if not s.cramps:
        return (
            "<section id='cramps'><h2>Cramps</h2><p>No cramp was detected this night.</p></section>"
        )
    rows = [
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
    table = _table(
        ("time", "duration", "peak intensity", "leg", "alert after", "your response"),
        rows,
        {2, 4},
    )
    figs = [
        _img(
            plots.cramp_png(r.traces[c.event_id], c, s, tz),
            f"calf EMG around the cramp at {clock_time(s, c.onset_s, tz)}",
        )
        for c in s.cramps
        if c.event_id in r.traces
    ]
    detail = f'<div class="grid2">{"".join(figs)}</div>' if figs else ""
    explain = (
        "<p class='muted'>Each plot shows the calf muscle's activity (EMG envelope) from a "
        "minute before the cramp to a minute after it; the dashed line is the onset, the "
        "solid line the moment the alert went off.</p>"
        if figs
        else ""
    )
    return f"<section id='cramps'><h2>Cramps</h2>{table}{explain}{detail}</section>"


def _lm_section(s: NightSummary) -> str:
    _, band = s.plm_band
    if not s.n_leg_movements:
        return (
            "<section id='legs'><h2>Leg movements</h2><p>No leg movements were recorded."
            "</p></section>"
        )
    text = (
        f"<p>{s.n_leg_movements} leg movements were recorded, {s.n_periodic} of them in "
        f"periodic series (at least four movements 10 to 90 seconds apart). That is "
        f"<strong>{s.plm_index:.1f} periodic movements per hour</strong> of monitoring: "
        f"PLM index {_e(band)}. Many people have some periodic leg movements in sleep "
        f"without knowing; the number is information to discuss with a doctor if you "
        f"sleep badly, not a diagnosis.</p>"
    )
    fig = ""
    if len(s.lm_intervals_s) >= 1:
        fig = (
            _img(plots.intervals_png(s), "intervals between leg movements")
            + "<p class='muted'>Intervals between consecutive leg movements. Periodic "
            "series show up as a bump in the shaded 10–90 s range.</p>"
        )
    return f"<section id='legs'><h2>Leg movements</h2>{text}{fig}</section>"


def _positions_section(s: NightSummary, tz: tzinfo | None) -> str:
    n = len(s.position_changes_s)
    if not n:
        return "<section id='positions'><h2>Position changes</h2><p>None recorded.</p></section>"
    times = ", ".join(clock_time(s, t, tz) for t in s.position_changes_s)
    return (
        f"<section id='positions'><h2>Position changes</h2><p>You turned over {n} "
        f"time{'s' if n != 1 else ''}: {_e(times)}.</p></section>"
    )


def _dropouts_section(s: NightSummary, tz: tzinfo | None) -> str:
    if not s.dropouts:
        return (
            "<section id='dropouts'><h2>Sensor drop-outs</h2><p>The signal was usable "
            "throughout the night.</p></section>"
        )
    rows = [
        (clock_time(s, d.start_s, tz), format_duration(d.duration_s), d.label, d.leg or "—")
        for d in s.dropouts
    ]
    return (
        "<section id='dropouts'><h2>Sensor drop-outs</h2>"
        f"<p>{s.good_fraction:.0%} of the monitoring window had good signal.</p>"
        + _table(("from", "lasting", "what", "leg"), rows, {1})
        + "</section>"
    )


def _frequency_note(history: Sequence[NightSummary]) -> str:
    with_cramps, monitored = cramp_nights(history)
    if not monitored:
        return ""
    text = f"Cramps on {with_cramps} of the {monitored} monitored nights of the last week."
    if frequent_cramps(history):
        text += " Cramps on several nights a week are worth mentioning to a doctor."
        return f'<div class="note" id="frequency">{_e(text)}</div>'
    return f'<p id="frequency">{_e(text)}</p>'


def _trends_section(history: Sequence[NightSummary]) -> str:
    if len(history) < 2:
        return (
            "<section id='trends'><h2>Last nights</h2><p>Trends appear here once more than "
            "one night has been recorded.</p></section>"
        )
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
    return (
        f"<section id='trends'><h2>Last {len(history)} nights</h2>"
        + _frequency_note(history)
        + _img(plots.trends_png(history), "trends over the last nights")
        + _table(("night", "monitored", "cramps", "time in cramps", "PLM index /h"), rows, {2, 4})
        + "</section>"
    )


def _pretty_date(night: str) -> str:
    try:
        return date.fromisoformat(night).strftime("%A %d %B %Y")
    except ValueError:
        return night


def render_html(
    report: NightReport, *, tz: tzinfo | None = None, generated_at: datetime | None = None
) -> str:
    """The report page for one night. ``tz`` sets the clock times (default: local zone)."""
    s = report.summary
    zone = (generated_at or datetime.now(UTC)).astimezone(tz).tzname() or ""
    when = "elapsed time from the start" if s.origin is None else f"times in {zone}"
    key, band = s.plm_band
    device = f" — {report.device_id}" if report.device_id else ""
    cards = "".join(
        (
            _card("cramp", "cramps", str(len(s.real_cramps)), "cramps"),
            _card(
                "plm", "legs", str(s.n_leg_movements), f"leg movements ({s.n_periodic} periodic)"
            ),
            _card("plm", "plmi", f"{s.plm_index:.1f}", f"PLM index /h — {band}"),
            _card("pos", "positions", str(len(s.position_changes_s)), "position changes"),
            _card(
                "good", "good", f"{s.good_fraction:.0%}", "of the monitored time with good signal"
            ),
            _card("bad", "dropouts", str(len(s.dropouts)), "signal drop-outs"),
        )
    )
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
    note_html = "".join(f'<div class="note">{_e(n)}</div>' for n in notes)
    legend = (
        '<div class="legend"><span><i style="background:#9ad1a0"></i>good signal</span>'
        '<span><i style="background:#f4a261"></i>signal problem</span>'
        '<span><i style="background:#fff;outline:1px solid #bbb"></i>not monitored</span>'
        '<span><i style="background:#d1495b"></i>cramp</span>'
        '<span><i style="background:#c9c9d3"></i>marked “not a cramp”</span>'
        '<span><i style="background:#6a4c93"></i>periodic leg movement</span>'
        '<span><i style="background:#9bb1c8"></i>other leg movement</span>'
        '<span><i style="background:#2a9d8f"></i>position change</span></div>'
    )
    timeline = ""
    if s.window_s > 0:
        timeline = (
            "<section id='timeline'><h2>The night</h2>"
            + _img(plots.timeline_png(s, tz), "timeline of the night")
            + legend
            + "</section>"
        )
    generated = (generated_at or datetime.now(UTC)).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    body_attrs = (
        f'data-night="{_e(s.night)}" data-cramps="{len(s.real_cramps)}" '
        f'data-cramp-events="{len(s.cramps)}" data-leg-movements="{s.n_leg_movements}" '
        f'data-periodic="{s.n_periodic}" data-positions="{len(s.position_changes_s)}" '
        f'data-dropouts="{len(s.dropouts)}" data-plm-band="{_e(key)}" '
        f'data-cramp-warnings="{len(s.cramp_warnings_s)}"'
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crampwatch — night of {_e(s.night)}</title>
<script>{_CHECK_JS}</script>
<style>{_CSS}</style>
</head>
<body {body_attrs}>
<main>
<header>
<h1>Your night of {_e(_pretty_date(s.night))}{_e(device)}</h1>
<p>Monitored {_e(_window_text(s, tz))} · {_e(when)} · crampwatch is not a medical device</p>
<p class="glance">{_e(_glance(s))}</p>
</header>
<div class="cards">{cards}</div>
{note_html}
{timeline}
{_cramps_section(report, tz)}
{_warnings_section(s, tz)}
{_lm_section(s)}
{_positions_section(s, tz)}
{_dropouts_section(s, tz)}
{_trends_section(report.history)}
<section id="helps"><h2>What helps</h2><div class="help">{_WHAT_HELPS}</div></section>
<section id="doctor"><h2>When to see a doctor</h2>{_DOCTOR}</section>
<footer>crampwatch {_e(__version__)} · generated {_e(generated)} · crampwatch is not a
medical device: it helps you notice and describe your nights; it does not diagnose or
treat anything.</footer>
</main>
</body>
</html>
"""
