"""The receiving side of MQTT: whoever listens to the night's events.

Each consumer follows one or more devices' topics (``crampwatch/<device_id>/…``, see
``docs/mqtt.md``) through the shared :class:`~crampwatch.consumers.client.Subscriber`
(persistent session, QoS 1, acknowledged after the handler, so nothing is lost while a
consumer is away and a resend is dropped by event ``id``). Decisions live in sans-I/O
cores fed with values and an injected clock; MQTT, SQLite, sound and the terminal are
thin layers around them.

- :mod:`~crampwatch.consumers.client` — :class:`Subscriber`, event and JSON parsing with
  size and schema checks, the local service's endpoint (:class:`LocalBroker`);
- :mod:`~crampwatch.consumers.logger` — :class:`EventLogger`: events, statuses, answers
  to the alarm and recordings into the store; the night's counts for Home Assistant;
- :mod:`~crampwatch.consumers.store` — :class:`EventStore`: SQLite, idempotent by id,
  grouped into nights (noon to noon); what the review reads;
- :mod:`~crampwatch.consumers.alarm` — :class:`AlarmCore` (which event rings, escalation,
  prompts, "monitoring stopped") and :class:`Alarm` (its MQTT shell);
- :mod:`~crampwatch.consumers.outputs` — where an alarm action goes: terminal, sound,
  desktop notification;
- :mod:`~crampwatch.consumers.prompts` — the words shown to a sleeper woken by a cramp
  (stretching, standing, massage, warmth; never a medicine);
- :mod:`~crampwatch.consumers.command` — the ``logger`` and ``alarm`` verbs.

Consumers ignore event types and ``signal_issue`` kinds they do not know: the event
contract grows. Nothing is imported here, so each verb loads only what it uses.
"""

__all__: list[str] = []
