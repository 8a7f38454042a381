"""Broker URLs and reachability."""

from __future__ import annotations

import pytest

from crampwatch.errors import CrampwatchError
from crampwatch.publish import BrokerConfig, check_reachable, parse_broker_url
from crampwatch.publish.broker import free_port
from crampwatch.publish.config import MQTT_V5, MQTT_V311


def test_plain_url_defaults_to_port_1883() -> None:
    cfg = parse_broker_url("mqtt://broker.lan")
    assert (cfg.host, cfg.port, cfg.tls, cfg.username, cfg.protocol) == (
        "broker.lan",
        1883,
        False,
        None,
        None,
    )


def test_tls_url_with_escaped_credentials() -> None:
    cfg = parse_broker_url("mqtts://night%40home:p%3Ass@10.0.0.2")
    assert cfg.tls and cfg.port == 8883
    assert (cfg.username, cfg.password) == ("night@home", "p:ss")


@pytest.mark.parametrize(("query", "version"), [("5", MQTT_V5), ("3.1.1", MQTT_V311)])
def test_protocol_can_be_pinned(query: str, version: int) -> None:
    assert parse_broker_url(f"mqtt://h:1884?protocol={query}").protocol == version


@pytest.mark.parametrize(
    "url",
    [
        "localhost:1883",
        "http://h:1883",
        "mqtt://h:99999",
        "mqtt://:1883",
        "mqtt://h/x",
        "mqtt://h?qos=2",
    ],
)
def test_bad_urls_are_one_line_errors_naming_the_url(url: str) -> None:
    with pytest.raises(CrampwatchError) as err:
        parse_broker_url(url)
    assert url in str(err.value) and "\n" not in str(err.value)


def test_unreachable_broker_names_host_and_port() -> None:
    cfg = BrokerConfig(host="127.0.0.1", port=free_port())
    with pytest.raises(CrampwatchError, match=rf"broker unreachable: 127\.0\.0\.1:{cfg.port}"):
        check_reachable(cfg, timeout_s=1.0)
