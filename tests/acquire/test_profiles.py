"""Sensor profiles: loading, validation errors that name the file and key, and the
reference spec (.md) agreeing with its machine-readable twin (.toml)."""

from __future__ import annotations

import re

import pytest

from crampwatch.acquire.profiles import get_profile, list_profiles, load_profile, profiles_dir
from crampwatch.errors import CrampwatchError
from crampwatch.roles import REQUIRED_ROLES


def test_at_least_the_reference_and_two_commodity_profiles():
    names = {p.name for p in list_profiles()}
    assert {"crampwatch-ref", "openbci-ganglion", "thalmic-myo"} <= names


@pytest.mark.parametrize("profile", list_profiles(), ids=lambda p: p.name)
def test_profile_is_complete(profile):
    assert set(REQUIRED_ROLES) <= set(profile.rates_hz)
    assert profile.streams and all(s.packet_s > 0 for s in profile.streams)
    assert profile.start, "a profile says how to start streaming"
    assert profile.verified, "a profile says how its protocol was checked"
    uuids = profile.notify_uuids
    assert len(set(uuids)) == len(uuids)
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", u) for u in uuids)


def test_reference_sensor_meets_the_issue_minimums():
    ref = get_profile("crampwatch-ref")
    assert ref.rates_hz["emg_calf"] >= 500 and ref.sensor_clock
    assert ref.battery_uuid and ref.stream("data").seq_modulo == 65536


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(CrampwatchError) as info:
        get_profile("no-such-sensor")
    assert "no-such-sensor" in str(info.value) and "crampwatch-ref" in str(info.value)


def test_bad_profile_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntitle = "x"\ndecoder = "x"\nservice_uuid = "x"\n')
    with pytest.raises(CrampwatchError) as info:
        load_profile(bad)
    assert str(bad) in str(info.value) and "'streams'" in str(info.value)
    bad.write_text("name = [")
    with pytest.raises(CrampwatchError, match="invalid TOML"):
        load_profile(bad)


def test_unknown_role_is_rejected(tmp_path):
    text = (profiles_dir() / "crampwatch_ref.toml").read_text()
    bad = tmp_path / "ref.toml"
    bad.write_text(text.replace("emg_tibialis = 1000.0", "emg_soleus = 1000.0"))
    with pytest.raises(CrampwatchError, match="emg_soleus"):
        load_profile(bad)


def test_reference_spec_and_toml_agree():
    ref = get_profile("crampwatch-ref")
    spec = (profiles_dir() / "crampwatch_ref.md").read_text()
    for uuid in (ref.service_uuid, *ref.notify_uuids, ref.command_uuid, ref.info_uuid):
        assert uuid in spec
    assert f"{ref.emg_uv_per_lsb:g} µV per LSB" in spec
    assert f"1/{round(1 / ref.acc_g_per_lsb)} g per LSB" in spec
    assert f"**{ref.rates_hz['emg_calf']:g} Hz**" in spec
    assert f"**{ref.rates_hz['acc_x']:g} Hz**" in spec
    assert f"needs at least {ref.min_mtu}" in spec


def test_nominal_emg_scale_marks_the_source_units_unknown():
    from crampwatch.acquire.ble import BleSensorSource

    assert not BleSensorSource("thalmic-myo", "AA:BB:CC:DD:EE:FF", device_id="m").emg_units_known
    assert BleSensorSource("crampwatch-ref", "AA:BB:CC:DD:EE:01", device_id="r").emg_units_known


def test_commands_without_their_characteristic_are_rejected(tmp_path):
    text = (profiles_dir() / "crampwatch_ref.toml").read_text()
    bad = tmp_path / "ref.toml"
    bad.write_text(text.replace('characteristic = "5c3a0003-7e1d-4b9a-9f2e-a1c0ffeecafe"', ""))
    with pytest.raises(CrampwatchError, match=r"ref\.toml: \[commands\].*'characteristic'"):
        load_profile(bad)
