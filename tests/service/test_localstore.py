"""The service keeps its own night in the local event store (no logger needed)."""

from __future__ import annotations

import logging

from crampwatch.consumers.store import EventStore
from crampwatch.service.localstore import LocalStore
from support.events import make_event


def test_events_recording_and_status_reach_the_store_once(tmp_path) -> None:
    db = tmp_path / "events.sqlite"
    local = LocalStore(db, ["bedroom"])
    onset = make_event(1, device_id="bedroom", onset_time="2026-11-24T23:10:00Z")
    local.put(onset)
    local.put(onset)  # a resend: stored once
    local.put(make_event(1, device_id="bedroom", end=True, onset_time="2026-11-24T23:10:00Z"))
    local.add_recording("bedroom", "2026-11-24", tmp_path / "night.edf")
    local.close()
    assert local.failed == 0
    with EventStore(db) as store:
        (stored,) = store.events()
        assert stored.event.end_s is not None  # the end update completed the onset
        assert store.recordings("2026-11-24") == [("bedroom", str(tmp_path / "night.edf"))]
        assert [s for _, s, _ in store.status_history("bedroom")] == ["online", "offline"]


def test_a_store_that_cannot_be_written_is_counted_and_logged_once(tmp_path, caplog) -> None:
    db = tmp_path / "a-folder"
    db.mkdir()  # sqlite cannot open a folder
    with caplog.at_level(logging.WARNING, logger="crampwatch.service.localstore"):
        local = LocalStore(db, ["bedroom"])
        for i in range(3):
            local.put(make_event(i, device_id="bedroom"))
        local.close()  # returns: never blocks or raises
    assert local.failed == 5  # online, 3 events, offline
    assert sum("cannot write the local event store" in r.message for r in caplog.records) == 1
    assert any("5 writes" in r.message for r in caplog.records)
