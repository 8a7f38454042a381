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


@pytest.mark.parametrize(
    ("left", "right", "role"),
    [
        ("Leg L", "Leg R", "emg_tibialis"),
        ("LAT", "RAT", "emg_tibialis"),
        ("LAT1-LAT2", "RAT1-RAT2", "emg_tibialis"),
        ("Tib L", "Tib R", "emg_tibialis"),
        ("EMG Tib L", "EMG Tib R", "emg_tibialis"),
        ("LLEG", "RLEG", "emg_tibialis"),
        ("TA-L", "TA-R", "emg_tibialis"),
        ("Gastroc L", "Gastroc R", "emg_calf"),
        ("GAS-L", "GAS-R", "emg_calf"),
    ],
)
def test_two_sided_channels_are_two_legs(left: str, right: str, role: str):
    labels = ["EEG Fpz-Cz", "EOG", "EMG chin", "ECG", right, left]
    assert match_roles(labels) == {f"{role}.left": 5, f"{role}.right": 4}


@pytest.mark.parametrize(
    ("label", "role"),
    [
        ("EMG LG", "emg_calf"),
        ("MG", "emg_calf"),
        ("SO", "emg_calf"),
        ("GAS-R", "emg_calf"),
        ("TA-L", "emg_tibialis"),
        ("LLEG", "emg_tibialis"),
        ("EMG Tib L", "emg_tibialis"),
    ],
)
def test_one_leg_emg_alone_is_enough(label: str, role: str):
    assert match_roles(["EEG C3", label]) == {role: 1}


def test_ambiguous_match_is_one_line_naming_the_candidates():
    with pytest.raises(CrampwatchError) as err:
        match_roles(["LG", "MG", "Leg L", "Leg R"])
    msg = str(err.value)
    assert "'LG'" in msg and "'MG'" in msg and "emg_calf" in msg and "\n" not in msg


def test_incomplete_accelerometer_is_an_error():
    with pytest.raises(CrampwatchError, match="acc_z"):
        match_roles(["Calf", "Acc X", "Acc Y"])


def test_per_leg_channel_options():
    mapping = parse_channel_options(["emg_tibialis.left=Leg 1", "emg_tibialis.right=Leg 2"])
    assert match_roles(["Leg 1", "Leg 2"], mapping) == {
        "emg_tibialis.left": 0,
        "emg_tibialis.right": 1,
    }
    with pytest.raises(CrampwatchError, match="unknown leg"):
        parse_channel_options(["emg_tibialis.middle=Leg 1"])
