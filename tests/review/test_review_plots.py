"""Figures: PNG output, and clock ticks on round local times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from crampwatch.review.plots import clock_ticks, intervals_png, timeline_png, trends_png
from crampwatch.review.summary import clock_time, summarize_night

IST = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize("tz", [UTC, IST, timezone(timedelta(hours=-3))])
@pytest.mark.parametrize("hours", [0.3, 1.0, 7.5])
def test_ticks_fall_on_round_local_times(tz, hours):
    origin = datetime(2026, 11, 24, 22, 10, 17, tzinfo=UTC)
    s = summarize_night("2026-11-24", [], [], (origin, hours * 3600))
    ticks = clock_ticks(s, 0.0, hours * 3600, tz)
    assert 2 <= len(ticks) <= 12
    assert all(0 <= t <= hours * 3600 for t in ticks)
    step = np.diff(ticks)
    assert np.allclose(step, step[0])
    for t in ticks:
        local = (origin + timedelta(seconds=t)).astimezone(tz)
        assert local.second == 0 and local.minute % 5 == 0
        assert clock_time(s, t, tz) == local.strftime("%H:%M")


def test_ticks_without_wall_clock_are_round_elapsed_times():
    s = summarize_night("2026-11-24", [], [], (None, 8 * 3600))
    ticks = clock_ticks(s, 0.0, 8 * 3600)
    assert ticks[0] == 0.0 and all(t % 3600 == 0 for t in ticks)


def test_figures_are_png(tmp_path):
    s = summarize_night("2026-11-24", [], [], (datetime(2026, 11, 24, 22, tzinfo=UTC), 3600.0))
    for png in (timeline_png(s, UTC), intervals_png(s), trends_png([s, s])):
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
