"""Home Assistant MQTT discovery: pure builders of the retained ``…/config`` messages.

Per device: the cramp as an ``event`` entity (fed by the event topic; each event
carries ``leg``, ``confidence``, ``onset_time`` and ``device_id`` as attributes, and a
``cramp_warning`` is its own event type, "calf tightening", which informs and wakes
nobody), monitoring online as a ``binary_sensor`` (connectivity, fed by the retained
status topic; the ``stopped`` of a normal end counts as off), and two ``sensor``
entities, cramps tonight and the PLM index (periodic leg movements per hour of
monitoring), fed by the retained ``crampwatch/<device_id>/stats`` topic that the logger
keeps up to date. The event entity is unavailable while the device is ``offline``; the
two summary sensors keep their last value after the service stops in the morning, when
one looks at them. Home Assistant forgets discovery when it restarts and announces
itself with ``online`` on :data:`HA_STATUS_TOPIC`; the publisher then republishes.
See https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery.
"""

from __future__ import annotations

from typing import Any

from crampwatch import __version__
from crampwatch.events import EventType
from crampwatch.publish import topics

__all__ = [
    "DISCOVERY_PREFIX",
    "EVENT_ATTRIBUTES",
    "HA_STATUS_TOPIC",
    "discovery_messages",
    "event_types",
]

DISCOVERY_PREFIX = "homeassistant"
HA_STATUS_TOPIC = f"{DISCOVERY_PREFIX}/status"

# Home Assistant's event entity needs {"event_type": one of event_types}: a cramp onset
# (end_s null) and its end update are told apart; other types pass through. The other
# keys of the rendered object become the event's attributes.
EVENT_ATTRIBUTES = ("leg", "confidence", "onset_time", "device_id")
_EVENT_TEMPLATE = (
    "{% set t = value_json.type %}"
    "{% if t == 'cramp' %}{% set t = 'cramp_onset' if value_json.end_s is none "
    "else 'cramp_end' %}{% endif %}"
    '{{ {"event_type": t, '
    + ", ".join(f'"{k}": value_json.{k}' for k in EVENT_ATTRIBUTES)
    + "} | tojson }}"
)
# the retained status carries "stopped" (non-retained) before "offline" on a normal end
_STATUS_TEMPLATE = "{{ 'offline' if value == 'stopped' else value }}"


def event_types() -> list[str]:
    """The ``event_type`` values the event entity can report."""
    # a cramp is two: its onset wakes, its end closes the alert
    return ["cramp_onset", "cramp_end", *(str(t) for t in EventType if t != EventType.CRAMP)]


def _node(device_id: str) -> str:
    return f"crampwatch_{device_id}".replace("-", "_")


def _device(device_id: str) -> dict[str, Any]:
    return {
        "identifiers": [_node(device_id)],
        "name": f"crampwatch {device_id}",
        "manufacturer": "crampwatch",
        "model": "leg cramp watcher (not a medical device)",
        "sw_version": __version__,
    }


def _availability(device_id: str) -> list[dict[str, str]]:
    return [
        {
            "topic": topics.status_topic(device_id),
            "payload_available": topics.ONLINE,
            "payload_not_available": topics.OFFLINE,
        }
    ]


def discovery_messages(device_id: str) -> list[tuple[str, dict[str, Any]]]:
    """``(topic, payload)`` of each discovery config for ``device_id`` (publish retained)."""
    node = _node(device_id)
    device = _device(device_id)
    common = {"device": device, "qos": 1}
    cramp = {
        **common,
        "name": "Leg cramp",
        "unique_id": f"{node}_cramp",
        "state_topic": topics.event_topic(device_id),
        "event_types": event_types(),
        "value_template": _EVENT_TEMPLATE,
        "availability": _availability(device_id),
    }
    monitoring = {
        **common,
        "name": "Monitoring",
        "unique_id": f"{node}_monitoring",
        "state_topic": topics.status_topic(device_id),
        "value_template": _STATUS_TEMPLATE,
        "payload_on": topics.ONLINE,
        "payload_off": topics.OFFLINE,
        "device_class": "connectivity",
    }
    cramps_tonight = {
        **common,
        "name": "Cramps tonight",
        "unique_id": f"{node}_cramps_tonight",
        "state_topic": topics.stats_topic(device_id),
        "value_template": "{{ value_json.cramps_tonight }}",
        "state_class": "measurement",
        "icon": "mdi:foot-print",
    }
    plm_index = {
        **common,
        "name": "PLM index",
        "unique_id": f"{node}_plm_index",
        "state_topic": topics.stats_topic(device_id),
        "value_template": "{{ value_json.plm_index }}",
        "unit_of_measurement": "/h",
        "state_class": "measurement",
    }
    return [
        (f"{DISCOVERY_PREFIX}/event/{node}/cramp/config", cramp),
        (f"{DISCOVERY_PREFIX}/binary_sensor/{node}/monitoring/config", monitoring),
        (f"{DISCOVERY_PREFIX}/sensor/{node}/cramps_tonight/config", cramps_tonight),
        (f"{DISCOVERY_PREFIX}/sensor/{node}/plm_index/config", plm_index),
    ]
