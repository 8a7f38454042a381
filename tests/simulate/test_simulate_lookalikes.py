"""Cramp look-alikes: resolving calf tone rises and electrode contact failing."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from crampwatch.simulate import ScheduledEvent as S
from crampwatch.simulate import simulate_night
from crampwatch.simulate.events import random_schedule
from crampwatch.simulate.params import draw_params

FS = 1000.0


def band_rms(x: np.ndarray, a_s: float, b_s: float) -> float:
    """RMS of the 20–450 Hz band between a_s and b_s (s)."""
    sos = sps.butter(4, [20, 450], btype="bandpass", fs=FS, output="sos")
    y = sps.sosfiltfilt(sos, x[int(a_s * FS) : int(b_s * FS)])
    return float(np.sqrt(np.mean(y * y)))


def hum_uv(x: np.ndarray, a_s: float, b_s: float, f_hz: float = 50.0) -> float:
    """Amplitude (µV) of the mains line between a_s and b_s (s), by projection."""
    seg = x[int(a_s * FS) : int(b_s * FS)]
    t = np.arange(seg.size) / FS
    c = np.abs(np.mean(seg * np.exp(-2j * np.pi * f_hz * t)))
    return float(2 * c)


def test_a_tone_rise_climbs_a_few_times_rest_and_resolves_without_a_cramp():
    night = simulate_night(
        0.05,
        3,
        emg_fs_hz=FS,
        schedule=[S("tone_rise", 40.0, duration_s=100.0, peak_uv=4.0)],
    )
    (tr,) = night.of_type("tone_rise")
    assert not night.of_type("cramp")
    d = tr.details
    assert tr.onset_s == 40.0
    assert abs(tr.end_s - 40.0 - (d["rise_s"] + d["hold_s"] + d["fade_s"])) < 0.05
    assert tr.end_s <= 140.0 + 0.05
    calf = night.recording.signals["emg_calf"]
    rest = band_rms(calf, 5.0, 35.0)
    top = 40.0 + d["rise_s"]
    held = band_rms(calf, top, top + max(d["hold_s"], 1.0))
    after = band_rms(calf, 150.0, 175.0)
    # a few times rest at its height (twitches and fluctuation on top), back after
    assert 1.5 * rest < held < 10 * rest
    assert after < 1.5 * rest


def test_a_tone_rise_in_a_short_slot_still_creeps_up_over_at_least_5_s():
    # the parts are drawn within the slot, never squeezed into a cramp-like jump
    for seed in range(8):
        night = simulate_night(
            0.02, seed, emg_fs_hz=FS, schedule=[S("tone_rise", 10.0, duration_s=20.0)]
        )
        (tr,) = night.of_type("tone_rise")
        d = tr.details
        assert d["rise_s"] >= 5.0 and d["fade_s"] >= 5.0 and 2.0 <= d["hold_s"] <= 60.0
        assert tr.end_s <= 30.0 + 0.05


def test_tone_rises_are_more_frequent_than_cramps_and_have_truth():
    rng = np.random.default_rng(4)
    params = draw_params(rng, "train")
    sched = random_schedule(rng, 8 * 3600.0, params)
    n_tone = sum(e.type == "tone_rise" for e in sched)
    assert n_tone >= 1
    assert params["tone_rises_per_night"] > params["cramps_per_night"]


def test_failing_electrode_hum_grows_from_nothing_and_recovers():
    night = simulate_night(
        0.05,
        8,
        emg_fs_hz=FS,
        mains_hz=50,
        schedule=[S("electrode_failing", 60.0, duration_s=90.0, muscle="emg_calf", peak_uv=300.0)],
    )
    (issue,) = night.of_type("signal_issue")
    assert issue.kind == "electrode_failing"
    d = issue.details
    calf = night.recording.signals["emg_calf"]
    before = hum_uv(calf, 30.0, 58.0)
    start = hum_uv(calf, 60.0, 60.5)
    middle = hum_uv(calf, 60.0 + d["build_s"] + 2, 150.0 - d["fade_s"] - 2)
    after = hum_uv(calf, 155.0, 175.0)
    assert start < 0.3 * middle  # grows over seconds, not a switch
    assert middle > 100.0 and before < 10.0 and after < 10.0


def test_quiet_standing_leaves_the_tibialis_anywhere_from_silent_to_co_active():
    # a cramp the sleeper stands up on; the stand lasts ≥ 30 s, the cramp 10 s: the
    # tibialis in the stand's middle is the standing's own (crosstalk gone)
    ratios = []
    for seed in range(10):
        night = simulate_night(
            0.03,
            seed,
            emg_fs_hz=FS,
            schedule=[S("cramp", 20.0, duration_s=10.0, peak_uv=200.0, reaction="stand_up")],
        )
        (up,) = [e for e in night.truth if e.kind == "stand_up"]
        tib = night.recording.signals["emg_tibialis"]
        standing = band_rms(tib, up.end_s + 15.0, up.end_s + 28.0)
        ratios.append(standing / band_rms(tib, 2.0, 15.0))
    # calf-dominant standing (a nearly silent tibialis) and co-contraction both occur
    assert min(ratios) < 1.5
    assert max(ratios) > 3.0
