"""Events for consumer tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crampwatch.events import Event
from support.events import make_event as _make_event


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """``make_event(i, type_="cramp", device_id="dev1", end=False, onset_time=None, **details)``."""
    return _make_event
