"""The wake alarm: a cramp onset rings, shows the stretch prompts step by step and
escalates until acknowledged; leg movements never ring, nor does a ``cramp_warning``
("calf tightening": a quiet notice, only when turned on); a lost sensor gets a gentle
"monitoring stopped" notice naming the device, a normal end of the service "monitoring
ended".

Two layers:

- :class:`AlarmCore`, sans-I/O: feed it events, statuses, acknowledgements and the time
  (injected, seconds of any monotonic clock), get :class:`AlarmAction` values back. No
  threads, sockets or clocks, so every rule is tested by feeding values.
- :class:`Alarm`: the core on MQTT. Subscribes (persistent session) to every device's
  ``event``, ``status`` and ``alert/ack`` topics, hands the actions to pluggable outputs
  (:mod:`crampwatch.consumers.outputs`) and publishes the alarm state on
  ``crampwatch/<device_id>/alert``.

Acknowledgement travels on ``crampwatch/<device_id>/alert/ack`` (QoS 1) as
``{"event_id": "<id>", "action": "ack" | "not_a_cramp", "source": "key"}``. ``ack``
silences the alarm (the prompts continue); ``not_a_cramp`` silences it, ends the
prompts and becomes a label that the logger stores for retraining. A key press calls
:meth:`Alarm.acknowledge`, which publishes that message, so every alarm and the logger
see the same acknowledgement. ``event_id`` may be omitted: it then means the alert
that is ringing.

"Sensor lost" is either the device's status going ``offline`` without a ``stopped``
first (the service died: its last will) or a ``signal_issue`` event whose
``details.kind`` is one of :data:`LOST_ISSUES` (the service runs but hears nothing from
the sensor). A service that ends normally publishes ``stopped`` before its retained
``offline``: "monitoring ended". Only devices this alarm follows count (seen ``online``
or sending events since it started): a retained ``offline`` left from an earlier night,
or of a device that is not running, says nothing about tonight.

The alarm announces itself, retained, on ``crampwatch/alarm/<client id>/status``:
``{"state": "armed"|"stopped", "sound": true|false, "player": …, "detail": …}``, so a
phone or Home Assistant can see an alarm that cannot make a sound.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from crampwatch.consumers.client import InvalidMessage, LocalBroker, Subscriber, default_client_id
from crampwatch.consumers.logger import ACK_ACTIONS, STATUSES, decode_event, parse_ack
from crampwatch.consumers.prompts import (
    WAKE_HEADLINE,
    Prompt,
    monitoring_ended,
    monitoring_resumed,
    monitoring_stopped,
    prompt_steps,
    tightening_notice,
)
from crampwatch.events import Event, EventType, SignalIssueKind, parse_iso
from crampwatch.publish import topics
from crampwatch.publish.config import BrokerConfig

__all__ = [
    "LOST_ISSUES",
    "STOPPED",
    "ActionKind",
    "Alarm",
    "AlarmAction",
    "AlarmCore",
    "AlarmOutput",
    "CallbackOutput",
    "alarm_status_topic",
]

log = logging.getLogger(__name__)

# after the last prompt, an unanswered alert (silenced because the cramp ended) still
# takes an "I'm awake" / "not a cramp" for this long, so the answer reaches the log
ANSWER_WINDOW_S = 600.0
# the open signal_issue kinds that mean "the service hears nothing from the sensor" (a
# reconnect gap arrives already closed: by then the data is back)
LOST_ISSUES = frozenset({SignalIssueKind.NO_DATA})
STOPPED = topics.STOPPED


def alarm_status_topic(client_id: str) -> str:
    """Where an alarm announces itself (retained): one level more than a device's
    topics, so no ``crampwatch/+/…`` subscription mistakes it for a device."""
    return f"{topics.ROOT}/alarm/{client_id}/status"


ActionKind = Literal["ring", "escalate", "prompt", "silence", "notice", "label", "state"]


@dataclass(frozen=True)
class AlarmAction:
    """One thing the outputs should do. ``kind``:

    - ``ring``: start waking (``level`` 1, ``text`` the headline);
    - ``escalate``: louder (``level`` 2, 3, …);
    - ``prompt``: show ``prompt``, step ``step`` of ``steps`` (``text``: all in one line);
    - ``silence``: stop the sound (``text``: ``ack``, ``not_a_cramp`` or ``ended``);
    - ``notice``: a gentle message, no alarm (``text``);
    - ``label``: record ``text`` for ``event_id``;
    - ``state``: the alarm state ``text`` for the alert topic.
    """

    kind: ActionKind
    device_id: str
    event_id: str | None = None
    level: int = 0
    text: str = ""
    step: int = 0
    steps: int = 0
    prompt: Prompt | None = None
    leg: str | None = None
    source: str | None = None


class SoundState(Protocol):
    """What the alarm reports about its sound (``outputs.SoundCheck`` is one)."""

    @property
    def ok(self) -> bool: ...

    @property
    def player(self) -> str | None: ...

    @property
    def detail(self) -> str: ...


class AlarmOutput(Protocol):
    """Anything that can show, sound or forward an :class:`AlarmAction`."""

    def handle(self, action: AlarmAction) -> None: ...


@dataclass
class _Alert:
    event: Event
    level: int = 1
    level_since_s: float = 0.0
    step: int = 0
    step_since_s: float = 0.0
    acknowledged: bool = False  # silenced: by the sleeper, or because the cramp ended
    answered: bool = False  # the sleeper's own answer was recorded (a label, once)


@dataclass
class AlarmCore:
    """The alarm's rules as a state machine. Times are seconds of one monotonic clock.

    escalate_after_s : unacknowledged for this long → next ``escalate`` level (up to
        ``max_level``), then again after the same time.
    prompt_step_s : each prompt step stays this long before the next.
    stale_after_s : if set, an onset whose wall-clock ``onset_time`` is older than this
        many seconds (e.g. drained from an outbox in the morning) does not ring. Off by
        default: a replayed recording carries the onset times of its own night.
    show_warnings : show a quiet notice for a ``cramp_warning`` (never a ring).
    """

    escalate_after_s: float = 60.0
    prompt_step_s: float = 20.0
    stale_after_s: float | None = None
    max_level: int = 3
    steps: tuple[Prompt, ...] = field(default_factory=prompt_steps)
    show_warnings: bool = False
    _alerts: dict[str, _Alert] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)  # onset ids already handled (resends)
    _lost: set[str] = field(default_factory=set)  # devices told "monitoring stopped"
    _following: set[str] = field(default_factory=set)  # devices running since our start
    _finished: set[str] = field(default_factory=set)  # devices told "monitoring ended"

    @property
    def ringing(self) -> bool:
        return any(not a.acknowledged for a in self._alerts.values())

    def alert(self, event_id: str | None) -> _Alert | None:
        """The state of an active alert (None if not active)."""
        return self._alerts.get(event_id or "")

    @property
    def following(self) -> frozenset[str]:
        """Devices running since this alarm started (their "offline" is news)."""
        return frozenset(self._following)

    @property
    def active(self) -> list[str]:
        """Ids of alerts still showing (ringing or going through the prompts)."""
        return list(self._alerts)

    def on_event(
        self, event: Event, now_s: float, now_wall: datetime | None = None
    ) -> list[AlarmAction]:
        """Actions for one received event (a resend of a known id does nothing)."""
        self._following.add(event.device_id)  # it sends events: it is running
        if event.type == EventType.SIGNAL_ISSUE and event.details.get("kind") in LOST_ISSUES:
            if event.end_s is None:
                return self._lost_notice(event.device_id)
            return self._resumed(event.device_id)  # the issue's end: data is back
        if event.type == EventType.CRAMP_WARNING:
            return self._warning(event)
        if event.type != EventType.CRAMP:
            return []  # leg movements, turning over, ...: logged silently, never ring
        if event.end_s is not None:
            return self._ended(event)
        if event.id in self._seen:
            return []
        self._seen.add(event.id)
        if self._is_stale(event, now_wall):
            log.info("not ringing for stale cramp onset %s (%s)", event.id, event.onset_time)
            return []
        alert = _Alert(event, level_since_s=now_s, step_since_s=now_s)
        self._alerts[event.id] = alert
        return [
            self._action("state", alert, text="ringing"),
            self._action("ring", alert, level=1, text=WAKE_HEADLINE),
            self._prompt(alert),
        ]

    def on_status(self, device_id: str, status: str) -> list[AlarmAction]:
        """``stopped`` → "monitoring ended"; ``offline`` without it → "monitoring stopped"
        (once); ``online`` after either → "resumed". Only for a device this alarm
        follows: a stale retained ``offline`` of a device not running says nothing."""
        if status == topics.ONLINE:
            self._following.add(device_id)
            return self._resumed(device_id)
        if device_id not in self._following:
            return []
        self._following.discard(device_id)
        if status == STOPPED:
            self._finished.add(device_id)
            return [AlarmAction("notice", device_id, text=monitoring_ended(device_id))]
        return self._lost_notice(device_id)

    def on_ack(
        self, event_id: str | None, action: str, now_s: float, source: str = "mqtt"
    ) -> list[AlarmAction]:
        """Apply ``ack`` / ``not_a_cramp`` (idempotent). ``event_id`` None: the newest alert."""
        if action not in ACK_ACTIONS:
            raise ValueError(f"unknown acknowledgement {action!r}")
        if event_id is None:
            if not self._alerts:
                return []
            event_id = next(reversed(self._alerts))
        alert = self._alerts.get(event_id)
        if alert is None:
            return []
        out: list[AlarmAction] = []
        if not alert.acknowledged:
            alert.acknowledged = True
            out.append(self._action("silence", alert, text=action, source=source))
        if action == "not_a_cramp":
            del self._alerts[event_id]
            out.append(self._action("label", alert, text=ACK_ACTIONS[action], source=source))
            out.append(self._action("state", alert, text="dismissed", source=source))
        elif not alert.answered:
            # also when the cramp already ended (and silenced the alarm): the sleeper
            # did respond, and the review shows it
            out.append(self._action("label", alert, text=ACK_ACTIONS[action], source=source))
            out.append(self._action("state", alert, text="acknowledged", source=source))
        alert.answered = True
        return out

    def tick(self, now_s: float) -> list[AlarmAction]:
        """Escalations and prompt steps due at ``now_s``."""
        out: list[AlarmAction] = []
        for event_id, alert in list(self._alerts.items()):
            if not alert.acknowledged and now_s - alert.level_since_s >= self.escalate_after_s:
                if alert.level < self.max_level:
                    alert.level += 1
                    out.append(self._action("escalate", alert, level=alert.level))
                    out.append(self._action("state", alert, text="escalated"))
                alert.level_since_s = now_s
            if now_s - alert.step_since_s >= self.prompt_step_s:
                if alert.step + 1 < len(self.steps):
                    alert.step += 1
                    alert.step_since_s = now_s
                    out.append(self._prompt(alert))
                elif alert.answered or (
                    alert.acknowledged and now_s - alert.step_since_s >= ANSWER_WINDOW_S
                ):
                    # all steps shown and the sleeper answered (or the cramp ended and
                    # nobody answered for a while): the alert is done
                    del self._alerts[event_id]
        return out

    # -- helpers -------------------------------------------------------------------------
    def _ended(self, event: Event) -> list[AlarmAction]:
        """The cramp is over: stop the sound. The steps go on in order (a stretch after
        an early end still helps, and no step is skipped)."""
        alert = self._alerts.get(event.id)
        if alert is None:
            return []
        alert.event = event
        out = []
        if not alert.acknowledged:
            alert.acknowledged = True
            out.append(self._action("silence", alert, text="ended"))
        out.append(self._action("state", alert, text="ended"))
        return out

    def _warning(self, event: Event) -> list[AlarmAction]:
        """A quiet notice for a ``cramp_warning`` onset when turned on; never a ring."""
        if not self.show_warnings or event.id in self._seen:
            return []
        self._seen.add(event.id)
        text = tightening_notice(event.device_id, event.leg)
        return [AlarmAction("notice", event.device_id, event.id, text=text, leg=event.leg)]

    def _resumed(self, device_id: str) -> list[AlarmAction]:
        """ "Resumed" once after a "stopped" or "ended" notice; nothing otherwise."""
        if device_id not in self._lost and device_id not in self._finished:
            return []
        self._lost.discard(device_id)
        self._finished.discard(device_id)
        return [AlarmAction("notice", device_id, text=monitoring_resumed(device_id))]

    def _lost_notice(self, device_id: str) -> list[AlarmAction]:
        if device_id in self._lost:
            return []
        self._lost.add(device_id)
        return [AlarmAction("notice", device_id, text=monitoring_stopped(device_id))]

    def _is_stale(self, event: Event, now_wall: datetime | None) -> bool:
        if self.stale_after_s is None or now_wall is None or not event.onset_time:
            return False
        onset = parse_iso(event.onset_time)
        if onset is None:
            return False
        return (now_wall - onset).total_seconds() > self.stale_after_s

    def _prompt(self, alert: _Alert) -> AlarmAction:
        prompt = self.steps[alert.step]
        text = f"Step {alert.step + 1} of {len(self.steps)}: {prompt.title}. {prompt.text}"
        return self._action(
            "prompt", alert, step=alert.step, steps=len(self.steps), prompt=prompt, text=text
        )

    @staticmethod
    def _action(kind: ActionKind, alert: _Alert, **kw: Any) -> AlarmAction:
        return AlarmAction(kind, alert.event.device_id, alert.event.id, leg=alert.event.leg, **kw)


class Alarm:
    """:class:`AlarmCore` on MQTT with pluggable outputs.

    Threads: paho's network thread feeds messages in; a ticker thread calls
    :meth:`AlarmCore.tick` every ``tick_s`` seconds; :meth:`acknowledge` may be called
    from any thread (e.g. the key reader). Outputs are called under one lock, in order,
    and must return quickly (start a sound, do not wait for it).
    """

    def __init__(
        self,
        config: BrokerConfig | LocalBroker,
        outputs: Sequence[AlarmOutput | Callable[[AlarmAction], None]] = (),
        *,
        escalate_after_s: float = 60.0,
        prompt_step_s: float = 20.0,
        stale_after_s: float | None = None,
        tick_s: float = 0.25,
        client_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        show_warnings: bool = False,
        sound: SoundState | None = None,
    ) -> None:
        self.core = AlarmCore(
            escalate_after_s, prompt_step_s, stale_after_s, show_warnings=show_warnings
        )
        self.sound = sound
        self.outputs = [o if hasattr(o, "handle") else CallbackOutput(o) for o in outputs]
        self._clock = clock
        self._wall_clock = wall_clock
        self._tick_s = tick_s
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.events_seen = 0
        self.rings = 0
        self.client_id = client_id or default_client_id(config, "alarm")
        self._subscriber = Subscriber(
            config,
            self.client_id,
            [topics.ALL_EVENTS, topics.ALL_STATUS, topics.ALL_ACKS],
            self.handle,
        )

    def start(self) -> None:
        self._subscriber.start()
        self._publish_status("armed")
        self._stop.clear()
        self._ticker = threading.Thread(
            target=self._tick_loop, name="crampwatch-alarm", daemon=True
        )
        self._ticker.start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self._subscriber.wait_subscribed(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        # not alive: never started (stopped while start() was still running) or done
        if self._ticker is not None and self._ticker.is_alive():
            self._ticker.join(2.0)
        self._publish_status("stopped")
        self._subscriber.stop()

    def _publish_status(self, state: str) -> None:
        """The alarm's own retained status: armed or stopped, and whether it can sound."""
        sound = self.sound
        payload = {
            "state": state,
            "sound": None if sound is None else sound.ok,
            "player": None if sound is None else sound.player,
            "detail": None if sound is None else sound.detail,
        }
        self._subscriber.publish(
            alarm_status_topic(self.client_id), json.dumps(payload), retain=True
        )

    def __enter__(self) -> Alarm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ringing(self) -> bool:
        """Under the lock: once this is True, the outputs have been told to ring (the
        alert is created a moment before its actions are dispatched)."""
        with self._lock:
            return self.core.ringing

    @property
    def invalid(self) -> int:
        return self._subscriber.invalid

    def acknowledge(
        self, action: str = "ack", event_id: str | None = None, source: str = "key"
    ) -> None:
        """A local acknowledgement (key press): applied now and published on the ack
        topic so the logger stores it and other alarms stop too."""
        with self._lock:
            if event_id is None and self.core.active:
                event_id = self.core.active[-1]
            alert = self.core.alert(event_id)
            actions = self.core.on_ack(event_id, action, self._clock(), source)
            self._dispatch(actions)
        if alert is not None:
            payload = json.dumps({"event_id": event_id, "action": action, "source": source})
            self._subscriber.publish(topics.alert_ack_topic(alert.event.device_id), payload)

    # -- messages (network thread) -------------------------------------------------------
    def handle(self, topic: str, payload: bytes) -> None:
        """Apply one MQTT message (raises :class:`InvalidMessage` for a malformed one)."""
        device_id = topics.device_of(topic)
        if device_id is None:
            return
        now = self._clock()
        if topic == topics.event_topic(device_id):
            event = decode_event(payload)
            self.events_seen += 1
            with self._lock:
                self._dispatch(self.core.on_event(event, now, self._wall_clock()))
        elif topic == topics.status_topic(device_id):
            status = payload[:64].decode("utf-8", "replace").strip()
            if status not in STATUSES:
                raise InvalidMessage(f"status must be one of {STATUSES}, got {status[:40]!r}")
            with self._lock:
                self._dispatch(self.core.on_status(device_id, status))
        elif topic == topics.alert_ack_topic(device_id):
            event_id, action, source = parse_ack(payload)
            with self._lock:
                self._dispatch(self.core.on_ack(event_id, action, now, source))

    def _tick_loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            with self._lock:
                self._dispatch(self.core.tick(self._clock()))

    def _dispatch(self, actions: list[AlarmAction]) -> None:
        for action in actions:
            if action.kind == "ring":
                self.rings += 1
            if action.kind == "state":
                self._publish_state(action)
            for output in self.outputs:
                try:
                    output.handle(action)
                except Exception:  # one broken output must not silence the others
                    log.exception("alarm output %r failed on %s", output, action.kind)

    def _publish_state(self, action: AlarmAction) -> None:
        alert = self.core.alert(action.event_id)
        payload = {
            "event_id": action.event_id,
            "state": action.text,
            "leg": action.leg,
            "level": alert.level if alert else 0,
            "prompt_step": alert.step if alert else None,
            "prompt": self.core.steps[alert.step].title if alert else None,
        }
        self._subscriber.publish(topics.alert_topic(action.device_id), json.dumps(payload))


class CallbackOutput:
    """An output that calls ``fn(action)`` (a push service, a smart light, a test)."""

    def __init__(self, fn: Callable[[AlarmAction], None]) -> None:
        self.fn = fn

    def handle(self, action: AlarmAction) -> None:
        self.fn(action)

    def __repr__(self) -> str:
        return f"CallbackOutput({self.fn!r})"
