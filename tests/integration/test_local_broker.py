"""The embedded broker on one bedside computer, and consumers that follow the service:
its port (the standard one unless taken), anonymous clients from loopback, and a
subscriber that waits for the service and moves with it when it restarts."""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from crampwatch.consumers.client import LocalBroker, Subscriber
from crampwatch.publish.broker import LOOPBACK, EmbeddedBroker, free_port
from crampwatch.publish.config import BrokerConfig
from crampwatch.publish.endpoint import write_endpoint

pytestmark = pytest.mark.integration


def _connect_rc(config: BrokerConfig, username: str | None, password: str | None) -> int:
    """The CONNACK return code a 3.1.1 client gets (0: accepted)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if username is not None:
        client.username_pw_set(username, password)
    got: list[int] = []
    done = threading.Event()

    def on_connect(_c, _u, _f, rc, _p) -> None:  # type: ignore[no-untyped-def]
        got.append(rc.value)
        done.set()

    client.on_connect = on_connect
    client.connect(config.host, config.port, keepalive=10)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return got[0] if got else -1


def test_prefers_its_port_and_takes_another_when_it_is_taken() -> None:
    wanted = free_port()
    with EmbeddedBroker(preferred_port=wanted) as broker:
        assert broker.port == wanted
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, wanted))
        squatter.listen()
        with EmbeddedBroker(preferred_port=wanted) as broker:
            assert broker.port != wanted
            assert _connect_rc(broker.config, broker.config.username, broker.config.password) == 0


def test_internal_user_and_anonymous_loopback_clients_only() -> None:
    with EmbeddedBroker() as broker:
        cfg = broker.config
        assert _connect_rc(cfg, cfg.username, cfg.password) == 0
        assert _connect_rc(cfg, None, None) == 0  # another user's alarm on this computer
        assert _connect_rc(cfg, cfg.username, "wrong") != 0
        assert _connect_rc(cfg, "someone", cfg.password) != 0


def test_a_follower_waits_for_the_service_and_moves_with_it(tmp_path, wait_for) -> None:
    endpoint = tmp_path / "broker.json"
    said: list[str] = []
    received: list[bytes] = []
    # nothing listens where the fallback points: the service is not up yet
    local = LocalBroker(
        endpoint, report=said.append, fallback=BrokerConfig(host=LOOPBACK, port=free_port())
    )
    local.poll_s = local.waiting_poll_s = 0.1
    sub = Subscriber(
        local, "test-follower", ["crampwatch/+/event"], lambda _t, p: received.append(p)
    )
    sub.start()
    try:
        assert wait_for(lambda: any(s.startswith("waiting for") for s in said), 10), said
        for round_ in range(2):  # the service starts, then restarts: new port and password
            with EmbeddedBroker() as broker:
                write_endpoint(endpoint, broker.config, "bedroom")
                # subscribed on this broker (not still on the last one: the old
                # connection's subscription flag is cleared from paho's thread)
                assert wait_for(
                    lambda b=broker: (
                        (sub.config.port, sub.config.password) == (b.port, b.config.password)
                        and sub.wait_subscribed(0)
                    ),
                    15,
                ), said
                publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
                publisher.username_pw_set(broker.config.username, broker.config.password)
                publisher.connect(LOOPBACK, broker.port)
                publisher.loop_start()
                publisher.publish("crampwatch/bedroom/event", f"{round_}", qos=1).wait_for_publish(
                    5
                )
                assert wait_for(lambda r=round_: f"{r}".encode() in received, 10)
                publisher.disconnect()
                publisher.loop_stop()
        assert sum(s.startswith("connected to the crampwatch service") for s in said) == 2
    finally:
        sub.stop()


def test_the_service_stores_the_answers_to_the_alarm(tmp_path, wait_for) -> None:
    from crampwatch.consumers.store import EventStore
    from crampwatch.service.localstore import LocalStore

    with EmbeddedBroker() as broker:
        local = LocalStore(tmp_path / "events.sqlite", ["bedroom"], acks_from=broker.config)
        assert local.acks_subscribed(10)
        alarm = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        alarm.connect(LOOPBACK, broker.port)  # anonymous, as another user's alarm
        alarm.loop_start()
        ack = '{"event_id": "e1", "action": "not_a_cramp", "source": "key"}'
        alarm.publish("crampwatch/bedroom/alert/ack", ack, qos=1).wait_for_publish(5)
        alarm.publish("crampwatch/other/alert/ack", ack.replace("e1", "e2"), qos=1)
        alarm.disconnect()
        alarm.loop_stop()

        def stored() -> list:
            with EventStore(tmp_path / "events.sqlite") as store:
                return [(e, label, src) for e, label, src, _at in store.labels()]

        assert wait_for(lambda: stored() == [("e1", "not_a_cramp", "key")], 10), stored()
        local.close()
