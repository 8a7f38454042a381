"""The demo night end to end (embedded broker, logger, alarm, review), fast-forwarded."""

from __future__ import annotations

import io

from rich.console import Console

from crampwatch.consumers.store import EventStore
from crampwatch.service.demo import run_demo


def test_demo_rings_for_the_cramp_and_writes_the_morning_report(tmp_path):
    out = io.StringIO()
    html = run_demo(
        hours=0.5, speed=0, seed=7, out_dir=tmp_path, console=Console(file=out, width=100)
    )
    text = out.getvalue()
    assert html.exists() and "Your night" in html.read_text()
    assert "crampwatch alarm" in text  # the wake alert was shown
    with EventStore(tmp_path / "events.sqlite") as store:
        events = store.events()
        cramps = [se for se in events if se.event.type == "cramp"]
        assert len(cramps) == 1 and cramps[0].event.end_s is not None
        assert "acknowledged" in cramps[0].labels
        assert sum(se.event.type == "leg_movement" and se.event.periodic for se in events) >= 4
        assert store.recordings(events[0].night)  # the night's EDF+ is registered
