"""MQTT topic names (✦ MQTT contract: docs/mqtt.md).

| topic | payload | QoS / retain |
|---|---|---|
| ``crampwatch/<device_id>/event`` | event JSON | 1 / no |
| ``crampwatch/<device_id>/status`` | ``online`` / ``offline`` (last will) | 1 / yes |
| ``crampwatch/<device_id>/alert`` | alarm state JSON | 1 / no |
| ``crampwatch/<device_id>/alert/ack`` | ``{"event_id": …, "action": …}`` | 1 / no |
| ``crampwatch/<device_id>/stats`` | nightly counts for Home Assistant (retained) | 1 / yes |
| ``crampwatch/<device_id>/recording`` | a finished EDF+: ``{"night", "path", …}`` | 1 / no |
"""

from __future__ import annotations

__all__ = [
    "ALL_ACKS",
    "ALL_EVENTS",
    "ALL_RECORDINGS",
    "ALL_STATUS",
    "OFFLINE",
    "ONLINE",
    "ROOT",
    "STOPPED",
    "alert_ack_topic",
    "alert_topic",
    "device_of",
    "event_topic",
    "recording_topic",
    "stats_topic",
    "status_topic",
]

ROOT = "crampwatch"
ONLINE = "online"
OFFLINE = "offline"
# Sent (not retained) just before the retained OFFLINE on a normal end, so consumers
# can tell "monitoring ended" from a lost service (whose last will says OFFLINE alone).
STOPPED = "stopped"

ALL_EVENTS = f"{ROOT}/+/event"
ALL_STATUS = f"{ROOT}/+/status"
ALL_ACKS = f"{ROOT}/+/alert/ack"
ALL_RECORDINGS = f"{ROOT}/+/recording"


def event_topic(device_id: str) -> str:
    return f"{ROOT}/{device_id}/event"


def recording_topic(device_id: str) -> str:
    """Where the service announces a finished night recording (the review plots it)."""
    return f"{ROOT}/{device_id}/recording"


def status_topic(device_id: str) -> str:
    return f"{ROOT}/{device_id}/status"


def alert_topic(device_id: str) -> str:
    return f"{ROOT}/{device_id}/alert"


def alert_ack_topic(device_id: str) -> str:
    return f"{ROOT}/{device_id}/alert/ack"


def stats_topic(device_id: str) -> str:
    return f"{ROOT}/{device_id}/stats"


def device_of(topic: str) -> str | None:
    """The ``<device_id>`` of a ``crampwatch/<device_id>/…`` topic (None otherwise)."""
    parts = topic.split("/")
    if len(parts) >= 3 and parts[0] == ROOT and parts[1]:
        return parts[1]
    return None
