"""The endpoint file: the running service names its broker for local consumers."""

from __future__ import annotations

import json
import os
import stat

from crampwatch.paths import default_endpoint_path
from crampwatch.publish.config import MQTT_V311, BrokerConfig
from crampwatch.publish.endpoint import advertised, read_endpoint, remove_endpoint, write_endpoint

EMBEDDED = BrokerConfig(
    host="127.0.0.1", port=41883, username="crampwatch", password="s3cr:t/@", protocol=MQTT_V311
)


def test_round_trip_keeps_address_credentials_and_protocol(tmp_path) -> None:
    path = tmp_path / "data" / "broker.json"
    write_endpoint(path, EMBEDDED, "bedroom")
    got = read_endpoint(path)
    assert got is not None
    assert (got.host, got.port, got.tls) == ("127.0.0.1", 41883, False)
    assert (got.username, got.password, got.protocol) == ("crampwatch", "s3cr:t/@", MQTT_V311)
    assert json.loads(path.read_text())["device_id"] == "bedroom"


def test_a_configured_tls_broker_keeps_its_ca_file(tmp_path) -> None:
    path = tmp_path / "broker.json"
    config = BrokerConfig(host="ha.lan", port=8883, tls=True, username="u", ca_file="/ca.pem")
    write_endpoint(path, config, "bedroom")
    got = read_endpoint(path)
    assert got is not None and got.tls and got.ca_file == "/ca.pem" and got.protocol is None


def test_only_its_owner_can_read_it(tmp_path) -> None:
    path = tmp_path / "broker.json"
    write_endpoint(path, EMBEDDED, "bedroom")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_file_or_a_damaged_one_names_no_broker(tmp_path) -> None:
    path = tmp_path / "broker.json"
    assert read_endpoint(path) is None
    path.write_text("{not json")
    assert read_endpoint(path) is None
    path.write_text(json.dumps({"url": "ftp://x"}))
    assert read_endpoint(path) is None


def test_removed_at_the_end_unless_a_newer_service_wrote_it(tmp_path) -> None:
    path = tmp_path / "broker.json"
    with advertised(path, EMBEDDED, "bedroom"):
        assert read_endpoint(path) == EMBEDDED
    assert not path.exists()

    write_endpoint(path, EMBEDDED, "bedroom")
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": os.getpid() + 1}))  # another service's
    remove_endpoint(path)
    assert path.exists()


def test_lives_in_the_data_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CRAMPWATCH_DATA", str(tmp_path))
    assert default_endpoint_path() == tmp_path / "broker.json"
