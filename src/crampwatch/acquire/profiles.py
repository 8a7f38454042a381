"""Machine-readable BLE sensor profiles (``firmware_interfaces/*.toml``).

A profile names the GATT service and characteristics of one supported sensor, the
commands that start and stop streaming, the packet streams with their packet duration
and sequence counter, sampling rates per channel role (Hz), scale factors to µV / g and
test vectors. Profiles are read with :mod:`tomllib` and validated into frozen dataclasses;
a problem names the file and the key.

Search order for the profile folder: ``$CRAMPWATCH_PROFILES_DIR``, the packaged copy
``crampwatch/acquire/firmware_interfaces/`` (wheel installs), then the repository's
``firmware_interfaces/`` next to ``src/`` (source and editable installs).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from crampwatch.errors import CrampwatchError
from crampwatch.roles import ROLES

__all__ = [
    "Profile",
    "StreamSpec",
    "TestVector",
    "get_profile",
    "list_profiles",
    "load_profile",
    "profiles_dir",
]


@dataclass(frozen=True)
class StreamSpec:
    """One notification stream of a sensor.

    Attributes
    ----------
    name:
        Stream key used by the decoder (``"data"``, ``"emg"``, ``"imu"`` ...).
    characteristics:
        Notify characteristic UUIDs feeding this stream (lower-case, 128-bit form).
    packet_s:
        Sensor time covered by one packet, s (e.g. 20 EMG samples at 1000 Hz = 0.02 s).
    seq_modulo:
        Modulus of the packet sequence counter, or ``None`` when packets carry none.
    """

    name: str
    characteristics: tuple[str, ...]
    packet_s: float
    seq_modulo: int | None = None


@dataclass(frozen=True)
class TestVector:
    """A packet (hex) and the integer counts it must decode to, per role."""

    __test__ = False  # not a pytest class

    name: str
    packet: bytes
    stream: str
    counts: dict[str, tuple[int, ...]]
    seq: int | None = None
    sensor_time_us: int | None = None
    valid: bool = True


@dataclass(frozen=True)
class Profile:
    """A supported sensor, as described by its TOML file.

    Rates are in Hz per channel role; ``emg_uv_per_lsb`` converts EMG counts to µV and
    ``acc_g_per_lsb`` accelerometer counts to g.
    """

    name: str
    title: str
    decoder: str
    verified: str
    service_uuid: str
    name_prefixes: tuple[str, ...]
    streams: tuple[StreamSpec, ...]
    rates_hz: dict[str, float]
    emg_uv_per_lsb: float
    acc_g_per_lsb: float
    command_uuid: str | None = None
    command_with_response: bool = True
    configure: tuple[bytes, ...] = ()
    start: tuple[bytes, ...] = ()
    stop: tuple[bytes, ...] = ()
    alert: tuple[bytes, ...] = ()
    info_uuid: str | None = None
    battery_service_uuid: str | None = None
    battery_uuid: str | None = None
    min_mtu: int = 23
    resets_on_connect: bool = False
    sensor_clock: bool = False
    emg_scale_nominal: bool = False
    channels: dict[str, int] = field(default_factory=dict)
    vectors: tuple[TestVector, ...] = ()
    path: Path | None = None

    def stream_for(self, characteristic_uuid: str) -> StreamSpec:
        """The stream a notify characteristic belongs to (KeyError if none)."""
        uuid = characteristic_uuid.lower()
        for stream in self.streams:
            if uuid in stream.characteristics:
                return stream
        raise KeyError(characteristic_uuid)

    def stream(self, name: str) -> StreamSpec:
        """The stream called ``name`` (KeyError if none)."""
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(name)

    @property
    def notify_uuids(self) -> tuple[str, ...]:
        """Every characteristic to subscribe to, in profile order."""
        return tuple(u for s in self.streams for u in s.characteristics)


def profiles_dir() -> Path:
    """The folder holding the profile TOML files (see module docstring for the order)."""
    env = os.environ.get("CRAMPWATCH_PROFILES_DIR")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [here.parent / "firmware_interfaces", here.parents[3] / "firmware_interfaces"]
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    raise CrampwatchError(
        "no sensor profiles found (looked in " + ", ".join(str(c) for c in candidates) + ")"
    )


def _hex_list(raw: Any, where: str) -> tuple[bytes, ...]:
    if not isinstance(raw, list):
        raise CrampwatchError(f"{where}: expected a list of hex strings")
    try:
        return tuple(bytes.fromhex(item) for item in raw)
    except (TypeError, ValueError) as exc:
        raise CrampwatchError(f"{where}: not a hex string ({exc})") from exc


def _need(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise CrampwatchError(f"{where}: missing key '{key}'")
    value = table[key]
    if not isinstance(value, kind):
        raise CrampwatchError(f"{where}: key '{key}' has the wrong type ({value!r})")
    return value


def _parse_vectors(raw: list[dict[str, Any]], where: str) -> tuple[TestVector, ...]:
    vectors = []
    for i, item in enumerate(raw):
        here = f"{where} vectors[{i}]"
        try:
            packet = bytes.fromhex(_need(item, "hex", str, here))
        except ValueError as exc:
            raise CrampwatchError(f"{here}: key 'hex' is not hex ({exc})") from exc
        counts = {
            role: tuple(int(v) for v in values) for role, values in item.get("counts", {}).items()
        }
        vectors.append(
            TestVector(
                name=_need(item, "name", str, here),
                packet=packet,
                stream=_need(item, "stream", str, here),
                counts=counts,
                seq=item.get("seq"),
                sensor_time_us=item.get("sensor_time_us"),
                valid=bool(item.get("valid", True)),
            )
        )
    return tuple(vectors)


def load_profile(path: Path) -> Profile:
    """Read and validate one profile TOML file; problems raise :class:`CrampwatchError`."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise CrampwatchError(f"cannot read sensor profile {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CrampwatchError(f"{path}: invalid TOML ({exc})") from exc
    where = str(path)
    streams = []
    for i, item in enumerate(_need(doc, "streams", list, where)):
        here = f"{where} streams[{i}]"
        streams.append(
            StreamSpec(
                name=_need(item, "name", str, here),
                characteristics=tuple(
                    u.lower() for u in _need(item, "characteristics", list, here)
                ),
                packet_s=float(_need(item, "packet_s", (int, float), here)),
                seq_modulo=item.get("seq_modulo"),
            )
        )
    rates = {k: float(v) for k, v in _need(doc, "rates_hz", dict, where).items()}
    unknown = sorted(set(rates) - set(ROLES))
    if unknown:
        raise CrampwatchError(f"{where}: [rates_hz] has unknown roles {unknown}; known {ROLES}")
    scale = _need(doc, "scale", dict, where)
    commands = doc.get("commands", {})
    if any(commands.get(k) for k in ("configure", "start", "stop", "alert")) and not (
        commands.get("characteristic")
    ):
        raise CrampwatchError(f"{where}: [commands] has commands but no 'characteristic'")
    battery = doc.get("battery", {})
    return Profile(
        name=_need(doc, "name", str, where),
        title=_need(doc, "title", str, where),
        decoder=_need(doc, "decoder", str, where),
        verified=doc.get("verified", ""),
        service_uuid=_need(doc, "service_uuid", str, where).lower(),
        name_prefixes=tuple(doc.get("name_prefixes", ())),
        streams=tuple(streams),
        rates_hz=rates,
        emg_uv_per_lsb=float(_need(scale, "emg_uv_per_lsb", (int, float), where + " [scale]")),
        acc_g_per_lsb=float(_need(scale, "acc_g_per_lsb", (int, float), where + " [scale]")),
        emg_scale_nominal=bool(scale.get("emg_scale_nominal", False)),
        command_uuid=(commands.get("characteristic") or "").lower() or None,
        command_with_response=bool(commands.get("with_response", True)),
        configure=_hex_list(commands.get("configure", []), where + " [commands] configure"),
        start=_hex_list(commands.get("start", []), where + " [commands] start"),
        stop=_hex_list(commands.get("stop", []), where + " [commands] stop"),
        alert=_hex_list(commands.get("alert", []), where + " [commands] alert"),
        info_uuid=(doc.get("info", {}).get("characteristic") or "").lower() or None,
        battery_service_uuid=(battery.get("service_uuid") or "").lower() or None,
        battery_uuid=(battery.get("characteristic") or "").lower() or None,
        min_mtu=int(doc.get("min_mtu", 23)),
        resets_on_connect=bool(doc.get("resets_on_connect", False)),
        sensor_clock=bool(doc.get("sensor_clock", False)),
        channels={k: int(v) for k, v in doc.get("channels", {}).items()},
        vectors=_parse_vectors(doc.get("vectors", []), where),
        path=path,
    )


@cache
def _all_profiles(folder: Path) -> dict[str, Profile]:
    profiles = {}
    for path in sorted(folder.glob("*.toml")):
        profile = load_profile(path)
        profiles[profile.name] = profile
    return profiles


def list_profiles() -> list[Profile]:
    """Every supported sensor profile, sorted by name."""
    return [p for _, p in sorted(_all_profiles(profiles_dir()).items())]


def get_profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name raises :class:`CrampwatchError`."""
    profiles = _all_profiles(profiles_dir())
    if name not in profiles:
        raise CrampwatchError(
            f"unknown sensor profile {name!r}; known profiles: {', '.join(sorted(profiles))}"
        )
    return profiles[name]
