"""Home Assistant discovery payloads."""

from __future__ import annotations

from crampwatch.publish import topics
from crampwatch.publish.homeassistant import discovery_messages, event_types


def _by_component(device_id: str) -> dict[str, dict]:
    return {
        topic.split("/")[1] + "/" + topic.split("/")[3]: p
        for topic, p in discovery_messages(device_id)
    }


def test_one_config_per_entity_with_unique_ids() -> None:
    msgs = discovery_messages("bed-1")
    assert all(t.startswith("homeassistant/") and t.endswith("/config") for t, _ in msgs)
    ids = [p["unique_id"] for _, p in msgs]
    assert len(ids) == len(set(ids)) == 4
    assert {
        "event/cramp",
        "binary_sensor/monitoring",
        "sensor/cramps_tonight",
        "sensor/plm_index",
    } == set(_by_component("bed-1"))


def test_entities_follow_the_mqtt_contract_topics() -> None:
    c = _by_component("bed-1")
    assert c["event/cramp"]["state_topic"] == topics.event_topic("bed-1")
    assert "cramp_onset" in c["event/cramp"]["event_types"] == event_types()
    mon = c["binary_sensor/monitoring"]
    assert (mon["state_topic"], mon["payload_on"], mon["payload_off"]) == (
        topics.status_topic("bed-1"),
        "online",
        "offline",
    )
    assert mon["device_class"] == "connectivity" and "availability" not in mon
    assert c["event/cramp"]["availability"][0]["topic"] == topics.status_topic("bed-1")


def test_summary_sensors_stay_available_when_the_service_stops() -> None:
    # the logger keeps the stats retained: the morning's numbers stay readable
    c = _by_component("bed-1")
    for key in ("sensor/cramps_tonight", "sensor/plm_index"):
        assert "availability" not in c[key]
        assert c[key]["state_topic"] == topics.stats_topic("bed-1")


def test_event_entity_carries_leg_confidence_and_time_and_knows_calf_tightening() -> None:
    cramp = _by_component("bed-1")["event/cramp"]
    template = cramp["value_template"]
    for key in ("leg", "confidence", "onset_time"):
        assert f'"{key}": value_json.{key}' in template
    assert "tojson" in template and "cramp_onset" in template
    assert "cramp_warning" in cramp["event_types"]
    assert "stopped" in _by_component("bed-1")["binary_sensor/monitoring"]["value_template"]


def test_devices_do_not_collide() -> None:
    a = {p["unique_id"] for _, p in discovery_messages("a")}
    b = {p["unique_id"] for _, p in discovery_messages("b")}
    assert not a & b
