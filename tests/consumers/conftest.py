"""Events for consumer tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crampwatch.events import Event, event_id


def _make_event(
    i: int,
    type_: str = "cramp",
    device_id: str = "dev1",
    *,
    end: bool = False,
    onset_time: str | None = None,
    **details: object,
) -> Event:
    onset_s = 60.0 * i
    return Event(
        id=event_id(device_id, type_, onset_s),
        device_id=device_id,
        type=type_,
        onset_s=onset_s,
        end_s=onset_s + 20.0 if end or type_ != "cramp" else None,
        detected_at_s=onset_s + (21.0 if end else 2.0),
        confidence=0.9,
        leg="right",
        onset_time=onset_time,
        periodic=True if type_ == "leg_movement" else None,
        details=dict(details),
    )


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """``make_event(i, type_="cramp", device_id="dev1", end=False, onset_time=None, **details)``."""
    return _make_event
