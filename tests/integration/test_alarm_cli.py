"""``crampwatch alarm`` as a process against mosquitto: it says when it cannot make a
sound, ignores last night's retained states, rings for the service it follows and
tells a normal end from a lost sensor, naming the device."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest

from crampwatch.consumers.alarm import Alarm, alarm_status_topic
from crampwatch.consumers.prompts import monitoring_stopped
from crampwatch.publish import EventPublisher, topics
from support.cli import Crampwatch

pytestmark = pytest.mark.integration


def retained(port: int, topic: str, payload: str) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="old-night")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def read_retained(port: int, topic: str, wait_for) -> dict:
    got: list[bytes] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reader")
    client.on_message = lambda _c, _u, msg: got.append(msg.payload)
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        assert wait_for(lambda: got, 10)
    finally:
        client.disconnect()
        client.loop_stop()
    return json.loads(got[-1])


def test_alarm_without_sound_says_so_and_follows_only_its_service(
    mosquitto, make_event, wait_for, tmp_path
) -> None:
    # last night's retained states: another device's last will, and our device's end
    retained(mosquitto.port, topics.status_topic("guest-room"), "offline")
    retained(mosquitto.port, topics.status_topic("bedroom"), "offline")
    no_players = tmp_path / "bin"
    no_players.mkdir()
    env = {**os.environ, "PATH": str(no_players), "HOME": str(tmp_path)}
    alarm = Crampwatch(
        "alarm", "--broker", mosquitto.url, "--prompt-step", "1", "--client-id", "bedside", env=env
    )
    try:
        assert wait_for(lambda: "alarm armed" in alarm.text, 15), alarm.text
        first = alarm.text.splitlines()[0]
        assert first.startswith("NO SOUND:") and "alsa-utils" in first
        status = read_retained(mosquitto.port, alarm_status_topic("bedside"), wait_for)
        assert status["state"] == "armed" and status["sound"] is False
        assert "Monitoring" not in alarm.text  # stale retained states say nothing

        with EventPublisher(mosquitto.config, "bedroom", tmp_path / "o.db") as publisher:
            publisher.publish(make_event(1, device_id="bedroom"))
            assert publisher.wait_drained(10)
            assert wait_for(lambda: "Step 2 of 5" in alarm.text, 15), alarm.text
        # the service stopped normally
        assert wait_for(lambda: "Monitoring ended for bedroom" in alarm.text, 10), alarm.text
        assert "Monitoring stopped" not in alarm.text and "guest-room" not in alarm.text
        assert "Leg cramp starting" in alarm.text and "\a" in alarm.text  # the bell rang
    finally:
        code, err = alarm.terminate()
    assert code == 0, err
    status = read_retained(mosquitto.port, alarm_status_topic("bedside"), wait_for)
    assert status["state"] == "stopped"


SERVICE = """
import sys, time
from crampwatch.publish import BrokerConfig, EventPublisher
p = EventPublisher(BrokerConfig(host="127.0.0.1", port=int(sys.argv[1]), keepalive=5),
                   "bedroom", sys.argv[2])
p.start()
print("up", flush=True)
time.sleep(60)
"""


def test_a_service_that_dies_is_lost_not_ended(mosquitto, wait_for, tmp_path) -> None:
    """SIGKILL: no ``stopped``, only the last will: "monitoring stopped", naming it."""
    notices: list[str] = []
    alarm = Alarm(
        mosquitto.config,
        [lambda a: notices.append(a.text) if a.kind == "notice" else None],
        client_id="bedside-test",
    )
    alarm.start()
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, str(mosquitto.port), str(tmp_path / "o.db")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert alarm.wait_subscribed(30)
        assert service.stdout is not None and service.stdout.readline().strip() == "up"
        assert wait_for(lambda: "bedroom" in alarm.core.following, 10)  # online seen
        service.kill()
        service.wait(10)
        assert wait_for(lambda: notices, 15)
        assert notices == [monitoring_stopped("bedroom")]
    finally:
        if service.poll() is None:
            service.kill()
            service.wait(10)
        alarm.stop()
