"""Publishing events over MQTT so that none is lost (✦ MQTT contract).

- :class:`BrokerConfig`, :func:`parse_broker_url`, :func:`check_reachable`: where the broker is.
- :class:`Outbox`: the durable SQLite queue an event waits in until the broker's PUBACK.
- :class:`EventPublisher`: QoS 1 events, retained ``online``/``offline`` status with a last
  will, reconnect with backoff, MQTT 5 where the broker speaks it.
- :class:`EmbeddedBroker`: an in-process amqtt broker on loopback for zero configuration.
- :mod:`crampwatch.publish.homeassistant`: Home Assistant discovery.
"""

from typing import TYPE_CHECKING

from crampwatch.publish.config import BrokerConfig, broker_for, check_reachable, parse_broker_url
from crampwatch.publish.outbox import Outbox
from crampwatch.publish.publisher import EventPublisher, PublisherCounters

if TYPE_CHECKING:
    from crampwatch.publish.broker import EmbeddedBroker

__all__ = [
    "BrokerConfig",
    "EmbeddedBroker",
    "EventPublisher",
    "Outbox",
    "PublisherCounters",
    "broker_for",
    "check_reachable",
    "parse_broker_url",
]


def __getattr__(name: str) -> object:
    # amqtt is imported only by whoever uses the embedded broker (PEP 562)
    if name == "EmbeddedBroker":
        from crampwatch.publish.broker import EmbeddedBroker

        return EmbeddedBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
