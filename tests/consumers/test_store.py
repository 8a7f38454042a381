"""EventStore additions used by the logger (idempotence, night counts, default path)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from crampwatch.consumers.store import EventStore, default_db_path
from crampwatch.events import onset_time_iso
from support.events import make_event


def test_upsert_is_idempotent_and_completes_on_end(make_event, tmp_path) -> None:
    with EventStore(tmp_path / "e.db") as store:
        onset, end = make_event(1), make_event(1, end=True)
        assert [store.upsert(onset), store.upsert(onset)] == ["new", "duplicate"]
        assert store.upsert(end) == "updated"
        assert store.upsert(onset) == "duplicate"  # a late onset resend after its end
        assert store.count() == 1 and store.events()[0].event.end_s == end.end_s


def test_night_counts(make_event, tmp_path) -> None:
    with EventStore(tmp_path / "e.db") as store:
        for ev in [
            make_event(1),
            make_event(2, "leg_movement"),
            make_event(3, "leg_movement"),
            make_event(4, "cramp", device_id="other"),
        ]:
            store.upsert(ev)
        night = store.night_of_event(make_event(1).id)
        assert night is not None and store.night_of_event("nope") is None
        cramps, plm, monitored_s = store.night_counts(night, "dev1")
        assert (cramps, plm) == (1, 2)
        assert monitored_s == make_event(3, "leg_movement").end_s


def _run_event(i: int, run_start: datetime, onset_s: float):
    return make_event(i, "leg_movement", onset_time=onset_time_iso(run_start, onset_s))


def test_night_counts_add_up_the_runs_of_a_restarted_night(tmp_path) -> None:
    # run 1: 22:00, events until 1 h; run 2 after a restart at 01:00, its own clock from 0
    first, second = datetime(2026, 11, 24, 22, tzinfo=UTC), datetime(2026, 11, 25, 1, tzinfo=UTC)
    with EventStore(tmp_path / "e.db") as store:
        for ev in (
            replace(
                make_event(1, "leg_movement"),
                onset_s=100.0,
                end_s=3600.0,
                onset_time=onset_time_iso(first, 100.0),
            ),
            replace(
                make_event(2, "leg_movement", device_id="dev1"),
                onset_s=50.0,
                end_s=1800.0,
                id="second-run",
                onset_time=onset_time_iso(second, 50.0),
            ),
        ):
            store.upsert(ev)
        night = store.night_of_event("second-run", UTC)
        assert night == "2026-11-24" == store.night_of_event(make_event(1, "leg_movement").id, UTC)
        assert store.night_counts(night, "dev1", UTC)[2] == 3600.0 + 1800.0


def test_nights_are_grouped_noon_to_noon_in_the_time_zone_asked_for(tmp_path) -> None:
    # 11:30 UTC on the 25th: still the night of the 24th in UTC, a new night in Berlin
    start = datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    with EventStore(tmp_path / "e.db") as store:
        store.upsert(make_event(1, "leg_movement", onset_time=onset_time_iso(start, 60.0)))
        assert store.nights(UTC) == ["2026-11-24"]
        assert store.nights(ZoneInfo("Europe/Berlin")) == ["2026-11-25"]
        assert len(store.events("2026-11-25", tz=ZoneInfo("Europe/Berlin"))) == 1
        assert store.events("2026-11-25", tz=UTC) == []


def test_default_db_path_follows_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CRAMPWATCH_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("CRAMPWATCH_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("CRAMPWATCH_DATA", raising=False)
    assert default_db_path() == Path(tmp_path) / "crampwatch" / "events.sqlite"


def test_a_store_written_by_an_older_crampwatch_is_regrouped(tmp_path) -> None:
    """Rows stored before the epoch columns existed get them on open."""
    import sqlite3

    from crampwatch.consumers.store import _SCHEMA

    start = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    ev = make_event(1, "leg_movement", onset_time=onset_time_iso(start, 60.0))
    db = sqlite3.connect(tmp_path / "old.db")
    db.executescript(_SCHEMA)
    db.execute(
        "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            ev.id,
            ev.device_id,
            ev.leg,
            ev.type,
            ev.onset_s,
            ev.end_s,
            ev.detected_at_s,
            ev.onset_time,
            ev.confidence,
            1,
            "2026-11-24",
            ev.to_json(),
            "x",
            "x",
        ),
    )
    db.commit()
    db.close()
    with EventStore(tmp_path / "old.db") as store:
        assert store.nights(UTC) == ["2026-11-24"]
        assert [se.event.id for se in store.events("2026-11-24", tz=UTC)] == [ev.id]
        assert store.night_counts("2026-11-24", ev.device_id, UTC) == (0, 1, 80.0)


def test_two_openers_of_a_new_store_do_not_both_add_the_epoch_columns(tmp_path) -> None:
    """The service, the logger and a review may open a new store at the same moment.
    Here another opener holds the write lock with the columns added but not yet
    committed while this one opens: it must wait and find them, not add them twice."""
    import sqlite3
    import threading
    import time

    from crampwatch.consumers.store import _SCHEMA

    path = tmp_path / "events.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.executescript(_SCHEMA)  # the tables as a fresh open creates them
    other.execute("BEGIN IMMEDIATE")
    for col in ("at_epoch", "origin_epoch"):
        other.execute(f"ALTER TABLE events ADD COLUMN {col} REAL")
    errors: list[Exception] = []

    def open_store() -> None:
        try:
            EventStore(path).close()
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    opener = threading.Thread(target=open_store)
    opener.start()
    time.sleep(0.5)  # the opener has looked at the columns and waits for the lock
    other.execute("COMMIT")
    other.close()
    opener.join(10)
    assert errors == []
    with EventStore(path) as store:
        assert store.nights(UTC) == []
