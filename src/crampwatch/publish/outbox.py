"""The durable outbox: events wait in SQLite until the broker acknowledged them.

paho-mqtt keeps unacknowledged QoS 1 messages in memory only, so a killed process
would lose them; every event is committed here *before* it is handed to paho and
deleted only from the PUBACK callback. Entries are keyed by an increasing ``seq``
(not by event id): a cramp's onset and its end update share an id and both must go
out, in order. On restart :meth:`Outbox.pending` gives what is left, oldest first.

Other messages that must not be lost (the announcement of a finished recording) wait
in the same table with their ``topic`` (:meth:`Outbox.put_message`,
:meth:`Outbox.messages`); an event's row has no topic (older outboxes gain the column).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from crampwatch.errors import CrampwatchError
from crampwatch.events import Event

__all__ = ["Outbox", "OutboxEntry", "OutboxMessage"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    json     TEXT NOT NULL,
    topic    TEXT
);
"""


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    event: Event


@dataclass(frozen=True)
class OutboxMessage:
    """A message other than an event (``topic``, ``payload``) waiting for its PUBACK."""

    seq: int
    topic: str
    payload: str


class Outbox:
    """SQLite (WAL) queue of events not yet acknowledged by the broker. Thread-safe.

    ``fsync``: each :meth:`put` is synced to disk before it returns (survives a power
    cut; about one disk sync per event, ~150 events/s on a slow disk). Without it a put
    still survives a killed process, not a power cut (thousands of events/s).
    """

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._put_sync = "FULL" if fsync else "NORMAL"
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "topic" not in columns:  # an outbox of an older version: events only
                self._db.execute("ALTER TABLE outbox ADD COLUMN topic TEXT")
        except sqlite3.DatabaseError as exc:
            raise CrampwatchError(f"cannot open outbox {self.path}: {exc}") from None
        except OSError as exc:
            reason = exc.strerror or exc
            raise CrampwatchError(f"cannot open outbox {self.path}: {reason}") from None

    def put(self, event: Event) -> int:
        """Commit ``event``; returns its ``seq``."""
        with self._lock:
            self._db.execute(f"PRAGMA synchronous={self._put_sync}")
            cur = self._db.execute(
                "INSERT INTO outbox (event_id, json) VALUES (?, ?)", (event.id, event.to_json())
            )
            return int(cur.lastrowid or 0)

    def put_message(self, topic: str, payload: str, key: str) -> int:
        """Commit a non-event message for ``topic`` (``key`` names it); returns its ``seq``."""
        with self._lock:
            self._db.execute(f"PRAGMA synchronous={self._put_sync}")
            cur = self._db.execute(
                "INSERT INTO outbox (event_id, json, topic) VALUES (?, ?, ?)",
                (key, payload, topic),
            )
            return int(cur.lastrowid or 0)

    def messages(self) -> list[OutboxMessage]:
        """Pending non-event messages, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, json FROM outbox WHERE topic IS NOT NULL ORDER BY seq"
            ).fetchall()
        return [OutboxMessage(int(seq), str(topic), str(js)) for seq, topic, js in rows]

    def ack(self, seq: int) -> bool:
        """Remove entry ``seq`` (the broker has it). False if it was not there."""
        with self._lock:
            # NORMAL: an ack lost to a power cut only means a resend, which consumers
            # drop by id; skipping its fsync halves the disk syncs per event.
            self._db.execute("PRAGMA synchronous=NORMAL")
            return self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount > 0

    def entries(self) -> list[OutboxEntry]:
        """Pending events, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, json FROM outbox WHERE topic IS NULL ORDER BY seq"
            ).fetchall()
        out = []
        for seq, js in rows:
            try:
                out.append(OutboxEntry(int(seq), Event.from_dict(json.loads(js))))
            except Exception:  # a corrupt row must not block the rest of the queue
                log.exception("dropping unreadable outbox entry %s in %s", seq, self.path)
                self.ack(int(seq))
        return out

    def pending(self) -> list[Event]:
        """Events not yet acknowledged, oldest first."""
        return [e.event for e in self.entries()]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
