"""A night as it really happens, through the logger's store and ``crampwatch review``
run as a console script: a restart in the middle of the night, two devices, the
sleeper's time zone, and the demo run twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crampwatch.consumers.logger import EventLogger
from crampwatch.events import Event, event_id, onset_time_iso
from crampwatch.publish import BrokerConfig, topics

CRAMPWATCH = shutil.which("crampwatch", path=str(Path(sys.executable).parent)) or "crampwatch"


def review(db: Path, *args: str, tz: str = "UTC") -> subprocess.CompletedProcess[str]:
    """``crampwatch review`` as a user runs it, in an isolated HOME and time zone."""
    home = db.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": "",
        "CRAMPWATCH_DATA": "",
        "CRAMPWATCH_DB": "",
        "TZ": tz,
        "COLUMNS": "160",
    }
    return subprocess.run(
        [CRAMPWATCH, "review", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def run_events(
    device: str, start: datetime, lms: list[float], cramps: list[float] = (), warnings=()
) -> list[Event]:
    """The events of one run of the service from ``start``: times on its own clock."""

    def ev(type_: str, onset_s: float, end_s: float, **kw: object) -> Event:
        return Event(
            id=event_id(device, type_, onset_s, "left", start_time=start),
            device_id=device,
            type=type_,
            onset_s=onset_s,
            end_s=end_s,
            detected_at_s=end_s,
            confidence=0.9,
            leg="left",
            onset_time=onset_time_iso(start, onset_s),
            **kw,
        )

    out = [ev("leg_movement", t, t + 2.0, periodic=True) for t in lms]
    out += [ev("cramp", t, t + 60.0, details={"alert_after_s": 2.0}) for t in cramps]
    out += [ev("cramp_warning", t, t + 30.0) for t in warnings]
    return out


def log_night(db: Path, runs: list[tuple[str, datetime, datetime, list[Event]]]) -> None:
    """Feed the logger what the service sends: ``online``, the events, then the normal
    end (``stopped``, then the retained ``offline``)."""
    logger = EventLogger(BrokerConfig(), db, publish_stats=False, recordings_dir=db.parent)
    try:
        for device, _start, _stop, events in runs:
            for e in events:
                logger.handle(topics.event_topic(device), e.to_json().encode())
        # status rows carry the logger's receipt time: write them at the runs' times
        for device, start, stop, _events in runs:
            logger.store.add_status(device, "online", at=start)
            logger.store.add_status(device, "stopped", at=stop)
            logger.store.add_status(device, "offline", at=stop)
    finally:
        logger.stop()


def periodic(start_s: float, n: int, every_s: float = 25.0) -> list[float]:
    return [start_s + i * every_s for i in range(n)]


def test_a_restart_keeps_each_runs_clock_and_counts_only_monitored_hours(tmp_path):
    first = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    second = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # systemd's restart after a crash
    db = tmp_path / "events.sqlite"
    log_night(
        db,
        [
            ("bed", first, first + timedelta(hours=2), run_events("bed", first, periodic(600, 10))),
            # the second run's own clock starts at 0 again: a cramp 7 min into it is 00:37
            (
                "bed",
                second,
                second + timedelta(hours=2),
                run_events("bed", second, periodic(1200, 20), cramps=[420.0]),
            ),
        ],
    )
    done = review(db, "--json", str(tmp_path / "n.json"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "22:00–00:00, 00:30–02:30 (4 h 00 min)" in out  # the gap is not monitored
    assert "00:37" in out  # the cramp at its true clock time, not 22:07
    assert "7.5 /h" in out  # 30 periodic movements / 4 monitored hours
    assert "not monitored" in out
    assert len(json.loads((tmp_path / "n.json").read_text())) == 31


def test_two_devices_are_shown_each_on_its_own_never_added(tmp_path):
    start = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    stop = start + timedelta(hours=2)
    db = tmp_path / "events.sqlite"
    log_night(
        db,
        [
            ("left-calf", start, stop, run_events("left-calf", start, periodic(600, 40))),
            ("guest", start, stop, run_events("guest", start, [], cramps=[1000.0])),
        ],
    )
    done = review(db)
    assert done.returncode == 0, done.stderr
    assert "has 2 devices (guest, left-calf)" in done.stdout
    assert "night of 2026-11-24 — guest" in done.stdout
    assert "night of 2026-11-24 — left-calf" in done.stdout
    assert "20.0 /h" in done.stdout and "40 (40 periodic)" in done.stdout  # not 41 / mixed

    one = review(db, "--device", "guest")
    assert one.returncode == 0, one.stderr
    assert "left-calf" not in one.stdout and "Leg movements     0" in one.stdout
    # the HTML report is one device's; the JSON export holds each event with its device
    html = review(db, "--html", str(tmp_path / "x.html"))
    assert html.returncode == 2 and "--device" in html.stderr
    assert html.stderr.count("\n") == 1
    exports = review(db, "--json", str(tmp_path / "x.json"))
    assert exports.returncode == 0, exports.stderr
    exported = json.loads((tmp_path / "x.json").read_text())
    assert sorted({e["device_id"] for e in exported}) == ["guest", "left-calf"]
    assert len(exported) == 41
    unknown = review(db, "--device", "nobody")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_nights_are_grouped_noon_to_noon_in_local_time(tmp_path):
    # 12:20 in Berlin on the 25th (11:20 UTC): a new night there, last night in UTC
    start = datetime(2026, 11, 25, 11, 20, tzinfo=UTC)
    db = tmp_path / "events.sqlite"
    log_night(
        db,
        [("bed", start, start + timedelta(hours=1), run_events("bed", start, periodic(60, 5)))],
    )
    berlin = review(db, tz="Europe/Berlin")
    assert berlin.returncode == 0, berlin.stderr
    assert "night of 2026-11-25" in berlin.stdout and "12:20–13:20" in berlin.stdout
    utc = review(db, "--tz", "UTC", tz="Europe/Berlin")
    assert "night of 2026-11-24" in utc.stdout and "11:20–12:20" in utc.stdout
    bad = review(db, "--tz", "Mars/Olympus")
    assert bad.returncode == 2 and "unknown time zone" in bad.stderr


def test_calf_tightening_is_counted_with_times_and_woke_nobody(tmp_path):
    start = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    db = tmp_path / "events.sqlite"
    events = run_events("bed", start, [], warnings=[900.0, 3000.0])
    log_night(db, [("bed", start, start + timedelta(hours=1), events)])
    done = review(db, "--csv", str(tmp_path / "e.csv"))
    assert done.returncode == 0, done.stderr
    assert "2 (22:15, 22:50): calf tightening, noted only, nobody was woken" in done.stdout
    assert "Cramps            0" in done.stdout
    assert (tmp_path / "e.csv").read_text().count("cramp_warning") == 2
