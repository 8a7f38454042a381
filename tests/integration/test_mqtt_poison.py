"""``crampwatch logger`` cannot be poisoned: after any number of bad messages on its
topics (real mosquitto, the console script) it stores every valid event, and the bad
ones are acknowledged, counted and never redelivered."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest

from crampwatch.consumers.store import EventStore
from crampwatch.publish import topics
from support.cli import Crampwatch

pytestmark = pytest.mark.integration


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def poison_payloads(good: dict) -> list[tuple[str, bytes]]:
    """(topic suffix, payload): each fails to parse, validate or store."""

    def event(**kw: object) -> bytes:
        return json.dumps({**good, **kw}, allow_nan=True).encode()

    return [
        ("event", event(onset_s=float("nan"))),  # NOT NULL in the store
        ("event", event(end_s=float("inf"))),
        ("event", event(onset_time="0001-01-01T00:00:00Z")),  # OverflowError downstream
        ("event", event(onset_time="9999-12-31T23:59:59Z")),
        ("event", _nested(100_000).encode()),  # RecursionError in the parser
        ("event", event(details=json.loads(_nested(50)))),
        ("event", event(details={"blob": "x" * 1_000_000})),  # 1 MB: over the bound
        ("event", b"\xff\xfe not utf-8"),
        ("event", b"[]"),
        ("recording", json.dumps({"night": "2026-11-24", "path": "/etc/shadow"}).encode()),
        ("alert/ack", json.dumps({"event_id": "forged", "action": "not_a_cramp"}).encode()),
        ("status", b"sleeping"),
    ]


def _publish_all(url_port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hostile")
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_logger_stores_every_valid_event_after_any_number_of_bad_ones(
    mosquitto, make_event, wait_for, tmp_path
) -> None:
    db = tmp_path / "events.db"
    env_args = ("logger", "--broker", mosquitto.url, "--db", str(db), "--client-id", "lg")
    base = make_event(0).to_dict()
    rounds = 5
    poison = poison_payloads(base)
    n_poison = rounds * len(poison)  # 60: three times mosquitto's in-flight window of 20
    valid = [make_event(i, "leg_movement") for i in range(1, rounds + 1)]
    messages = []
    for k in range(rounds):
        messages += [(f"crampwatch/dev1/{suffix}", p) for suffix, p in poison]
        messages.append((topics.event_topic("dev1"), valid[k].to_json().encode()))

    def stored() -> int:
        with EventStore(db) as store:
            return store.count()

    cw = Crampwatch(*env_args)
    try:
        assert wait_for(lambda: "logging events from" in cw.text, 15)
        _publish_all(mosquitto.port, messages)
        assert wait_for(lambda: stored() == len(valid), 20), (stored(), cw.text)
    finally:
        status, err = cw.terminate()
    assert status == 0, err
    assert f"stored {len(valid)} events" in cw.text
    assert f"{n_poison} invalid messages" in cw.text, cw.text

    # Restarted with the same session: nothing of the poison comes back, and a new
    # valid event (queued behind any redelivery) is stored.
    _publish_all(mosquitto.port, [(topics.event_topic("dev1"), make_event(99).to_json().encode())])
    cw = Crampwatch(*env_args)
    try:
        assert wait_for(lambda: stored() == len(valid) + 1, 20), cw.text
    finally:
        status, err = cw.terminate()
    assert status == 0, err
    assert "stored 1 events" in cw.text and " 0 invalid messages" in cw.text, cw.text
    with EventStore(db) as store:
        assert store.labels() == [] and store.recordings("2026-11-24") == []
