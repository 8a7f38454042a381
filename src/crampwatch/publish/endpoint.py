"""The endpoint file: the running service tells consumers on the same computer where
its broker is.

``crampwatch run`` writes ``<data>/broker.json`` (mode 0600: it holds the broker's
password) once its broker is known, embedded or configured, and removes it when it
stops. ``crampwatch alarm`` and ``crampwatch logger`` without ``--broker`` read it, so
they find an embedded broker on whatever port it got, with its internal user, and a
configured broker with its TLS and credentials. The file is JSON::

    {"url": "mqtt://127.0.0.1:1883", "username": "...", "password": "...",
     "ca_file": null, "protocol": 4, "device_id": "bedroom", "pid": 1234}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from crampwatch.errors import CrampwatchError
from crampwatch.publish.config import BrokerConfig, parse_broker_url

__all__ = ["advertised", "read_endpoint", "remove_endpoint", "write_endpoint"]

log = logging.getLogger(__name__)


def _url(config: BrokerConfig) -> str:
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{'mqtts' if config.tls else 'mqtt'}://{host}:{config.port}"


def write_endpoint(path: Path, config: BrokerConfig, device_id: str) -> None:
    """Write the endpoint file atomically, readable by this user only."""
    data = {
        "url": _url(config),
        "username": config.username,
        "password": config.password,
        "ca_file": config.ca_file,
        "protocol": config.protocol,
        "device_id": device_id,
        "pid": os.getpid(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    # created 0600 from the start: the password is never readable by others, not even briefly
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_endpoint(path: Path) -> BrokerConfig | None:
    """The broker named by the endpoint file; None when there is no usable file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        config = parse_broker_url(str(data["url"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, CrampwatchError) as exc:
        # unreadable (another user's file), damaged: as if there were none
        log.debug("endpoint file %s not usable: %s", path, exc)
        return None
    protocol = data.get("protocol")
    return BrokerConfig(
        host=config.host,
        port=config.port,
        tls=config.tls,
        username=data.get("username"),
        password=data.get("password"),
        ca_file=data.get("ca_file"),
        protocol=protocol if protocol in (4, 5) else None,
    )


def remove_endpoint(path: Path) -> None:
    """Remove the endpoint file if this process wrote it (a newer service may own it)."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if owner == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def advertised(path: Path, config: BrokerConfig, device_id: str) -> Iterator[None]:
    """The endpoint file exists for the duration of the ``with`` block. Failing to write
    it is logged, never fatal: detection matters more than a local alarm finding it."""
    try:
        write_endpoint(path, config, device_id)
    except OSError as exc:
        log.warning("cannot write the endpoint file %s: %s", path, exc)
    try:
        yield
    finally:
        remove_endpoint(path)
