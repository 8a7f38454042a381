"""Label patterns and ``--channel ROLE=LABEL`` parsing."""

from __future__ import annotations

import pytest

from crampwatch.errors import CrampwatchError
from crampwatch.recordings import parse_channel_options
from crampwatch.recordings.channels import match_roles

ACC = ["Acc X", "Acc Y", "Acc Z"]


@pytest.mark.parametrize(
    ("label", "role"),
    [
        ("EMG Calf", "emg_calf"),
        ("calf", "emg_calf"),
        ("EMG Gastroc", "emg_calf"),
        ("Gastrocnemius L", "emg_calf"),
        ("Gastroc-R", "emg_calf"),
        ("EMG Tibialis", "emg_tibialis"),
        ("EMG Tib", "emg_tibialis"),
        ("Tibialis Anterior", "emg_tibialis"),
        ("LAT", "emg_tibialis"),
        ("RAT1-RAT2", "emg_tibialis"),
        ("Leg/L", "emg_tibialis"),
    ],
)
def test_default_emg_patterns(label: str, role: str):
    labels = [label, *ACC] if role == "emg_calf" else [label, "Calf", *ACC]
    assert match_roles(labels).get(role) == 0


@pytest.mark.parametrize(
    "triple",
    [
        ("AccX", "AccY", "AccZ"),
        ("Accel X", "Accel Y", "Accel Z"),
        ("ACC_X", "ACC_Y", "ACC_Z"),
        ("Accelerometer-X", "Accelerometer-Y", "Accelerometer-Z"),
    ],
)
def test_default_acc_patterns(triple):
    roles = match_roles(["EMG Calf", *triple])
    assert [roles[r] for r in ("acc_x", "acc_y", "acc_z")] == [1, 2, 3]


def test_unrelated_labels_do_not_match():
    with pytest.raises(CrampwatchError, match="emg_calf"):
        match_roles(["EEG C3", "ECG", "Chin EMG", *ACC])


def test_parse_channel_options():
    assert parse_channel_options(["emg_calf=Gastroc L", " acc_x = AX "]) == {
        "emg_calf": "Gastroc L",
        "acc_x": "AX",
    }
    assert parse_channel_options([]) == {}


@pytest.mark.parametrize("value", ["emg_calf", "=LAT", "emg_calf=", "knee=LAT"])
def test_parse_channel_options_errors(value: str):
    with pytest.raises(CrampwatchError, match="--channel"):
        parse_channel_options([value])
