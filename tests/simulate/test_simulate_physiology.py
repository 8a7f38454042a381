"""Physiology checks on scheduled nights: the rules the detector will rely on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from crampwatch.simulate import ScheduledEvent as S
from crampwatch.simulate import simulate_night, wasm_periodic

FS = 1000.0


def emg_rms(x: np.ndarray, fs: float, win_s: float = 0.25) -> np.ndarray:
    """Moving RMS of the 20–450 Hz band (what a PSG leg channel shows), per sample."""
    sos = sps.butter(4, [20, min(450, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    y = sps.sosfiltfilt(sos, x)
    w = int(win_s * fs)
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    out = np.sqrt((c[w:] - c[:-w]) / w)
    return np.concatenate([out, np.full(w - 1, out[-1])])  # window starting at each sample


def mean_frequency(x: np.ndarray, fs: float) -> float:
    f, p = sps.welch(x, fs=fs, nperseg=1024)
    band = (f >= 10) & (f <= 0.45 * fs)
    return float((f[band] * p[band]).sum() / p[band].sum())


@pytest.fixture(scope="module")
def scheduled():
    schedule = [
        S("leg_movement", 30.0, duration_s=0.6, peak_uv=12.0),
        S("leg_movement", 50.0, duration_s=3.0, peak_uv=12.0),
        S("leg_movement", 70.0, duration_s=9.0, peak_uv=40.0),
        S(
            "cramp",
            200.0,
            duration_s=60.0,
            peak_uv=150.0,
            prodrome_s=40.0,
            fasciculations=5,
            reaction="none",
        ),
        S("stretch", 300.0, duration_s=20.0, peak_uv=150.0),
        S("turn_over", 340.0, duration_s=3.0, posture="side_left"),
        S("plm_series", 400.0, count=6, interval_s=25.0),
        S("leg_movement", 630.0, duration_s=2.0),
        S("electrode_off", 650.0, duration_s=20.0, muscle="emg_calf"),
        S("flat_line", 690.0, duration_s=5.0, muscle="both"),
        S("cramp", 720.0, duration_s=60.0, peak_uv=60.0, prodrome_s=0.0, reaction="stand_up"),
    ]
    return simulate_night(0.3, 21, emg_fs_hz=FS, acc_fs_hz=100, schedule=schedule)


def rest_level(rms: np.ndarray, fs: float) -> float:
    return float(np.median(rms[int(5 * fs) : int(25 * fs)]))


def test_leg_movements_rise_8uv_above_rest_and_return_within_2uv(scheduled):
    x = scheduled.recording.signals["emg_tibialis"]
    rms = emg_rms(x, FS)
    rest = rest_level(rms, FS)
    assert rest < 10
    lms = [e for e in scheduled.truth if e.type == "leg_movement"]
    assert len(lms) == 3 + 6 + 1
    for e in lms:
        i0, i1 = int(e.onset_s * FS), int(e.end_s * FS)
        # onset: the envelope is ≥ 8 µV above rest early in the movement
        early = rms[i0 : i0 + int(0.3 * FS)]
        assert early.max() - rest >= 8.0, e
        # offset: back to ≤ 2 µV above rest for ≥ 0.5 s right after the end
        after = rms[i1 + 50 : i1 + 50 + int(0.5 * FS)]
        assert np.median(after) - rest <= 2.0, e


def test_leg_movements_are_tibialis_dominant(scheduled):
    calf = emg_rms(scheduled.recording.signals["emg_calf"], FS)
    tib = emg_rms(scheduled.recording.signals["emg_tibialis"], FS)
    for e in (e for e in scheduled.truth if e.type == "leg_movement"):
        sl = slice(int(e.onset_s * FS), int(e.end_s * FS))
        assert tib[sl].mean() > calf[sl].mean()


def test_cramp_has_higher_mean_frequency_than_stretch_of_similar_amplitude(scheduled):
    x = scheduled.recording.signals["emg_calf"]
    cramp = next(e for e in scheduled.truth if e.type == "cramp")
    stretch = next(e for e in scheduled.truth if e.type == "stretch")
    seg_c = x[int((cramp.onset_s + 10) * FS) : int((cramp.onset_s + 40) * FS)]
    seg_s = x[int((stretch.onset_s + 3) * FS) : int((stretch.end_s - 3) * FS)]
    rms_c, rms_s = np.std(seg_c), np.std(seg_s)
    assert 0.6 < rms_c / rms_s < 1.6  # similar amplitude
    mnf_c, mnf_s = mean_frequency(seg_c, FS), mean_frequency(seg_s, FS)
    assert mnf_c > 1.3 * mnf_s, (mnf_c, mnf_s)


def test_cramp_is_calf_dominant_with_little_movement_and_a_prodrome(scheduled):
    rec = scheduled.recording
    calf = emg_rms(rec.signals["emg_calf"], FS)
    tib = emg_rms(rec.signals["emg_tibialis"], FS)
    cramp = next(e for e in scheduled.truth if e.type == "cramp")
    sl = slice(int((cramp.onset_s + 5) * FS), int((cramp.onset_s + 40) * FS))
    assert calf[sl].mean() > 5 * tib[sl].mean()
    rest = rest_level(calf, FS)
    # prodrome: calf EMG already above rest 10 s before the sustained onset
    pre = calf[int((cramp.onset_s - 10) * FS) : int((cramp.onset_s - 2) * FS)]
    assert np.median(pre) > rest + 5
    assert cramp.details["prodrome_s"] == 40.0 and cramp.details["fasciculations"] == 5
    # little limb movement during the cramp compared with a voluntary stretch
    acc = np.stack([rec.signals[a] for a in ("acc_x", "acc_y", "acc_z")], axis=1)

    def motion(t0, t1):
        seg = acc[int(t0 * 100) : int(t1 * 100)]
        return float(np.linalg.norm(np.diff(seg, axis=0), axis=1).mean())

    stretch = next(e for e in scheduled.truth if e.type == "stretch")
    assert motion(cramp.onset_s, cramp.onset_s + 5) < 0.5 * motion(stretch.onset_s, stretch.end_s)


def test_turn_over_and_standing_move_the_gravity_vector(scheduled):
    rec = scheduled.recording
    acc = np.stack([rec.signals[a] for a in ("acc_x", "acc_y", "acc_z")], axis=1)
    rotation = np.asarray(scheduled.params["mounting_rotation"])
    shank = acc @ rotation  # back into the shank frame (x along the shank)

    def mean_vec(t0, t1):
        v = acc[int(t0 * 100) : int(t1 * 100)].mean(axis=0)
        return v / np.linalg.norm(v)

    turn = next(e for e in scheduled.truth if e.kind == "turn_over")
    before = mean_vec(turn.onset_s - 10, turn.onset_s)
    after = mean_vec(turn.end_s + 1, turn.end_s + 10)
    assert np.degrees(np.arccos(np.clip(before @ after, -1, 1))) > 30
    stand = next(e for e in scheduled.truth if e.kind == "stand_up")
    x_along_shank = shank[int((stand.end_s + 2) * 100) : int((stand.end_s + 20) * 100), 0]
    assert np.median(x_along_shank) > 0.8
    lying = shank[int((stand.onset_s - 20) * 100) : int((stand.onset_s - 1) * 100), 0]
    assert abs(np.median(lying)) < 0.5


def test_signal_issues(scheduled):
    x = scheduled.recording.signals["emg_calf"]
    off = next(e for e in scheduled.truth if e.kind == "electrode_off")
    seg = x[int(off.onset_s * FS) : int((off.onset_s + 5) * FS)]
    assert np.std(seg) > 50  # hum of hundreds of µV (peak)
    flat = next(e for e in scheduled.truth if e.kind == "flat_line")
    for role in ("emg_calf", "emg_tibialis"):
        y = scheduled.recording.signals[role][int(flat.onset_s * FS) : int(flat.end_s * FS)]
        assert np.ptp(y) == 0


def test_plm_series_is_periodic_and_isolated_movements_are_not(scheduled):
    lms = [e for e in scheduled.truth if e.type == "leg_movement"]
    flags = {round(e.onset_s): e.periodic for e in lms}
    series = [e for e in lms if 400 <= e.onset_s < 620]
    assert len(series) == 6 and all(e.periodic for e in series)
    assert not flags[30] and not flags[50] and not flags[70] and not flags[630]
    intervals = np.diff([e.onset_s for e in series])
    assert ((intervals >= 10) & (intervals <= 90)).all()


@pytest.mark.parametrize(
    ("onsets", "expected"),
    [
        ([0, 20, 40], [False] * 3),
        ([0, 20, 40, 60], [True] * 4),
        ([0, 20, 40, 60, 155], [True] * 4 + [False]),
        ([0, 20, 25, 45, 65, 85], [False, False, True, True, True, True]),
        ([0, 10, 20, 30, 40], [True] * 5),
        ([0, 9.9, 19.8, 29.7], [False] * 4),
        ([60, 0, 40, 20], [True] * 4),
        ([], []),
    ],
)
def test_wasm_periodic_rule(onsets, expected):
    assert wasm_periodic(onsets) == expected
