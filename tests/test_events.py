import json
from datetime import UTC, datetime

import jsonschema
import pytest

from crampwatch.events import Event, event_id, onset_time_iso, validate_event


def _cramp(**kw) -> Event:
    base = dict(
        id=event_id("dev1", "cramp", 123.4567, "left"),
        device_id="dev1",
        type="cramp",
        onset_s=123.4567,
        end_s=None,
        detected_at_s=125.9,
        confidence=0.93,
        leg="left",
        onset_time=onset_time_iso(datetime(2026, 11, 24, 22, 0, tzinfo=UTC), 123.4567),
        details={"peak_uv": 310.0},
    )
    base.update(kw)
    return Event(**base)


def test_event_id_is_stable_and_distinguishes_fields():
    assert event_id("d", "cramp", 10.0) == event_id("d", "cramp", 10.0000001)
    ids = {
        event_id("d", "cramp", 10.0),
        event_id("d", "cramp", 10.002),
        event_id("d", "leg_movement", 10.0),
        event_id("e", "cramp", 10.0),
        event_id("d", "cramp", 10.0, "left"),
        event_id("d", "cramp", 10.0, start_time=datetime(2026, 11, 24, 22, tzinfo=UTC)),
        event_id("d", "cramp", 10.0, start_time=datetime(2026, 11, 25, 22, tzinfo=UTC)),
    }
    assert len(ids) == 7


def test_json_round_trip_validates_against_schema():
    ev = _cramp()
    d = json.loads(ev.to_json())
    validate_event(d)
    back = Event.from_dict(d)
    assert back.id == ev.id and back.end_s is None and back.leg == "left"
    assert d["onset_time"] == "2026-11-24T22:02:03.457Z"


def test_end_update_keeps_id():
    ev = _cramp()
    end = ev.with_end(300.0, 300.4, duration_s=176.5)
    assert end.id == ev.id and end.end_s == 300.0 and not end.ongoing
    assert end.details == {"peak_uv": 310.0, "duration_s": 176.5}
    validate_event(end.to_dict())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("id"),
        lambda d: d.update(confidence=1.5),
        lambda d: d.update(leg="middle"),
        lambda d: d.update(type="Cramp!"),
        lambda d: d.update(onset_s="soon"),
        lambda d: d.update(onset_time="yesterday"),
        lambda d: d.update(schema=2),
    ],
)
def test_invalid_events_are_rejected(mutate):
    d = _cramp().to_dict()
    mutate(d)
    with pytest.raises(jsonschema.ValidationError):
        validate_event(d)
