"""CLI verbs ``crampwatch scan`` (find BLE sensors) and ``crampwatch devices`` (list the
supported sensor profiles). Parsing and printing only; the work is in ``scan`` /
``profiles``."""

from __future__ import annotations

import asyncio
import json

import click

__all__ = ["devices", "scan"]


@click.command("devices")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def devices(as_json: bool) -> None:
    """List the supported sensor profiles (firmware_interfaces/*.toml)."""
    from crampwatch.acquire.profiles import list_profiles

    profiles = list_profiles()
    if as_json:
        rows = [
            {
                "name": p.name,
                "title": p.title,
                "service_uuid": p.service_uuid,
                "rates_hz": p.rates_hz,
                "verified": p.verified,
                "file": str(p.path) if p.path else None,
            }
            for p in profiles
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for p in profiles:
        emg = max(fs for r, fs in p.rates_hz.items() if r.startswith("emg"))
        acc = max(fs for r, fs in p.rates_hz.items() if r.startswith("acc"))
        click.echo(f"{p.name:<18} EMG {emg:g} Hz, acc {acc:g} Hz  {p.title}")
        click.echo(f"{'':<18} service {p.service_uuid}")


@click.command("scan")
@click.option("--timeout", "timeout_s", default=5.0, show_default=True, help="Seconds to scan.")
@click.option("--all", "all_devices", is_flag=True, help="Also show unsupported devices.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def scan(timeout_s: float, all_devices: bool, as_json: bool) -> None:
    """Find BLE sensors nearby (by service UUID or name) and the profile each matches."""
    from crampwatch.acquire.scan import scan as run_scan

    results = asyncio.run(run_scan(timeout_s, all_devices=all_devices))
    if as_json:
        click.echo(
            json.dumps([r.__dict__ | {"service_uuids": list(r.service_uuids)} for r in results])
        )
        return
    if not results:
        click.echo(f"no supported sensor found in {timeout_s:g} s")
        return
    for r in results:
        click.echo(f"{r.address}  {r.rssi:>4} dBm  {r.profile or '-':<18} {r.name or ''}")
