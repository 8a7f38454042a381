"""The event store: SQLite written by the logger, read by the morning review.

Idempotent by event ``id``: a resent event is a duplicate and changes nothing; a
cramp's end update (same ``id``, ``end_s`` now set) replaces the onset record.
Events are grouped into *nights*: the night of date D runs from noon on D to noon
on D+1 (local wall clock of the onset; UTC when no zone is known).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from crampwatch.errors import CrampwatchError
from crampwatch.events import Event
from crampwatch.paths import default_db_path

__all__ = ["EventStore", "StoredEvent", "UpsertResult", "default_db_path", "night_of"]

UpsertResult = Literal["new", "updated", "duplicate"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id            TEXT PRIMARY KEY,
    device_id     TEXT NOT NULL,
    leg           TEXT,
    type          TEXT NOT NULL,
    onset_s       REAL NOT NULL,
    end_s         REAL,
    detected_at_s REAL NOT NULL,
    onset_time    TEXT,
    confidence    REAL NOT NULL,
    periodic      INTEGER,
    night         TEXT NOT NULL,
    json          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_night ON events (night, onset_s);
CREATE TABLE IF NOT EXISTS labels (
    event_id TEXT NOT NULL,
    label    TEXT NOT NULL,   -- 'acknowledged' or 'not_a_cramp'
    source   TEXT,            -- 'key', 'mqtt', ...
    at       TEXT NOT NULL,
    PRIMARY KEY (event_id, label)
);
CREATE TABLE IF NOT EXISTS status (
    device_id TEXT NOT NULL,
    status    TEXT NOT NULL,  -- 'online' / 'offline'
    at        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recordings (
    device_id TEXT NOT NULL,
    night     TEXT NOT NULL,
    path      TEXT NOT NULL,
    PRIMARY KEY (device_id, night, path)
);
"""


def night_of(t: datetime) -> str:
    """The night (ISO date of its evening) a wall-clock time belongs to."""
    return (t - timedelta(hours=12)).date().isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredEvent:
    event: Event
    night: str
    received_at: str
    labels: tuple[str, ...]


class EventStore:
    """SQLite event store. One connection per instance; use as a context manager."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise CrampwatchError(f"no event store at {self.path} (run the logger or demo first)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CrampwatchError(f"cannot open event store {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------
    def upsert(self, event: Event, *, received_at: datetime | None = None) -> UpsertResult:
        """Store an event; a duplicate changes nothing, an end update completes it."""
        received = (received_at or _now()).isoformat()
        night = self._night_for(event, received_at or _now())
        with self._tx() as db:
            row = db.execute("SELECT end_s, json FROM events WHERE id = ?", (event.id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        event.id,
                        event.device_id,
                        event.leg,
                        event.type,
                        event.onset_s,
                        event.end_s,
                        event.detected_at_s,
                        event.onset_time,
                        event.confidence,
                        None if event.periodic is None else int(event.periodic),
                        night,
                        event.to_json(),
                        received,
                        received,
                    ),
                )
                return "new"
            if row[1] == event.to_json() or (row[0] is not None and event.end_s is None):
                return "duplicate"  # a resend, or a late onset after its end update
            db.execute(
                "UPDATE events SET end_s=?, detected_at_s=?, confidence=?, periodic=?, json=?,"
                " updated_at=? WHERE id=?",
                (
                    event.end_s,
                    event.detected_at_s,
                    event.confidence,
                    None if event.periodic is None else int(event.periodic),
                    event.to_json(),
                    received,
                    event.id,
                ),
            )
            return "updated"

    def add_label(
        self, event_id: str, label: str, *, source: str | None = None, at: datetime | None = None
    ) -> None:
        """Record 'acknowledged' or 'not_a_cramp' for an event (idempotent)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO labels VALUES (?,?,?,?)",
                (event_id, label, source, (at or _now()).isoformat()),
            )

    def add_status(self, device_id: str, status: str, *, at: datetime | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO status VALUES (?,?,?)", (device_id, status, (at or _now()).isoformat())
            )

    def add_recording(self, device_id: str, night: str, path: str | Path) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO recordings VALUES (?,?,?)", (device_id, night, str(path))
            )

    # -- reading -----------------------------------------------------------------------
    def nights(self) -> list[str]:
        """Nights with any event, oldest first."""
        rows = self._db.execute("SELECT DISTINCT night FROM events ORDER BY night").fetchall()
        return [r[0] for r in rows]

    def events(
        self, night: str | None = None, *, type_: str | None = None, device_id: str | None = None
    ) -> list[StoredEvent]:
        """Events (of a night / type / device), ordered by onset."""
        sql = "SELECT json, night, received_at, id FROM events WHERE 1=1"
        args: list[Any] = []
        for col, val in (("night", night), ("type", type_), ("device_id", device_id)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY night, onset_s"
        out = []
        for js, n, rec, eid in self._db.execute(sql, args).fetchall():
            labels = tuple(
                r[0]
                for r in self._db.execute(
                    "SELECT label FROM labels WHERE event_id = ? ORDER BY at", (eid,)
                )
            )
            out.append(StoredEvent(Event.from_dict(json.loads(js)), n, rec, labels))
        return out

    def night_of_event(self, event_id: str) -> str | None:
        """The night an event was filed under (None if unknown)."""
        row = self._db.execute("SELECT night FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else str(row[0])

    def night_counts(self, night: str, device_id: str) -> tuple[int, int, float]:
        """``(cramps, periodic leg movements, latest detected_at_s)`` of a device's night."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(type = 'cramp'), 0),"
            " COALESCE(SUM(type = 'leg_movement' AND periodic = 1), 0),"
            " COALESCE(MAX(detected_at_s), 0) FROM events WHERE night = ? AND device_id = ?",
            (night, device_id),
        ).fetchone()
        return int(row[0]), int(row[1]), float(row[2])

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def labels(self) -> list[tuple[str, str, str | None, str]]:
        return list(self._db.execute("SELECT event_id, label, source, at FROM labels"))

    def status_history(self, device_id: str | None = None) -> list[tuple[str, str, str]]:
        sql, args = "SELECT device_id, status, at FROM status", []
        if device_id is not None:
            sql += " WHERE device_id = ?"
            args.append(device_id)
        return list(self._db.execute(sql + " ORDER BY at", args))

    def recordings(self, night: str) -> list[tuple[str, str]]:
        return list(
            self._db.execute("SELECT device_id, path FROM recordings WHERE night = ?", (night,))
        )

    @staticmethod
    def _night_for(event: Event, received_at: datetime) -> str:
        if event.onset_time:
            try:
                return night_of(datetime.fromisoformat(event.onset_time.replace("Z", "+00:00")))
            except ValueError:
                pass
        return night_of(received_at)


def parse_night(text: str) -> str:
    """Validate a ``--night`` value (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise CrampwatchError(f"--night must be a date like 2026-11-24, got {text!r}") from exc
