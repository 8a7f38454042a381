"""What runs on which channels: the mode line of ``detect``."""

from __future__ import annotations

import pytest

from crampwatch.detect.legs import detection_mode, leg_channels

ACC = ["acc_x", "acc_y", "acc_z"]


def test_calf_and_accelerometer_run_the_cramp_alarm():
    mode = detection_mode(["emg_calf", "emg_tibialis", *ACC])
    assert mode.cramp_alarm and mode.leg_channels == {None: "emg_tibialis"}


@pytest.mark.parametrize(
    ("keys", "start", "legs"),
    [
        (["emg_tibialis.left", "emg_tibialis.right"], "leg movements only: no accelerometer",
         {"left": "emg_tibialis.left", "right": "emg_tibialis.right"}),
        (["emg_calf"], "leg movements only: no accelerometer", {None: "emg_calf"}),
        (["emg_tibialis", *ACC], "leg movements only: no calf EMG", {None: "emg_tibialis"}),
        (["emg_calf.left", "emg_calf.right", "emg_tibialis.left", *ACC], "leg movements only",
         {"left": "emg_tibialis.left", "right": "emg_calf.right"}),
    ],
)  # fmt: skip
def test_leg_movements_only(keys, start, legs):
    mode = detection_mode(keys)
    assert not mode.cramp_alarm
    assert mode.line.startswith(start) and "\n" not in mode.line
    assert "no cramp alarm" in mode.line
    assert leg_channels(keys) == legs


def test_calf_without_accelerometer_says_why_there_is_no_alarm():
    line = detection_mode(["emg_calf"]).line
    assert "no cramp alarm: without a shin accelerometer, stretches" in line
