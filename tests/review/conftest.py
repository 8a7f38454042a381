"""A store with several simulated nights (the last one with its EDF+ recording)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from crampwatch.consumers.store import EventStore
from review.nightgen import CrampSpec, NightSpec, busy_night, evening, fill_store, write_recording


@dataclass(frozen=True)
class StoredNights:
    db: Path
    recording: Path
    specs: tuple[NightSpec, ...]  # oldest first; the last has the recording

    @property
    def last(self) -> NightSpec:
        return self.specs[-1]


def earlier_nights() -> tuple[NightSpec, ...]:
    # Onsets differ between nights: event ids hash (device, leg, type, onset_s), so the
    # same onset on two nights would be the same event (see the report to the lead).
    return tuple(
        NightSpec(
            start=evening(day),
            hours=7.0,
            cramps=tuple(CrampSpec(3600.0 * k + day, 50.0 + 10 * k) for k in range(day - 19)),
            plm_series=((5000.0 + day, 5 * (day - 19), 22.0 + day % 3),),
            positions=(1000.0 + day, 9000.0 + day),
        )
        for day in (20, 21, 22)
    )


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> StoredNights:
    root = tmp_path_factory.mktemp("nights")
    specs = (*earlier_nights(), busy_night(24))
    recording = write_recording(root / "night-2026-11-24.edf", specs[-1])
    with EventStore(root / "events.sqlite") as store:
        for spec in specs[:-1]:
            fill_store(store, spec)
        fill_store(store, specs[-1], recording)
    return StoredNights(root / "events.sqlite", recording, specs)
