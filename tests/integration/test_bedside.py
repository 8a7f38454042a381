"""One bedside computer with default options, as the README's night goes: the alarm is
started first (it waits for the service), then ``crampwatch run`` replays a night with a
cramp; the alarm rings with the stretch prompts and ``crampwatch review --last`` shows
the cramp with no logger started. Console scripts, no options, a fresh ``HOME``."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crampwatch.consumers.prompts import STRETCH_PROMPTS, WAKE_HEADLINE
from crampwatch.publish.broker import LOOPBACK
from crampwatch.publish.config import DEFAULT_PORT
from support.user import Background, console_script, night_with_a_cramp, run_command, user_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CW = console_script()
# Replay pace: the README's `--speed 0` runs this half-hour night in about two seconds, and
# its cramp is detected within the first half second, sooner than a waiting consumer may
# have noticed the service (it looks four times a second). At 200x the cramp comes about
# 1.5 s into the run, as a real cramp comes long after the service started.
SPEED = "200"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    folder = tmp_path_factory.mktemp("night")
    return night_with_a_cramp(CW, folder, user_env(folder / "home"))


@contextlib.contextmanager
def port_taken(port: int) -> Iterator[None]:
    """Something else listens on ``port`` and never speaks MQTT (unless something
    already does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with contextlib.suppress(OSError):
            s.bind((LOOPBACK, port))
            s.listen()
        yield


@pytest.mark.parametrize("mqtt_port", ["free", "taken"])
def test_alarm_started_first_rings_and_the_review_shows_the_cramp(
    tmp_path: Path, wait_for, night: tuple[Path, float], mqtt_port: str
) -> None:
    env = user_env(tmp_path / "home")
    recording, onset_s = night
    taken = port_taken(DEFAULT_PORT) if mqtt_port == "taken" else contextlib.nullcontext()
    with taken:
        alarm = Background([CW, "alarm"], env=env, cwd=tmp_path)
        try:
            # bedtime order: no service yet, so the alarm waits instead of exiting (on a
            # shared machine another program may hold 1883 and answer: then it connects)
            if mqtt_port == "free":
                assert wait_for(
                    lambda: (
                        "waiting for the crampwatch service" in alarm.out
                        or "connected to" in alarm.out
                    ),
                    30,
                ), alarm.out + alarm.err
            assert alarm.running(), alarm.err

            run = run_command(
                [CW, "run", "--replay", str(recording), "--speed", SPEED], env=env, cwd=tmp_path
            )
            assert run.returncode == 0, run.stderr
            assert "1 cramp" in run.stdout
            # the mode in one line: this night's channels allow the cramp alarm
            assert "cramp alarm and leg movements: calf and tibialis EMG" in run.stdout
            # words for people: no developer logging, no library internals
            for noise in ("INFO", "DEBUG", "amqtt", "transitions", "Traceback"):
                assert noise not in run.stderr, run.stderr

            assert wait_for(lambda: STRETCH_PROMPTS[0].title in alarm.out, 30), (
                alarm.out + alarm.err
            )
            assert WAKE_HEADLINE in alarm.out
        finally:
            alarm.stop()
    assert "Traceback" not in alarm.err, alarm.err

    review = subprocess.run(
        [CW, "review", "--last"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert review.returncode == 0, review.stderr
    assert "Cramps" in review.stdout

    exported = tmp_path / "night.json"
    subprocess.run(
        [CW, "review", "--last", "--json", str(exported)], check=True, env=env, cwd=tmp_path
    )
    data = json.loads(exported.read_text())
    events = data["events"] if isinstance(data, dict) else data
    cramps = [e for e in events if e["type"] == "cramp"]
    assert len(cramps) == 1
    assert abs(cramps[0]["onset_s"] - onset_s) < 30.0
    # the service kept its night in the person's own data folder, without a logger
    assert (tmp_path / "home/.local/share/crampwatch/events.sqlite").is_file()
    assert not (tmp_path / "home/.local/share/crampwatch/broker.json").exists()  # removed


def test_the_alarm_follows_the_service_to_its_configured_broker(
    tmp_path: Path, wait_for, night: tuple[Path, float], mosquitto
) -> None:
    """A service publishing to a real broker (here a mosquitto on another port) names it
    in the endpoint file: the alarm with no options finds it there."""
    env = user_env(tmp_path / "home")
    alarm = Background([CW, "alarm"], env=env, cwd=tmp_path)
    try:
        run = run_command(
            [CW, "run", "--replay", str(night[0]), "--speed", SPEED, "--broker", mosquitto.url],
            env=env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        assert wait_for(lambda: STRETCH_PROMPTS[0].title in alarm.out, 30), alarm.out + alarm.err
        assert f"connected to the crampwatch service on {LOOPBACK}:{mosquitto.port}" in alarm.out
    finally:
        alarm.stop()


REPO = Path(__file__).parents[2]
UNIT = REPO / "deploy" / "crampwatch@.service"


def unit_lines(key: str) -> list[str]:
    """The values of ``key=`` lines in the shipped systemd unit."""
    lines = UNIT.read_text().splitlines()
    return [line.partition("=")[2] for line in lines if line.startswith(f"{key}=")]


def test_the_service_runs_as_the_systemd_unit_starts_it(
    tmp_path: Path, night: tuple[Path, float]
) -> None:
    """The unit's command and environment (no docstrings under ``PYTHONOPTIMIZE=2``, a
    compiled-module cache folder of its own), with the config the README installs,
    keep a night with its cramp in the user's data folder."""
    argv = unit_lines("ExecStart")[0].split()
    assert argv[0].endswith("/.venv/bin/crampwatch") and argv[1:3] == ["run", "--config"]
    # the README copies this config to the path the unit reads
    installed = "configs/one-leg-reference.toml /etc/crampwatch/crampwatch.toml"
    readme = (REPO / "README.md").read_text()
    assert installed in readme and argv[3] == installed.split()[1]
    env = user_env(tmp_path / "home")
    for setting in unit_lines("Environment"):
        key, _, value = setting.partition("=")
        env[key] = str(tmp_path / "pycache") if key == "PYTHONPYCACHEPREFIX" else value
    assert env["PYTHONOPTIMIZE"] == "2"
    config = REPO / installed.split()[0]
    # the sensor of that config is replaced by the recording; everything else is the unit's
    run = run_command(
        [CW, *argv[1:3], str(config), *argv[4:], "--replay", str(night[0]), "--speed", "0"],
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "1 cramp," in run.stdout and "Traceback" not in run.stderr
    assert (tmp_path / "home/.local/share/crampwatch/events.sqlite").is_file()
    assert any((tmp_path / "pycache").rglob("*.opt-2.pyc"))  # it really ran under -OO
