"""``crampwatch run --replay`` as a user runs it: a real process, a real mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from crampwatch.consumers.logger import EventLogger
from crampwatch.simulate import ScheduledEvent, simulate_night, write_night

pytestmark = pytest.mark.integration


def _crampwatch(*args: str, env: dict[str, str], timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "crampwatch", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def night_edf(tmp_path):
    schedule = [
        ScheduledEvent("plm_series", 20.0, count=4, interval_s=20.0),
        ScheduledEvent("cramp", 140.0, duration_s=40.0, peak_uv=250.0),
    ]
    night = simulate_night(240 / 3600, 4, emg_fs_hz=500, acc_fs_hz=50, schedule=schedule)
    edf, _ = write_night(night, tmp_path / "night.edf")
    return edf


def test_replay_run_publishes_what_detect_finds_and_exits_zero(mosquitto, tmp_path, night_edf):
    env = {**os.environ, "CRAMPWATCH_DATA": str(tmp_path / "data")}
    logger = EventLogger(mosquitto.config, tmp_path / "events.sqlite", publish_stats=False)
    logger.start()
    assert logger.wait_subscribed(30)
    url = f"mqtt://{mosquitto.config.host}:{mosquitto.config.port}"
    run = _crampwatch(
        "run",
        "--replay",
        str(night_edf),
        "--speed",
        "0",
        "--broker",
        url,
        "--device-id",
        "bed",
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "cramp" in run.stdout
    detect = _crampwatch("detect", str(night_edf), "--device-id", "bed", env=env)
    assert detect.returncode == 0, detect.stderr
    offline = {json.loads(line)["id"] for line in detect.stdout.splitlines() if line.strip()}
    assert offline
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and logger.counters.stored < len(offline):
        time.sleep(0.1)
    stored = {se.event.id for se in logger.store.events()}
    logger.stop()
    # same pipeline, same recording start: the same events with the same ids
    assert stored == offline
    # the replay was recorded again as EDF+ (with its events as annotations)
    assert list((tmp_path / "data" / "recordings").glob("*.edf"))
