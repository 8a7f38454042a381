"""Synthetic events for tests of the consumers and the MQTT path."""

from __future__ import annotations

from crampwatch.events import Event, event_id


def make_event(
    i: int,
    type_: str = "cramp",
    device_id: str = "dev1",
    *,
    end: bool = False,
    onset_time: str | None = None,
    leg: str | None = "right",
    **details: object,
) -> Event:
    """Event number ``i`` of a synthetic night: onset at 60·i s, a stable id; a cramp is
    an onset (``end_s`` None) unless ``end``."""
    onset_s = 60.0 * i
    return Event(
        id=event_id(device_id, type_, onset_s),
        device_id=device_id,
        type=type_,
        onset_s=onset_s,
        end_s=onset_s + 20.0 if end or type_ != "cramp" else None,
        detected_at_s=onset_s + (21.0 if end else 2.0),
        confidence=0.9,
        leg=leg,
        onset_time=onset_time,
        periodic=True if type_ == "leg_movement" else None,
        details=dict(details),
    )
