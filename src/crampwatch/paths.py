"""Where crampwatch keeps its files by default (overridable by environment variables).

| what | default | override |
|---|---|---|
| data folder | ``$XDG_DATA_HOME/crampwatch`` (``~/.local/share/...``) | ``CRAMPWATCH_DATA`` |
| event store (logger, review) | ``<data>/events.sqlite`` | ``CRAMPWATCH_DB`` |
| outbox (publisher) | ``<data>/outbox-<device_id>.sqlite`` | config ``[service] outbox`` |
| night recordings | ``<data>/recordings/`` | config ``[recording] folder`` |
| the running service's broker | ``<data>/broker.json`` (mode 0600) | |
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "default_data_dir",
    "default_db_path",
    "default_endpoint_path",
    "default_outbox_path",
    "default_recordings_dir",
]


def default_data_dir() -> Path:
    """The folder for the event store, outbox and recordings."""
    if env := os.environ.get("CRAMPWATCH_DATA"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crampwatch"


def default_db_path() -> Path:
    """The logger's event store, read by the review."""
    if env := os.environ.get("CRAMPWATCH_DB"):
        return Path(env)
    return default_data_dir() / "events.sqlite"


def default_outbox_path(device_id: str) -> Path:
    """The publisher's durable outbox for one device."""
    return default_data_dir() / f"outbox-{device_id}.sqlite"


def default_recordings_dir() -> Path:
    """Where the service writes each night's EDF+ recording."""
    return default_data_dir() / "recordings"


def default_endpoint_path() -> Path:
    """The endpoint file: which broker the running service publishes to (URL and
    credentials), for the alarm and logger on the same computer."""
    return default_data_dir() / "broker.json"
