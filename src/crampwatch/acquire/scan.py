"""Find supported BLE sensors nearby: scan with Bleak and match advertisements to profiles
by service UUID or advertised name prefix."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.scanner import BaseBleakScanner

from crampwatch.acquire.ble import adapter_problem
from crampwatch.acquire.profiles import Profile, list_profiles
from crampwatch.errors import CrampwatchError

__all__ = ["ScanResult", "match_profile", "scan"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    """One advertising device; ``profile`` is ``None`` when no profile matched."""

    address: str
    name: str | None
    rssi: int
    profile: str | None
    service_uuids: tuple[str, ...] = ()


def match_profile(
    name: str | None, service_uuids: list[str] | tuple[str, ...], profiles: list[Profile]
) -> Profile | None:
    """The profile whose service UUID is advertised, else whose name prefix matches."""
    uuids = {u.lower() for u in service_uuids}
    for profile in profiles:
        if profile.service_uuid in uuids:
            return profile
    for profile in profiles:
        if name and any(name.startswith(prefix) for prefix in profile.name_prefixes):
            return profile
    return None


async def scan(
    timeout_s: float = 5.0,
    *,
    backend: type[BaseBleakScanner] | None = None,
    all_devices: bool = False,
) -> list[ScanResult]:
    """Scan for ``timeout_s`` seconds; supported sensors only unless ``all_devices``.

    A machine without a usable Bluetooth adapter raises :class:`CrampwatchError`.
    """
    profiles = list_profiles()
    try:
        if backend is None:  # bleak's typing has no "default backend" value
            found = await BleakScanner.discover(timeout_s, return_adv=True)
        else:
            found = await BleakScanner.discover(timeout_s, return_adv=True, backend=backend)
    except Exception as exc:  # BlueZ/D-Bus/OS errors vary by platform: one clear line
        if problem := adapter_problem(exc):
            raise CrampwatchError(problem) from exc
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CrampwatchError(f"Bluetooth scan failed: {detail}") from exc
    results = []
    for device, adv in found.values():
        profile = match_profile(adv.local_name or device.name, adv.service_uuids, profiles)
        if profile is None and not all_devices:
            continue
        results.append(
            ScanResult(
                address=device.address,
                name=adv.local_name or device.name,
                rssi=adv.rssi,
                profile=profile.name if profile else None,
                service_uuids=tuple(adv.service_uuids),
            )
        )
    results.sort(key=lambda r: (r.profile is None, -r.rssi, r.address))
    logger.info("scan found %d device(s)", len(results))
    return results
