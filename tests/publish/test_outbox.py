"""The durable outbox: order, acknowledgement, survival across reopening."""

from __future__ import annotations

import sqlite3

from crampwatch.events import Event, event_id
from crampwatch.publish import Outbox


def _event(i: int, end: bool = False) -> Event:
    onset = 10.0 * i
    ev = Event(event_id("d", "cramp", onset), "d", "cramp", onset, None, onset + 1, 0.8)
    return ev.with_end(onset + 5, onset + 6) if end else ev


def test_pending_keeps_order_and_both_versions_of_an_event(tmp_path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        seqs = [box.put(_event(0)), box.put(_event(1)), box.put(_event(0, end=True))]
        assert seqs == sorted(seqs)
        pending = box.pending()
        assert [e.id for e in pending] == [_event(0).id, _event(1).id, _event(0).id]
        assert pending[2].end_s == 5.0


def test_ack_removes_exactly_one_entry(tmp_path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        a, b = box.put(_event(0)), box.put(_event(1))
        assert box.ack(a) and not box.ack(a)
        assert len(box) == 1 and box.entries()[0].seq == b


def test_entries_survive_reopening(tmp_path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        box.put(_event(3))
    with Outbox(tmp_path / "o.db") as box:
        assert [e.onset_s for e in box.pending()] == [30.0]


def test_an_unreadable_row_is_dropped_not_blocking(tmp_path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        box.put(_event(1))
    with sqlite3.connect(tmp_path / "o.db") as db:
        db.execute("INSERT INTO outbox (event_id, json) VALUES ('x', '{not json')")
    with Outbox(tmp_path / "o.db") as box:
        assert [e.onset_s for e in box.pending()] == [10.0]
        assert len(box) == 1


def test_an_outbox_of_an_older_version_keeps_its_events_and_takes_messages(tmp_path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the table as earlier versions created it
        db.execute(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " event_id TEXT NOT NULL, json TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO outbox (event_id, json) VALUES (?, ?)", (_event(5).id, _event(5).to_json())
        )
    db.close()
    with Outbox(path) as box:
        seq = box.put_message("crampwatch/d/recording", '{"night": "x"}', "recording:x")
        assert [e.onset_s for e in box.pending()] == [50.0]  # the message is not an event
        assert [(m.seq, m.topic) for m in box.messages()] == [(seq, "crampwatch/d/recording")]
        assert len(box) == 2
