"""CLI verbs ``devices`` and ``scan`` (the scan of real radios is in
tests/integration/test_ble_scan.py; here: no adapter -> one clear line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from crampwatch.acquire.command import devices
from crampwatch.acquire.profiles import list_profiles


def test_devices_lists_every_profile():
    result = CliRunner().invoke(devices, [])
    assert result.exit_code == 0
    for profile in list_profiles():
        assert profile.name in result.output and profile.service_uuid in result.output


def test_devices_json_is_machine_readable():
    result = CliRunner().invoke(devices, ["--json"])
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} == {p.name for p in list_profiles()}
    assert all(r["rates_hz"]["emg_calf"] > 0 for r in rows)


def test_scan_without_a_bluetooth_adapter_is_one_line_and_non_zero():
    # Point D-Bus at nothing: BlueZ is unreachable, as on CI and in containers.
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/crampwatch-test")
    proc = subprocess.run(
        [sys.executable, "-m", "crampwatch", "scan", "--timeout", "0.5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crampwatch: error:")
    assert "no Bluetooth adapter available" in lines[0]  # words for people, not "[Errno 2]"
    assert "Errno" not in lines[0]
