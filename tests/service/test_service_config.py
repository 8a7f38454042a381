import subprocess
import sys
from pathlib import Path

import pytest

from crampwatch.errors import CrampwatchError
from crampwatch.service.command import apply_overrides
from crampwatch.service.config import ServiceConfig, load_config

CONFIGS = Path(__file__).parents[2] / "configs"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "night.toml"
    p.write_text(text)
    return p


def test_no_config_has_the_embedded_broker_but_no_source():
    cfg = load_config(None)
    assert cfg.source_kind == "none" and cfg.broker.url == "embedded"


def test_run_without_a_source_is_a_one_line_error():
    proc = subprocess.run(
        [sys.executable, "-m", "crampwatch", "run"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "no sensor configured" in proc.stderr


def test_two_legs_config(tmp_path):
    cfg = load_config(
        _write(
            tmp_path,
            """
[service]
device_id = "bedroom"
[broker]
url = "mqtts://broker.lan:8883"
username = "cw"
[[sensor]]
profile = "crampwatch-ref"
address = "AA:BB:CC:DD:EE:01"
leg = "left"
[[sensor]]
profile = "crampwatch-ref"
name = "crampwatch-R"
leg = "right"
""",
        )
    )
    assert cfg.source_kind == "ble" and cfg.device_id == "bedroom"
    assert [s.leg for s in cfg.sensors] == ["left", "right"]
    assert cfg.broker.username == "cw"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[service]\ndevice = 'x'\n", "[service] unknown key 'device'"),
        ("[brokr]\nurl = 'x'\n", "unknown section [brokr]"),
        ("[broker]\nurl = 'http://x'\n", "[broker] url"),
        ("[service]\nno_data_timeout_s = 'long'\n", "no_data_timeout_s: expected"),
        ("[[sensor]]\nprofile = 'crampwatch-ref'\n", "give 'address' or 'name'"),
        ("[[sensor]]\naddress = 'AA'\n", "missing required key 'profile'"),
        ("[[sensor]]\nprofile = 'fitbit'\nname = 'x'\n", "unknown sensor profile 'fitbit'"),
        ("[replay]\npath = 'a.edf'\nspeed = -1\n", "[replay] speed"),
        ("[replay]\npath = 'a.edf'\nchannels = { emg_foot = 'X' }\n", "not a channel role"),
        ("[simulator]\nleg = 'middle'\n", "leg must be 'left' or 'right'"),
        ("[recording]\nenabled = 'yes'\n", "enabled: expected bool"),
        ("[service\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(CrampwatchError) as info:
        load_config(path)
    message = str(info.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_missing_config_file(tmp_path):
    with pytest.raises(CrampwatchError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_command_line_overrides_win():
    cfg = apply_overrides(
        ServiceConfig(),
        broker="mqtt://localhost:1884",
        device_id="bed2",
        replay=Path("n.edf"),
        speed=0,
        channels=("emg_calf=Gastroc L",),
    )
    assert cfg.broker.url == "mqtt://localhost:1884" and cfg.device_id == "bed2"
    assert cfg.source_kind == "replay" and cfg.replay.speed == 0
    assert cfg.replay.channels == {"emg_calf": "Gastroc L"}


def test_speed_without_replay_is_an_error():
    with pytest.raises(CrampwatchError, match="--replay"):
        apply_overrides(ServiceConfig(), speed=2.0)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_example_configs_are_valid(path):
    cfg = load_config(path)
    assert cfg.source_path == str(path)


@pytest.mark.parametrize("device_id", ["bed.room ä", "a/b", "x+", "", "d" * 65])
def test_a_device_id_mqtt_or_home_assistant_would_reject_names_file_and_key(
    tmp_path, device_id
) -> None:
    path = _write(tmp_path, f'[service]\ndevice_id = "{device_id}"\n')
    with pytest.raises(CrampwatchError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: [service] device_id: ")
    assert "letters" in str(exc.value)


def test_a_sensor_device_id_is_checked_too(tmp_path) -> None:
    path = _write(
        tmp_path, '[[sensor]]\nprofile = "crampwatch-ref"\nname = "x"\ndevice_id = "left leg"\n'
    )
    with pytest.raises(CrampwatchError, match=r"\[\[sensor\]\] #1 device_id: 'left leg'"):
        load_config(path)


def test_good_device_ids_pass() -> None:
    for device_id in ("bedroom", "Bed_Room-2", "d" * 64):
        assert apply_overrides(ServiceConfig(), device_id=device_id).device_id == device_id


def test_a_bad_device_id_option_is_one_line(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crampwatch", "run", "--replay", "x.edf", "--device-id", "bed.room"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "crampwatch: error: --device-id: 'bed.room' is not a valid device id: 1 to 64 letters "
        "A-Z, digits, '-' or '_' (used in MQTT topics and Home Assistant)"
    ]
