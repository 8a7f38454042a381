"""Publishing events over MQTT so that none is lost (✦ MQTT contract).

- :class:`BrokerConfig`, :func:`parse_broker_url`, :func:`check_reachable`: where the broker is.
- :class:`Outbox`: the durable SQLite queue an event waits in until the broker's PUBACK.
- :class:`EventPublisher`: QoS 1 events, retained ``online``/``offline`` status with a last
  will, reconnect with backoff, MQTT 5 where the broker speaks it.
- :class:`EmbeddedBroker`: an in-process amqtt broker on loopback for zero configuration.
- :mod:`crampwatch.publish.homeassistant`: Home Assistant discovery.
"""

from crampwatch.publish.broker import EmbeddedBroker, broker_for
from crampwatch.publish.config import BrokerConfig, check_reachable, parse_broker_url
from crampwatch.publish.outbox import Outbox
from crampwatch.publish.publisher import EventPublisher, PublisherCounters

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
