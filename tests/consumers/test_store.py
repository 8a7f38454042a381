"""EventStore additions used by the logger (idempotence, night counts, default path)."""

from __future__ import annotations

from pathlib import Path

from crampwatch.consumers.store import EventStore, default_db_path


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
        cramps, plm, last_s = store.night_counts(night, "dev1")
        assert (cramps, plm) == (1, 2)
        assert last_s == make_event(3, "leg_movement").detected_at_s


def test_default_db_path_follows_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CRAMPWATCH_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("CRAMPWATCH_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("CRAMPWATCH_DATA", raising=False)
    assert default_db_path() == Path(tmp_path) / "crampwatch" / "events.sqlite"
