"""Shared fixtures: the detection model and short scheduled nights."""

from __future__ import annotations

import pytest

from crampwatch.detect.model import CrampModel, default_model_path, load_model


@pytest.fixture(scope="session")
def model() -> CrampModel:
    """The shipped model when present; else a small one trained here (fixed seeds)."""
    path = default_model_path()
    if path.is_file():
        return load_model(path)
    from crampwatch.detect.training import labelled_simulated, train_from_nights

    train = labelled_simulated([1, 2], 0.75, "train", cramp_boost=20.0)
    return train_from_nights(train, [], seed=1)


def _night(schedule, *, hours=0.05, seed=5, emg_fs_hz=1000.0, acc_fs_hz=50.0, tibialis=True, **kw):
    """A short simulated night holding only ``schedule`` (list of ScheduledEvent)."""
    from crampwatch.simulate import simulate_night

    return simulate_night(
        hours,
        seed,
        emg_fs_hz=emg_fs_hz,
        acc_fs_hz=acc_fs_hz,
        tibialis=tibialis,
        schedule=schedule,
        **kw,
    )


def _alarms(events):
    """First emission of each cramp id (the wake-up alarm)."""
    seen, out = set(), []
    for ev in events:
        if ev.type == "cramp" and ev.id not in seen:
            seen.add(ev.id)
            out.append(ev)
    return out


@pytest.fixture(scope="session")
def make_night():
    """``make_night(schedule, hours=..., seed=..., emg_fs_hz=..., tibialis=...)``."""
    return _night


@pytest.fixture(scope="session")
def alarms():
    """``alarms(events)``: the first emission of each cramp id."""
    return _alarms
