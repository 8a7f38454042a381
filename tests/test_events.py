import json
from datetime import UTC, datetime

import jsonschema
import pytest

from crampwatch.events import (
    MAX_EVENT_BYTES,
    Event,
    SignalIssueKind,
    event_id,
    event_schema,
    loads_event_json,
    onset_time_iso,
    validate_event,
)


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


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(onset_s=float("nan")),
        lambda d: d.update(end_s=float("inf")),
        lambda d: d.update(detected_at_s=float("nan")),
        lambda d: d.update(onset_s=1e300),
        lambda d: d.update(details={"peak_uv": float("nan")}),
        lambda d: d.update(details={"a": [1.0, {"b": float("-inf")}]}),
        lambda d: d.update(onset_time="0001-01-01T00:00:00Z"),
        lambda d: d.update(onset_time="9999-12-31T23:59:59Z"),
        lambda d: d.update(onset_time="2026-02-30T01:00:00Z"),
        lambda d: d.update(details={"x": _nested(40)}),
    ],
    ids=[
        "nan-onset",
        "inf-end",
        "nan-detected",
        "huge-onset",
        "nan-detail",
        "inf-deep-detail",
        "year-1",
        "year-9999",
        "feb-30",
        "deep-nesting",
    ],
)
def test_non_finite_numbers_bad_times_and_deep_nesting_are_rejected(mutate):
    d = _cramp().to_dict()
    mutate(d)
    with pytest.raises(jsonschema.ValidationError):
        validate_event(d)


def _nested(depth: int) -> dict:
    d: dict = {}
    for _ in range(depth):
        d = {"x": d}
    return d


def test_network_payloads_are_bounded_before_parsing():
    good = _cramp().to_json().encode()
    assert loads_event_json(good)["id"] == _cramp().id
    with pytest.raises(ValueError, match="exceeds"):
        loads_event_json(b"{" + b" " * MAX_EVENT_BYTES + b"}")
    for bad in (b'{"onset_s": NaN}', b'{"x": Infinity}', b"[" * 100_000, b"\xff\xfe"):
        with pytest.raises(ValueError):
            loads_event_json(bad)


def test_an_unmeasured_detail_travels_as_null_and_the_event_stays_valid():
    d = _cramp(details={"peak_uv": float("nan"), "ok": 1.5}).to_dict()
    assert d["details"] == {"peak_uv": None, "ok": 1.5}
    validate_event(d)


def test_anonymised_edf_start_gives_no_wall_clock():
    # EDF's anonymisation date is 1985-01-01: not a wall clock a consumer can use
    assert onset_time_iso(datetime(1985, 1, 1, tzinfo=UTC), 10.0) is None


def test_the_schema_names_every_signal_issue_kind():
    kind = event_schema()["$defs"]["signal_issue_details"]["properties"]["kind"]
    assert sorted(kind["examples"]) == sorted(SignalIssueKind)


@pytest.mark.parametrize(
    ("type_", "details"),
    [
        ("signal_issue", {"kind": 3}),
        ("signal_issue", {"kind": ""}),
        ("signal_issue", {"kind": "no_data", "silent_s": "long"}),
        ("cramp", {"alert_after_s": "2 s"}),
        ("leg_movement", {"duration_s": -1.0}),
        ("position_change", {"angle_deg": "steep"}),
    ],
)
def test_a_known_detail_of_the_wrong_type_is_rejected(type_, details):
    d = _cramp(type=type_, details=details).to_dict()
    with pytest.raises(jsonschema.ValidationError):
        validate_event(d)


@pytest.mark.parametrize(
    ("type_", "details"),
    [
        ("signal_issue", {}),  # kind is optional in the schema (the contract only grows)
        ("signal_issue", {"kind": "a_future_kind", "channel": "calf", "extra": [1]}),
        ("signal_issue", {"kind": "no_data", "channel": "all", "silent_s": None}),
        ("cramp", {"alert_after_s": 2.5, "rule": "sustained", "peak_uv": None}),
        ("cramp_warning", {"anything": "goes"}),
        ("a_future_type", {"kind": 3}),
    ],
)
def test_details_stay_open_to_new_keys_kinds_and_types(type_, details):
    validate_event(_cramp(type=type_, details=details).to_dict())


def test_iso_times_are_read_in_one_place():
    from datetime import timedelta, timezone

    from crampwatch.events import parse_iso

    z = parse_iso("2026-11-24T22:02:03.457Z")
    assert z == datetime(2026, 11, 24, 22, 2, 3, 457000, tzinfo=UTC)
    assert parse_iso("2026-11-24T23:02:03.457+01:00") == z
    assert parse_iso("2026-11-24T22:02:03.457").tzinfo == UTC  # no zone: UTC
    assert parse_iso("2026-11-24T23:02:03+01:00").utcoffset() == timedelta(hours=1)
    assert parse_iso("2026-11-24T23:02:03+01:00").tzinfo == timezone(timedelta(hours=1))
    assert [parse_iso(t) for t in (None, "", "yesterday", "2026-02-30T01:00:00Z")] == [None] * 4
