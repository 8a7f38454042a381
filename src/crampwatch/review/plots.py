"""The review's figures, as PNG bytes (matplotlib, Agg canvas, no global pyplot state).

Each function takes computed results (a ``NightSummary``, a ``CrampTrace``) and draws;
nothing here computes a statistic. Times on the axes are wall-clock (local zone) when
the night's start is known, else elapsed time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import tzinfo

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from crampwatch.detect.wasm import PLM_MAX_INTERVAL_S, PLM_MIN_INTERVAL_S
from crampwatch.review.report import CrampTrace
from crampwatch.review.summary import CrampSummary, NightSummary, clock_time

__all__ = ["COLORS", "clock_ticks", "cramp_png", "intervals_png", "timeline_png", "trends_png"]

COLORS = {
    "cramp": "#d1495b",
    "dismissed": "#c9c9d3",
    "periodic": "#6a4c93",
    "lm": "#9bb1c8",
    "position": "#2a9d8f",
    "good": "#9ad1a0",
    "bad": "#f4a261",
    "alert": "#e76f51",
    "ink": "#2b2d42",
    "grid": "#e6e8ee",
}
_DPI = 100


def _figure(w_in: float, h_in: float) -> Figure:
    fig = Figure(figsize=(w_in, h_in), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    return buf.getvalue()


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=COLORS["ink"], labelsize=9)
    ax.grid(axis="x", color=COLORS["grid"], linewidth=0.8)
    ax.set_axisbelow(True)


def clock_ticks(
    summary: NightSummary, lo_s: float, hi_s: float, tz: tzinfo | None = None, max_ticks: int = 12
) -> list[float]:
    """Tick positions (recording s) on round local clock times (every 5, 10, 15, 30 min,
    1, 2 h...), or on round elapsed times when the night's start is unknown."""
    span = max(hi_s - lo_s, 1.0)
    steps = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
    step = next((s for s in steps if span / s <= max_ticks), steps[-1])
    base = 0.0  # local wall-clock seconds (since the epoch) of recording second 0
    if summary.origin is not None:
        offset = summary.origin.astimezone(tz).utcoffset()
        base = summary.origin.timestamp() + (offset.total_seconds() if offset else 0.0)
    first = math.ceil((base + lo_s) / step) * step - base
    return [float(t) for t in np.arange(first, hi_s + 1e-9, step)]


def timeline_png(summary: NightSummary, tz: tzinfo | None = None) -> bytes:
    """The night as four lanes over time: signal quality, cramps, leg movements, position."""
    fig = _figure(11.0, 2.9)
    ax = fig.add_subplot()
    _style(ax)
    lo, hi = summary.window_start_s, max(summary.window_end_s, summary.window_start_s + 60)
    lanes = {"Signal": 3, "Cramps": 2, "Leg movements": 1, "Position": 0}
    h = 0.6
    # monitored runs only: a gap between runs (not monitored) stays blank
    runs = summary.monitored or ((lo, hi),)
    ax.broken_barh([(a, b - a) for a, b in runs], (3 - h / 2, h), color=COLORS["good"])
    ax.broken_barh([(a, b - a) for a, b in summary.bad_spans], (3 - h / 2, h), color=COLORS["bad"])
    min_w = (hi - lo) / 400  # keep a 10-s cramp visible on an 8-h axis
    for not_a_cramp in (False, True):
        ax.broken_barh(
            [
                (c.onset_s, max(min_w, c.duration_s or 30.0))
                for c in summary.cramps
                if c.not_a_cramp == not_a_cramp
            ],
            (2 - h / 2, h),
            color=COLORS["dismissed" if not_a_cramp else "cramp"],
        )
    onsets = np.asarray(summary.lm_onsets_s, dtype=float)
    periodic = np.asarray(summary.lm_periodic, dtype=bool)
    for mask, color in ((~periodic, COLORS["lm"]), (periodic, COLORS["periodic"])):
        ax.vlines(onsets[mask], 1 - h / 2, 1 + h / 2, color=color, linewidth=1.1)
    ax.plot(
        summary.position_changes_s,
        np.zeros(len(summary.position_changes_s)),
        linestyle="none",
        marker="D",
        markersize=6,
        color=COLORS["position"],
    )
    ax.set_yticks(list(lanes.values()), list(lanes))
    ax.set_ylim(-0.7, 3.7)
    ax.set_xlim(lo, hi)
    ax.set_xticks(clock_ticks(summary, lo, hi, tz))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: clock_time(summary, t, tz)))
    return _png(fig)


def cramp_png(
    trace: CrampTrace, cramp: CrampSummary, summary: NightSummary, tz: tzinfo | None = None
) -> bytes:
    """Calf EMG envelope (µV) around one cramp, its span and the moment the alert fired."""
    fig = _figure(5.4, 2.6)
    ax = fig.add_subplot()
    _style(ax)
    t = trace.t_s - cramp.onset_s
    end = (cramp.end_s if cramp.end_s is not None else trace.t_s[-1]) - cramp.onset_s
    ax.axvspan(0, end, color=COLORS["cramp"], alpha=0.12, linewidth=0)
    ax.plot(t, trace.envelope_uv, color=COLORS["ink"], linewidth=1.0)
    ax.axvline(0, color=COLORS["cramp"], linestyle="--", linewidth=1.2, label="onset")
    if cramp.alert_latency_s is not None:
        ax.axvline(
            cramp.alert_latency_s,
            color=COLORS["alert"],
            linewidth=1.6,
            label=f"alert (+{cramp.alert_latency_s:.0f} s)",
        )
    ax.set_xlabel("seconds from onset", fontsize=9)
    ax.set_ylabel("calf EMG envelope (µV)", fontsize=9)
    leg = f", {cramp.leg} leg" if cramp.leg else ""
    ax.set_title(f"{clock_time(summary, cramp.onset_s, tz)}{leg}", fontsize=10, loc="left")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    return _png(fig)


def intervals_png(summary: NightSummary) -> bytes:
    """Histogram of onset-to-onset intervals between leg movements (log seconds), with
    the 10-90 s band of periodic series (WASM 2016) shaded."""
    fig = _figure(5.4, 2.6)
    ax = fig.add_subplot()
    _style(ax)
    iv = np.asarray(summary.lm_intervals_s, dtype=float)
    iv = iv[iv > 0]
    bins = np.logspace(0, np.log10(max(1000.0, iv.max() * 1.1 if iv.size else 1000.0)), 31)
    ax.axvspan(PLM_MIN_INTERVAL_S, PLM_MAX_INTERVAL_S, color=COLORS["periodic"], alpha=0.1)
    ax.hist(iv, bins=bins.tolist(), color=COLORS["periodic"], alpha=0.85)
    ax.set_xscale("log")
    ax.set_xlabel("interval between leg movements (s)", fontsize=9)
    ax.set_ylabel("count", fontsize=9)
    ax.text(
        np.sqrt(PLM_MIN_INTERVAL_S * PLM_MAX_INTERVAL_S),
        0.97,
        "periodic range",
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="top",
        fontsize=8,
        color=COLORS["periodic"],
    )
    return _png(fig)


def trends_png(history: Sequence[NightSummary]) -> bytes:
    """Last nights side by side: cramps per night, cramp durations (min), PLM index (/h)."""
    fig = _figure(11.0, 2.7)
    axes = fig.subplots(1, 3)
    x = np.arange(len(history))
    names = [h.night[5:] for h in history]  # MM-DD
    counts = [len(h.real_cramps) for h in history]
    axes[0].bar(x, counts, color=COLORS["cramp"], width=0.6)
    axes[0].set_title("cramps per night", fontsize=10, loc="left")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    for i, h in enumerate(history):
        mins = [c.duration_s / 60 for c in h.real_cramps if c.duration_s is not None]
        axes[1].plot([i] * len(mins), mins, "o", color=COLORS["cramp"], alpha=0.7, markersize=5)
    axes[1].set_title("cramp durations (min)", fontsize=10, loc="left")
    axes[1].set_ylim(bottom=0)
    plmi = [h.plm_index for h in history]
    axes[2].bar(x, plmi, color=COLORS["periodic"], width=0.6)
    for level in (15, 30, 50):
        if max(plmi, default=0) >= level * 0.6:
            axes[2].axhline(level, color=COLORS["ink"], linewidth=0.6, linestyle=":")
    axes[2].set_title("PLM index (/h)", fontsize=10, loc="left")
    for ax in axes:
        _style(ax)
        ax.grid(axis="x", visible=False)
        ax.grid(axis="y", color=COLORS["grid"], linewidth=0.8)
        ax.set_xticks(x, names, rotation=45 if len(history) > 7 else 0, fontsize=8)
        ax.set_xlim(-0.7, max(len(history), 1) - 0.3)
    return _png(fig)
