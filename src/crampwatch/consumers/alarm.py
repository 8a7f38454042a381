"""The wake alarm: a cramp onset rings, shows the stretch prompts step by step and
escalates until acknowledged; leg movements never ring; a lost sensor gets a gentle
"monitoring stopped" notice.

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

"Sensor lost" is either the device's status going ``offline`` (the service stopped or
died: its last will) or a ``signal_issue`` event whose ``details.issue`` is one of
:data:`LOST_ISSUES` (the service runs but hears nothing from the sensor).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from crampwatch.consumers.client import (
    InvalidMessage,
    LocalBroker,
    Subscriber,
    default_client_id,
    parse_event,
)
from crampwatch.consumers.logger import ACK_ACTIONS, parse_ack
from crampwatch.consumers.prompts import (
    MONITORING_RESUMED,
    MONITORING_STOPPED,
    WAKE_HEADLINE,
    Prompt,
    prompt_steps,
)
from crampwatch.events import Event
from crampwatch.publish import topics
from crampwatch.publish.config import BrokerConfig

__all__ = [
    "LOST_ISSUES",
    "ActionKind",
    "Alarm",
    "AlarmAction",
    "AlarmCore",
    "AlarmOutput",
    "CallbackOutput",
]

log = logging.getLogger(__name__)

# after the last prompt, an unanswered alert (silenced because the cramp ended) still
# takes an "I'm awake" / "not a cramp" for this long, so the answer reaches the log
ANSWER_WINDOW_S = 600.0
LOST_ISSUES = frozenset({"sensor_lost", "disconnected", "no_data", "monitoring_stopped"})

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


class AlarmOutput(Protocol):
    """Anything that can show, sound or forward an :class:`AlarmAction`."""

    def handle(self, action: AlarmAction) -> None: ...


@dataclass
class _Alert:
    event: Event
    started_s: float
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
    """

    escalate_after_s: float = 60.0
    prompt_step_s: float = 20.0
    stale_after_s: float | None = None
    max_level: int = 3
    steps: tuple[Prompt, ...] = field(default_factory=prompt_steps)
    _alerts: dict[str, _Alert] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)  # onset ids already handled (resends)
    _lost: set[str] = field(default_factory=set)  # devices told "monitoring stopped"

    @property
    def ringing(self) -> bool:
        return any(not a.acknowledged for a in self._alerts.values())

    def alert(self, event_id: str | None) -> _Alert | None:
        """The state of an active alert (None if not active)."""
        return self._alerts.get(event_id or "")

    @property
    def active(self) -> list[str]:
        """Ids of alerts still showing (ringing or going through the prompts)."""
        return list(self._alerts)

    def on_event(
        self, event: Event, now_s: float, now_wall: datetime | None = None
    ) -> list[AlarmAction]:
        """Actions for one received event (a resend of a known id does nothing)."""
        if event.type == "signal_issue" and event.details.get("kind") in LOST_ISSUES:
            return self._lost_notice(event.device_id)
        if event.type != "cramp":
            return []  # leg movements, turning over, ...: logged silently, never ring
        if event.end_s is not None:
            return self._ended(event)
        if event.id in self._seen:
            return []
        self._seen.add(event.id)
        if self._is_stale(event, now_wall):
            log.info("not ringing for stale cramp onset %s (%s)", event.id, event.onset_time)
            return []
        alert = _Alert(event, now_s, level_since_s=now_s, step_since_s=now_s)
        self._alerts[event.id] = alert
        return [
            self._action("state", alert, text="ringing"),
            self._action("ring", alert, level=1, text=WAKE_HEADLINE),
            self._prompt(alert),
        ]

    def on_status(self, device_id: str, status: str) -> list[AlarmAction]:
        """``offline`` → one gentle notice; ``online`` after it → "resumed"."""
        if status == topics.OFFLINE:
            return self._lost_notice(device_id)
        if status == topics.ONLINE and device_id in self._lost:
            self._lost.discard(device_id)
            return [AlarmAction("notice", device_id, text=MONITORING_RESUMED)]
        return []

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
        """The cramp is over: stop the sound, jump to the aftercare steps."""
        alert = self._alerts.get(event.id)
        if alert is None:
            return []
        alert.event = event
        out = []
        if not alert.acknowledged:
            alert.acknowledged = True
            out.append(self._action("silence", alert, text="ended"))
        out.append(self._action("state", alert, text="ended"))
        aftercare = next((i for i, p in enumerate(self.steps) if p.title.startswith("Warmth")), 0)
        if alert.step < aftercare:
            alert.step = aftercare
            out.append(self._prompt(alert))
        return out

    def _lost_notice(self, device_id: str) -> list[AlarmAction]:
        if device_id in self._lost:
            return []
        self._lost.add(device_id)
        return [AlarmAction("notice", device_id, text=MONITORING_STOPPED)]

    def _is_stale(self, event: Event, now_wall: datetime | None) -> bool:
        if self.stale_after_s is None or now_wall is None or not event.onset_time:
            return False
        try:
            onset = datetime.fromisoformat(event.onset_time.replace("Z", "+00:00"))
        except ValueError:
            return False
        if onset.tzinfo is None:
            onset = onset.replace(tzinfo=UTC)
        return (now_wall - onset).total_seconds() > self.stale_after_s

    def _prompt(self, alert: _Alert) -> AlarmAction:
        prompt = self.steps[alert.step]
        text = f"Step {alert.step + 1} of {len(self.steps)}: {prompt.title}. {prompt.text}"
        return self._action(
            "prompt", alert, step=alert.step, steps=len(self.steps), prompt=prompt, text=text
        )

    @staticmethod
    def _action(kind: ActionKind, alert: _Alert, **kw: object) -> AlarmAction:
        return AlarmAction(kind, alert.event.device_id, alert.event.id, leg=alert.event.leg, **kw)  # type: ignore[arg-type]


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
    ) -> None:
        self.core = AlarmCore(escalate_after_s, prompt_step_s, stale_after_s)
        self.outputs = [o if hasattr(o, "handle") else CallbackOutput(o) for o in outputs]
        self._clock = clock
        self._wall_clock = wall_clock
        self._tick_s = tick_s
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.events_seen = 0
        self.rings = 0
        self._subscriber = Subscriber(
            config,
            client_id or default_client_id(config, "alarm"),
            [topics.ALL_EVENTS, topics.ALL_STATUS, topics.ALL_ACKS],
            self.handle,
        )

    def start(self) -> None:
        self._subscriber.start()
        self._stop.clear()
        self._ticker = threading.Thread(
            target=self._tick_loop, name="crampwatch-alarm", daemon=True
        )
        self._ticker.start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self._subscriber.wait_subscribed(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(2.0)
        self._subscriber.stop()

    def __enter__(self) -> Alarm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ringing(self) -> bool:
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
            event = parse_event(payload)
            self.events_seen += 1
            with self._lock:
                self._dispatch(self.core.on_event(event, now, self._wall_clock()))
        elif topic == topics.status_topic(device_id):
            status = payload.decode("utf-8", "replace").strip()
            if status not in (topics.ONLINE, topics.OFFLINE):
                raise InvalidMessage(f"status must be online/offline, got {status[:40]!r}")
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
