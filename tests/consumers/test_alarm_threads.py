"""The Alarm shell's thread contract, fed messages by hand (no broker is started)."""

from __future__ import annotations

import threading

from crampwatch.consumers.alarm import Alarm, AlarmAction
from crampwatch.publish import topics
from crampwatch.publish.config import BrokerConfig


def test_ringing_is_seen_only_after_the_outputs_were_told(make_event) -> None:
    """``ringing`` read from another thread (a test, a status page) must not run ahead
    of the outputs: the alert exists a moment before its actions are dispatched."""
    entered, release = threading.Event(), threading.Event()
    told: list[str] = []

    def slow_output(action: AlarmAction) -> None:
        entered.set()
        release.wait(10)  # a sound output starting up, or a GIL switch at the wrong time
        told.append(action.kind)

    alarm = Alarm(BrokerConfig(), [slow_output])
    cramp = make_event(1)
    feeder = threading.Thread(
        target=alarm.handle, args=(topics.event_topic("dev1"), cramp.to_json().encode())
    )
    feeder.start()
    assert entered.wait(10)
    seen: list[bool] = []
    reader = threading.Thread(target=lambda: seen.append(alarm.ringing))
    reader.start()
    reader.join(0.5)
    assert not seen  # still dispatching: the reader waits instead of answering early
    release.set()
    feeder.join(10)
    reader.join(10)
    assert seen == [True] and "ring" in told
