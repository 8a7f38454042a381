"""AlarmCore rules, fed values and an injected clock (no broker, no threads)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crampwatch.consumers.alarm import AlarmCore
from crampwatch.consumers.prompts import (
    monitoring_ended,
    monitoring_resumed,
    monitoring_stopped,
)


def kinds(actions) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.kind for a in actions]


@pytest.fixture
def core() -> AlarmCore:
    return AlarmCore(escalate_after_s=30.0, prompt_step_s=10.0, stale_after_s=600.0)


def test_cramp_onset_rings_with_first_prompt(core, make_event) -> None:
    actions = core.on_event(make_event(1), now_s=0.0)
    assert "ring" in kinds(actions) and core.ringing
    prompt = next(a for a in actions if a.kind == "prompt")
    assert prompt.step == 0 and prompt.steps == len(core.steps) and prompt.leg == "right"
    assert prompt.prompt is not None and prompt.prompt.title in prompt.text


@pytest.mark.parametrize("type_", ["leg_movement", "position_change", "signal_issue"])
def test_other_events_never_ring(core, make_event, type_) -> None:
    assert core.on_event(make_event(1, type_), now_s=0.0) == []
    assert not core.ringing


def test_a_resent_onset_does_not_ring_again(core, make_event) -> None:
    core.on_event(make_event(1), 0.0)
    core.on_ack(None, "ack", 1.0)
    assert core.on_event(make_event(1), 2.0) == []
    assert not core.ringing


def test_escalates_until_acknowledged(core, make_event) -> None:
    core.on_event(make_event(1), 0.0)
    assert "escalate" not in kinds(core.tick(29.0))
    levels = [
        a.level for t in (30.0, 60.0, 90.0, 120.0) for a in core.tick(t) if a.kind == "escalate"
    ]
    assert levels == [2, 3]  # capped at max_level
    core.on_ack(None, "ack", 121.0)
    assert "escalate" not in kinds(core.tick(200.0))


def test_ack_silences_and_prompts_go_on(core, make_event) -> None:
    ev = make_event(1)
    core.on_event(ev, 0.0)
    out = core.on_ack(ev.id, "ack", 5.0, source="key")
    assert kinds(out)[0] == "silence" and not core.ringing
    label = next(a for a in out if a.kind == "label")
    assert (label.text, label.source) == ("acknowledged", "key")
    steps = [a.step for t in range(10, 100, 10) for a in core.tick(float(t)) if a.kind == "prompt"]
    assert steps == list(range(1, len(core.steps)))
    assert core.active == []  # all steps shown to an awake sleeper: done
    assert core.on_ack(ev.id, "ack", 101.0) == []  # idempotent


def test_not_a_cramp_is_a_label_and_ends_the_alert(core, make_event) -> None:
    ev = make_event(1)
    core.on_event(ev, 0.0)
    out = core.on_ack(ev.id, "not_a_cramp", 3.0)
    assert [a.text for a in out if a.kind == "label"] == ["not_a_cramp"]
    assert core.active == [] and not core.ringing
    assert kinds(core.tick(100.0)) == []


def test_a_cramp_that_ends_early_stops_the_sound_and_skips_no_step(core, make_event) -> None:
    shown = [a.step for a in core.on_event(make_event(1), 0.0) if a.kind == "prompt"]
    out = core.on_event(make_event(1, end=True), 8.0)
    assert "silence" in kinds(out) and not core.ringing
    for t in range(10, 200, 5):
        shown += [a.step for a in core.tick(float(t)) if a.kind == "prompt"]
    assert shown == list(range(len(core.steps)))  # every step, in order


def test_end_of_a_cramp_that_never_rang_does_nothing(core, make_event) -> None:
    assert core.on_event(make_event(1, end=True), 0.0) == []


def test_old_onsets_ring_unless_a_max_age_is_set(make_event) -> None:
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    old = (now - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert "ring" in kinds(AlarmCore().on_event(make_event(1, onset_time=old), 0.0, now))


def test_stale_onset_does_not_ring(core, make_event) -> None:
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    old = (now - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    fresh = (now - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    assert core.on_event(make_event(1, onset_time=old), 0.0, now) == []
    assert "ring" in kinds(core.on_event(make_event(2, onset_time=fresh), 0.0, now))


def test_monitoring_stopped_is_a_single_gentle_notice_naming_the_device(core, make_event) -> None:
    core.on_status("dev1", "online")
    out = core.on_status("dev1", "offline") + core.on_status("dev1", "offline")
    assert [(a.kind, a.text) for a in out] == [("notice", monitoring_stopped("dev1"))]
    assert "dev1" in out[0].text and not core.ringing
    assert [a.text for a in core.on_status("dev1", "online")] == [monitoring_resumed("dev1")]
    lost = make_event(3, "signal_issue", kind="no_data")
    lost = replace(lost, end_s=None)  # the watchdog's onset: no data any more
    assert [a.text for a in core.on_event(lost, 0.0)] == [monitoring_stopped("dev1")]
    back = replace(lost, end_s=400.0)  # its end update: data is back
    assert [a.text for a in core.on_event(back, 1.0)] == [monitoring_resumed("dev1")]
    assert core.on_event(back, 2.0) == []


def test_a_normal_end_is_told_apart_from_a_lost_sensor(core) -> None:
    core.on_status("dev1", "online")
    out = core.on_status("dev1", "stopped") + core.on_status("dev1", "offline")
    assert [a.text for a in out] == [monitoring_ended("dev1")]
    assert "stopped normally" in out[0].text and "not being watched" not in out[0].text


def test_stale_retained_offline_of_a_device_not_followed_is_ignored(core) -> None:
    # a new alarm gets last night's retained "offline" of each device at once
    assert core.on_status("old-device", "offline") == []
    assert core.on_status("dev1", "stopped") == []
    core.on_status("dev1", "online")  # the service starts: followed from now on
    assert [a.text for a in core.on_status("dev1", "offline")] == [monitoring_stopped("dev1")]


def test_calf_tightening_never_rings_and_shows_a_notice_only_when_asked(make_event) -> None:
    quiet = AlarmCore()
    assert quiet.on_event(make_event(1, "cramp_warning"), 0.0) == []
    shown = AlarmCore(show_warnings=True)
    out = shown.on_event(make_event(1, "cramp_warning"), 0.0)
    assert kinds(out) == ["notice"] and "Calf tightening" in out[0].text
    assert not shown.ringing and shown.on_event(make_event(1, "cramp_warning"), 1.0) == []
    assert "ring" in kinds(shown.on_event(make_event(2), 2.0))  # a cramp still rings


def test_unknown_ack_action_is_refused(core) -> None:
    with pytest.raises(ValueError):
        core.on_ack(None, "snooze", 0.0)


def test_an_answer_after_the_cramp_ended_is_still_recorded(core, make_event) -> None:
    core.on_event(make_event(1), 0.0)
    core.on_event(make_event(1, end=True), 20.0)  # silenced by the end of the cramp
    for t in range(21, 120, 5):  # all prompt steps go by
        core.tick(float(t))
    actions = core.on_ack(None, "ack", 130.0, source="key")
    assert [(a.kind, a.text) for a in actions if a.kind == "label"] == [("label", "acknowledged")]
    assert core.on_ack(None, "ack", 131.0) == []  # once
    core.tick(200.0)
    assert core.active == []  # answered: done
