"""The demo night end to end (embedded broker, logger, alarm, review), fast-forwarded."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from crampwatch.consumers.store import EventStore
from crampwatch.events import onset_time_iso
from crampwatch.service.demo import run_demo
from support.events import make_event


def test_demo_rings_for_the_cramp_and_writes_the_morning_report(tmp_path):
    seed_an_earlier_demo(tmp_path / "events.sqlite")
    out = io.StringIO()
    html = run_demo(
        hours=0.5, speed=0, seed=7, out_dir=tmp_path, console=Console(file=out, width=100)
    )
    text = out.getvalue()
    assert html.exists() and "Your night" in html.read_text()
    assert "crampwatch alarm: ringing" in text and "RINGING (" in text  # shown and rung
    assert "\a" in text  # the terminal bell
    with EventStore(tmp_path / "events.sqlite") as store:
        events = store.events()
        cramps = [se for se in events if se.event.type == "cramp"]
        assert len(cramps) == 1 and cramps[0].event.end_s is not None
        assert "acknowledged" in cramps[0].labels
        assert sum(se.event.type == "leg_movement" and se.event.periodic for se in events) >= 4
        assert store.recordings(events[0].night)  # the night's EDF+ is registered
    # a second demo replaced the first demo night instead of adding to it; another
    # device's events in the same store are kept
    with EventStore(tmp_path / "events.sqlite") as store:
        assert make_event(1, "leg_movement", "demo").id not in {se.event.id for se in events}
        assert len(store.events(device_id="bedroom")) == 1


def seed_an_earlier_demo(db) -> None:
    """What an earlier demo left (device ``demo``, tonight), and another device."""
    now = datetime.now(UTC).replace(microsecond=0)
    with EventStore(db) as store:
        for i in range(1, 30):  # an earlier demo's periodic series and cramp
            t = onset_time_iso(now, 60.0 * i)
            store.upsert(make_event(i, "leg_movement", "demo", onset_time=t))
        t = onset_time_iso(now, 2400)
        store.upsert(make_event(40, "cramp", "demo", end=True, onset_time=t))
        store.upsert(make_event(1, "leg_movement", "bedroom", onset_time=onset_time_iso(now, 60)))
        store.add_status("demo", "online", at=now)
