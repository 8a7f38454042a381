"""The service configuration: TOML read with the standard library, validated into typed
objects. Every problem names the file and the key (``night.toml: [broker] port: ...``).

Every key has a default except the source: ``[[sensor]]`` (BLE), ``[replay]`` or
``[simulator]`` (or ``--replay`` on the command line). The broker defaults to the
embedded one.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crampwatch.errors import CrampwatchError
from crampwatch.publish.config import without_password
from crampwatch.roles import ROLES

__all__ = [
    "DEVICE_ID_RULE",
    "BrokerSettings",
    "RecordingSettings",
    "ReplaySettings",
    "SensorSettings",
    "ServiceConfig",
    "SimulatorSettings",
    "check_device_id",
    "load_config",
]

LEGS = ("left", "right")

# A device id becomes an MQTT topic level and part of Home Assistant's unique ids and
# entity ids: no '/', '+', '#', spaces, dots or accents (HA drops such discovery ids).
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEVICE_ID_RULE = "1 to 64 letters A-Z, digits, '-' or '_' (used in MQTT topics and Home Assistant)"


def check_device_id(device_id: str, where: str) -> str:
    """``device_id`` if it is a valid device id, else :class:`CrampwatchError` naming
    ``where`` it came from (``file: [service] device_id`` or ``--device-id``)."""
    if not _DEVICE_ID.fullmatch(device_id):
        raise CrampwatchError(f"{where}: {device_id!r} is not a valid device id: {DEVICE_ID_RULE}")
    return device_id


@dataclass(frozen=True)
class BrokerSettings:
    """``[broker]``: ``url`` is ``embedded`` or ``mqtt://host:port`` / ``mqtts://host:port``."""

    url: str = "embedded"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line
    ca_file: str | None = None
    client_id_prefix: str = "crampwatch"
    home_assistant: bool = False


@dataclass(frozen=True)
class SensorSettings:
    """One ``[[sensor]]``: a BLE sensor set on one leg."""

    profile: str
    address: str | None = None
    name: str | None = None
    leg: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class ReplaySettings:
    """``[replay]``: an EDF/BDF recording used as the sensor."""

    path: str
    speed: float = 1.0
    channels: dict[str, str] = field(default_factory=dict)
    leg: str | None = None


@dataclass(frozen=True)
class SimulatorSettings:
    """``[simulator]``: a simulated night streamed through the acquisition interface."""

    hours: float = 8.0
    seed: int = 1
    speed: float = 1.0
    emg_fs_hz: float = 1000.0
    acc_fs_hz: float = 100.0
    leg: str | None = None


@dataclass(frozen=True)
class RecordingSettings:
    """``[recording]``: the raw night as EDF+ with the events as annotations."""

    enabled: bool = True
    folder: str | None = None


@dataclass(frozen=True)
class ServiceConfig:
    device_id: str = "crampwatch"
    broker: BrokerSettings = BrokerSettings()
    sensors: tuple[SensorSettings, ...] = ()
    replay: ReplaySettings | None = None
    simulator: SimulatorSettings | None = None
    recording: RecordingSettings = RecordingSettings()
    no_data_timeout_s: float = 30.0
    low_battery_pct: int = 15
    outbox: str | None = None
    model: str | None = None
    source_path: str | None = None

    @property
    def source_kind(self) -> str:
        """``replay``, ``ble``, ``simulator``, or ``none`` when no source is configured."""
        if self.replay is not None:
            return "replay"
        if self.sensors:
            return "ble"
        if self.simulator is not None:
            return "simulator"
        return "none"


def _toml_types(hint: Any) -> tuple[type, ...]:
    """The TOML value types a field of type ``hint`` accepts (``None`` is an absent key,
    never a TOML value; an integer is a fine float)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    accepted: list[type] = []
    for arg in typing.get_args(hint) if union else (hint,):
        if arg is type(None):
            continue
        arg = typing.get_origin(arg) or arg  # dict[str, str] -> dict
        accepted += [int, float] if arg is float else [arg]
    return tuple(accepted)


def _keys(cls: type, exclude: tuple[str, ...] = ()) -> dict[str, tuple[tuple[type, ...], bool]]:
    """key -> (accepted types, required) of one section, from its dataclass: the fields,
    their types and their defaults are the single description of the file format."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: (
            _toml_types(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.name not in exclude
    }


# The [service] keys are ServiceConfig's own fields: the others are sections of their own
# or not read from the file.
_NOT_SERVICE_KEYS = ("broker", "sensors", "replay", "simulator", "recording", "source_path")
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "service": _keys(ServiceConfig, exclude=_NOT_SERVICE_KEYS),
    "broker": _keys(BrokerSettings),
    "sensor": _keys(SensorSettings),
    "replay": _keys(ReplaySettings),
    "simulator": _keys(SimulatorSettings),
    "recording": _keys(RecordingSettings),
}


def load_config(path: str | Path | None) -> ServiceConfig:
    """Read and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return ServiceConfig()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrampwatchError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CrampwatchError(f"cannot read config {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CrampwatchError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(data, source=str(p))


def parse_config(data: dict[str, Any], *, source: str = "<config>") -> ServiceConfig:
    """Validate a parsed TOML document into a :class:`ServiceConfig`."""
    unknown = set(data) - set(_SCHEMA)
    if unknown:
        raise CrampwatchError(
            f"{source}: unknown section [{sorted(unknown)[0]}] "
            f"(known: {', '.join(sorted(_SCHEMA))})"
        )
    service = _section(data, "service", source)
    sensors_raw = data.get("sensor", [])
    if not isinstance(sensors_raw, list):
        raise CrampwatchError(f"{source}: [sensor] must be an array of tables: use [[sensor]]")
    sensors = tuple(
        SensorSettings(**_checked(s, "sensor", source, f"[[sensor]] #{i + 1}"))
        for i, s in enumerate(sensors_raw)
    )
    known_profiles = _profile_names() if sensors else ()
    for i, s in enumerate(sensors):
        _check_leg(s.leg, source, f"[[sensor]] #{i + 1} leg")
        if s.device_id is not None:
            check_device_id(s.device_id, f"{source}: [[sensor]] #{i + 1} device_id")
        if s.profile not in known_profiles:
            raise CrampwatchError(
                f"{source}: [[sensor]] #{i + 1} profile: unknown sensor profile {s.profile!r} "
                f"(known: {', '.join(known_profiles)})"
            )
        if not (s.address or s.name):
            raise CrampwatchError(
                f"{source}: [[sensor]] #{i + 1}: give 'address' or 'name' of the sensor"
            )
    replay = _optional(data, "replay", source, ReplaySettings)
    if replay is not None:
        _check_positive_or_zero(replay.speed, source, "[replay] speed")
        _check_leg(replay.leg, source, "[replay] leg")
        for role, label in replay.channels.items():
            if role not in ROLES or not isinstance(label, str):
                raise CrampwatchError(
                    f"{source}: [replay] channels: {role!r} is not a channel role "
                    f"({', '.join(ROLES)}) mapped to a label string"
                )
    simulator = _optional(data, "simulator", source, SimulatorSettings)
    if simulator is not None:
        _check_positive_or_zero(simulator.speed, source, "[simulator] speed")
        _check_leg(simulator.leg, source, "[simulator] leg")
        if not simulator.hours > 0:
            raise CrampwatchError(f"{source}: [simulator] hours must be > 0")
    if sum(x is not None and x != () for x in (replay, simulator, sensors)) > 1:
        raise CrampwatchError(
            f"{source}: choose one source: [[sensor]], [replay] or [simulator], not several"
        )
    broker = BrokerSettings(**_section(data, "broker", source))
    if not (broker.url == "embedded" or broker.url.startswith(("mqtt://", "mqtts://"))):
        raise CrampwatchError(
            f"{source}: [broker] url must be 'embedded', mqtt://host:port or mqtts://host:port,"
            f" got {without_password(broker.url)!r}"
        )
    cfg = ServiceConfig(
        **service,
        broker=broker,
        sensors=sensors,
        replay=replay,
        simulator=simulator,
        recording=RecordingSettings(**_section(data, "recording", source)),
        source_path=source,
    )
    if not cfg.no_data_timeout_s > 0:
        raise CrampwatchError(f"{source}: [service] no_data_timeout_s must be > 0")
    check_device_id(cfg.device_id, f"{source}: [service] device_id")
    return dataclasses.replace(cfg, no_data_timeout_s=float(cfg.no_data_timeout_s))


def _profile_names() -> tuple[str, ...]:
    from crampwatch.acquire.profiles import list_profiles

    return tuple(p.name for p in list_profiles())


def _section(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise CrampwatchError(f"{source}: [{name}] must be a table")
    return _checked(raw, name, source, f"[{name}]")


def _optional(data: dict[str, Any], name: str, source: str, cls: type) -> Any:
    return cls(**_section(data, name, source)) if name in data else None


def _checked(raw: dict[str, Any], name: str, source: str, where: str) -> dict[str, Any]:
    schema = _SCHEMA[name]
    for key, value in raw.items():
        if key not in schema:
            raise CrampwatchError(
                f"{source}: {where} unknown key '{key}' (known: {', '.join(schema)})"
            )
        types, _ = schema[key]
        if isinstance(value, bool) and bool not in types:
            types_ok = False
        else:
            types_ok = isinstance(value, types)
        if not types_ok:
            names = " or ".join(t.__name__ for t in types)
            raise CrampwatchError(f"{source}: {where} {key}: expected {names}, got {value!r}")
    for key, (_, required) in schema.items():
        if required and key not in raw:
            raise CrampwatchError(f"{source}: {where} missing required key '{key}'")
    return dict(raw)


def _check_leg(leg: str | None, source: str, where: str) -> None:
    if leg is not None and leg not in LEGS:
        raise CrampwatchError(f"{source}: {where} must be 'left' or 'right', got {leg!r}")


def _check_positive_or_zero(speed: float, source: str, where: str) -> None:
    if speed < 0:
        raise CrampwatchError(f"{source}: {where} must be >= 0 (0 = as fast as possible)")
