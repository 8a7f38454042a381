"""The event store: SQLite written by the logger, read by the morning review.

Idempotent by event ``id``: a resent event is a duplicate and changes nothing; a
cramp's end update (same ``id``, ``end_s`` now set) replaces the onset record.
Events are grouped into *nights*: the night of date D runs from noon on D to noon
on D+1 in the sleeper's local time zone (the process's, so ``TZ`` is respected, or
one given as ``tz``). The grouping is done when reading, from each event's wall-clock
time (``at_epoch``: its onset, or when it was received if it has no onset time), so a
review in another zone regroups the same store. Each event also keeps the wall-clock
time of its run's second 0 (``origin_epoch`` = onset time - ``onset_s``): a night with
a restart has several runs, each with its own time origin.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from crampwatch.errors import CrampwatchError
from crampwatch.events import Event, EventType, parse_iso
from crampwatch.paths import default_db_path

__all__ = [
    "RUN_GAP_S",
    "EventStore",
    "StoredEvent",
    "UpsertResult",
    "default_db_path",
    "group_runs",
    "night_bounds",
    "night_of",
]

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


# Added to older stores on open: wall-clock epoch seconds of the event (onset, else
# receipt) and of its run's second 0.
_EPOCH_COLUMNS = ("at_epoch", "origin_epoch")
# The same run's events agree on their origin to the millisecond (onset_time and onset_s
# are both rounded to it); two runs of one device start seconds apart at least.
RUN_GAP_S = 1.0
# Epoch buckets for listing nights: every zone's offset from UTC is a multiple of 15 min,
# so a bucket never straddles local noon.
_BUCKET_S = 900


def night_of(t: datetime, tz: tzinfo | None = None) -> str:
    """The night (ISO date of its evening) a wall-clock time belongs to: noon to noon in
    ``tz`` (default: the local time zone)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t.astimezone(tz) - timedelta(hours=12)).date().isoformat()


def night_bounds(night: str, tz: tzinfo | None = None) -> tuple[float, float]:
    """Epoch seconds of noon on ``night`` and noon the next day, in ``tz`` (default local)."""
    d = date.fromisoformat(night)

    def noon(day: date) -> float:
        t = datetime.combine(day, time(12))
        return (t.replace(tzinfo=tz) if tz is not None else t.astimezone()).timestamp()

    return noon(d), noon(d + timedelta(days=1))


def group_runs(origins: list[float]) -> list[float]:
    """For each origin (epoch s of a run's second 0), the origin of its run: origins
    within :data:`RUN_GAP_S` of each other are one run (its earliest)."""
    order = sorted(range(len(origins)), key=lambda i: origins[i])
    out = [0.0] * len(origins)
    first = prev = -math.inf  # the first origin always starts a run
    for i in order:
        if origins[i] - prev > RUN_GAP_S:
            first = origins[i]
        prev = origins[i]
        out[i] = float(first)
    return out


def _epoch(text: str | None) -> float | None:
    t = parse_iso(text)
    return None if t is None else t.timestamp()


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
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise CrampwatchError(f"cannot open event store {self.path}: {exc}") from exc

    def _missing_columns(self) -> list[str]:
        have = {r[1] for r in self._db.execute("PRAGMA table_info(events)")}
        return [c for c in _EPOCH_COLUMNS if c not in have]

    def _migrate(self) -> None:
        """Add the epoch columns to a store written by an older crampwatch (or created
        just now). Checked again under the write lock: the service, the logger and a
        review may open the same new store at once, and only one may add them."""
        if self._missing_columns():
            with self._tx() as db:
                missing = self._missing_columns()
                for col in missing:
                    db.execute(f"ALTER TABLE events ADD COLUMN {col} REAL")
                if missing:
                    self._backfill_epochs(db)
        self._db.execute("CREATE INDEX IF NOT EXISTS events_at ON events (at_epoch)")

    def _backfill_epochs(self, db: sqlite3.Connection) -> None:
        rows = db.execute("SELECT id, onset_time, onset_s, received_at FROM events")
        for eid, onset_time, onset_s, received in rows.fetchall():
            at, origin = self._epochs(onset_time, onset_s, received)
            db.execute("UPDATE events SET at_epoch=?, origin_epoch=? WHERE id=?", (at, origin, eid))

    @staticmethod
    def _epochs(
        onset_time: str | None, onset_s: float, received: str
    ) -> tuple[float, float | None]:
        onset = _epoch(onset_time)
        if onset is None:
            return float(_epoch(received) or 0.0), None
        return onset, onset - onset_s

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
        at, origin = self._epochs(event.onset_time, event.onset_s, received)
        with self._tx() as db:
            row = db.execute("SELECT end_s, json FROM events WHERE id = ?", (event.id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO events (id, device_id, leg, type, onset_s, end_s, detected_at_s,"
                    " onset_time, confidence, periodic, night, json, received_at, updated_at,"
                    " at_epoch, origin_epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        at,
                        origin,
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

    def forget_device(self, device_id: str) -> list[str]:
        """Delete everything stored for ``device_id`` (events, labels, status, recording
        registrations); returns the registered recording paths (the demo replaces its
        previous night with this)."""
        with self._tx() as db:
            paths = [
                r[0]
                for r in db.execute("SELECT path FROM recordings WHERE device_id = ?", (device_id,))
            ]
            db.execute(
                "DELETE FROM labels WHERE event_id IN (SELECT id FROM events WHERE device_id = ?)",
                (device_id,),
            )
            for table in ("events", "status", "recordings"):
                db.execute(f"DELETE FROM {table} WHERE device_id = ?", (device_id,))
        return paths

    # -- reading -----------------------------------------------------------------------
    def nights(self, tz: tzinfo | None = None, device_id: str | None = None) -> list[str]:
        """Nights with any event (of ``device_id``; noon to noon in ``tz``, default
        local), oldest first."""
        sql = f"SELECT DISTINCT CAST(at_epoch / {_BUCKET_S} AS INTEGER) FROM events"
        args: tuple[str, ...] = ()
        if device_id is not None:
            sql, args = sql + " WHERE device_id = ?", (device_id,)
        rows = self._db.execute(sql, args).fetchall()
        return sorted({night_of(datetime.fromtimestamp(r[0] * _BUCKET_S, UTC), tz) for r in rows})

    def events(
        self,
        night: str | None = None,
        *,
        type_: str | None = None,
        device_id: str | None = None,
        tz: tzinfo | None = None,
    ) -> list[StoredEvent]:
        """Events (of a night in ``tz`` / type / device), ordered by wall-clock time."""
        sql = "SELECT json, at_epoch, received_at, id FROM events WHERE 1=1"
        args: list[Any] = []
        if night is not None:
            sql += " AND at_epoch >= ? AND at_epoch < ?"
            args += night_bounds(night, tz)
        for col, val in (("type", type_), ("device_id", device_id)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY at_epoch, onset_s"
        out = []
        for js, at, rec, eid in self._db.execute(sql, args).fetchall():
            n = night or night_of(datetime.fromtimestamp(at, UTC), tz)
            labels = tuple(
                r[0]
                for r in self._db.execute(
                    "SELECT label FROM labels WHERE event_id = ? ORDER BY at", (eid,)
                )
            )
            out.append(StoredEvent(Event.from_dict(json.loads(js)), n, rec, labels))
        return out

    def has_event(self, event_id: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone()
            is not None
        )

    def night_of_event(self, event_id: str, tz: tzinfo | None = None) -> str | None:
        """The night an event belongs to (None if unknown)."""
        row = self._db.execute("SELECT at_epoch FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else night_of(datetime.fromtimestamp(row[0], UTC), tz)

    def night_counts(
        self, night: str, device_id: str, tz: tzinfo | None = None
    ) -> tuple[int, int, float]:
        """``(cramps, periodic leg movements, monitored s)`` of a device's night so far.

        Monitored time is the union of the night's runs, each from its second 0 to its
        latest event (a restart is a new run with its own clock, not an extension)."""
        rows = self._db.execute(
            "SELECT type, periodic, origin_epoch, MAX(onset_s, COALESCE(end_s, 0), detected_at_s)"
            " FROM events WHERE at_epoch >= ? AND at_epoch < ? AND device_id = ?",
            (*night_bounds(night, tz), device_id),
        ).fetchall()
        cramps = sum(1 for r in rows if r[0] == EventType.CRAMP)
        plms = sum(1 for r in rows if r[0] == EventType.LEG_MOVEMENT and r[1] == 1)
        timed = [r for r in rows if r[2] is not None]
        runs = group_runs([r[2] for r in timed])
        spans: dict[float, float] = {}
        for run, r in zip(runs, timed, strict=True):
            spans[run] = max(spans.get(run, 0.0), r[2] - run + r[3])
        merged = _merge([(run, run + length) for run, length in spans.items()])
        untimed = max((r[3] for r in rows if r[2] is None), default=0.0)
        return cramps, plms, sum(b - a for a, b in merged) + untimed

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
        onset = parse_iso(event.onset_time)
        return night_of(onset if onset is not None else received_at)


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def parse_night(text: str) -> str:
    """Validate a ``--night`` value (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise CrampwatchError(f"--night must be a date like 2026-11-24, got {text!r}") from exc
