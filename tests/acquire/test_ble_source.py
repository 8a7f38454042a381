"""Pure parts of the BLE source (no radio): clock alignment and target parsing."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.acquire.ble import BleSensorSource, ClockSync, is_address
from crampwatch.errors import CrampwatchError


def test_clock_sync_follows_the_lower_envelope_of_arrival_latency():
    rng = np.random.default_rng(0)
    sync = ClockSync(window=200)
    offset = 1000.0  # host clock = sensor clock + 1000 s
    for k in range(2000):
        t_end = 0.02 * (k + 1)
        latency = 0.007 + rng.exponential(0.01)  # radio + stack delay, never negative
        sync.update(t_end, t_end + offset + latency)
    assert sync.offset_s == pytest.approx(offset + 0.007, abs=0.002)
    assert sync.host_time_of(10.0) == pytest.approx(1010.007, abs=0.002)


def test_clock_sync_window_forgets_old_minima_so_drift_is_followed():
    sync = ClockSync(window=50)
    for k in range(100):
        sync.update(float(k), float(k) + (5.0 if k < 10 else 6.0))
    assert sync.offset_s == 6.0
    assert ClockSync().host_time_of(1.0) is None


def test_clock_sync_matches_a_brute_force_window_minimum():
    rng = np.random.default_rng(1)
    offsets = rng.normal(0, 1, 500)
    sync = ClockSync(window=37)
    for k, off in enumerate(offsets):
        sync.update(0.0, off)
        assert sync.offset_s == offsets[max(0, k - 36) : k + 1].min()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AA:BB:CC:DD:EE:FF", True),
        ("aa-bb-cc-dd-ee-ff", True),
        ("0F3C2A0D-6F2B-4E57-9B3E-5A1C2D3E4F50", True),
        ("CrampRef", False),
        ("AA:BB:CC:DD:EE", False),
    ],
)
def test_is_address(text, expected):
    assert is_address(text) is expected


def test_unknown_profile_name_is_a_user_error():
    with pytest.raises(CrampwatchError, match="unknown sensor profile"):
        BleSensorSource("nope", "AA:BB:CC:DD:EE:FF", device_id="x")


def test_source_reports_profile_rates_before_connecting():
    source = BleSensorSource("openbci-ganglion", "AA:BB:CC:DD:EE:FF", device_id="x", leg="left")
    assert source.fs_hz["emg_calf"] == 200.0 and source.fs_hz["acc_x"] == 10.0
    assert source.leg == "left" and source.stats["reconnects"] == 0


def test_no_adapter_errors_become_one_plain_line():
    from bleak.exc import BleakDBusError

    from crampwatch.acquire.ble import ADAPTER_OFF, NO_ADAPTER, adapter_problem

    # no system D-Bus socket (containers, CI): what dbus-fast raises
    assert adapter_problem(FileNotFoundError(2, "No such file or directory")) == NO_ADAPTER
    assert adapter_problem(BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", [])) == (
        NO_ADAPTER
    )
    assert adapter_problem(BleakDBusError("org.bluez.Error.NotReady", [])) == ADAPTER_OFF
    # a sensor's own trouble is not the adapter's
    assert adapter_problem(TimeoutError()) is None
    assert adapter_problem(CrampwatchError("not seen advertising within 5 s")) is None


def _notices_without_adapter(n: int, clock_step_s: float) -> list:
    """The first ``n`` notices of a source whose every connection attempt finds no
    Bluetooth, the host clock advancing ``clock_step_s`` per attempt."""
    import asyncio

    now = [0.0]

    def clock() -> float:
        now[0] += clock_step_s
        return now[0]

    source = BleSensorSource(
        "crampwatch-ref",
        "CrampRef-L",
        device_id="bedroom",
        reconnect_backoff_s=(0.0, 0.0),
        clock=clock,
    )

    async def no_dbus():
        raise FileNotFoundError(2, "No such file or directory")

    source._connect = no_dbus  # type: ignore[method-assign]

    async def collect() -> list:
        out = []
        async for item in source.stream():
            out.append(item)
            if len(out) == n:
                return out
        return out

    return asyncio.run(collect())


def test_without_an_adapter_a_person_reads_one_line_then_one_a_minute():
    notices = _notices_without_adapter(10, clock_step_s=15.0)  # an attempt every 15 s
    assert [n.kind for n in notices] == ["error"] * 10
    told = [n for n in notices if not n.detail["quiet"]]
    assert [n.detail["attempt"] for n in told] == [1, 5, 9]  # at once, then every 60 s
    assert "no Bluetooth adapter available" in told[0].detail["message"]
    assert "Errno" not in told[0].detail["message"]
    assert told[1].detail["message"].startswith("still no Bluetooth adapter")
