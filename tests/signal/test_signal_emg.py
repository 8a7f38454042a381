"""EMG features: envelope, resting level, quality flags, frequency features."""

from __future__ import annotations

import numpy as np
import pytest
from signal_synth import emg_noise, night

from crampwatch.signal import extract_features
from crampwatch.signal.emg import RestTracker, quality_score, spectral_split_hz


def test_envelope_of_known_rms_noise():
    sig, fs = night(10.0, rest_uv=7.0, tib=False)
    fr = extract_features(sig, fs, mains_hz=50)
    for name in ("calf_env_uv", "calf_env1s_uv", "calf_env3s_uv"):
        # the 30-300 Hz test noise keeps ~all its power in the 20-450 Hz band; the
        # narrow notches remove a few percent
        assert np.median(fr.column(name)[30:]) == pytest.approx(7.0, rel=0.08), name
    env1 = fr.column("calf_env1s_uv")[30:]
    env = fr.column("calf_env_uv")[30:]
    assert env1.std() < env.std()  # longer windows are smoother


def test_rest_tracks_rest_and_ignores_two_minute_contraction():
    fs = 500.0
    rng = np.random.default_rng(4)
    seconds = 400
    emg = emg_noise(rng, round(seconds * fs), fs, 4.0)
    c0, c1 = round(150 * fs), round(270 * fs)  # 2-minute sustained contraction, 15x rest
    emg[c0:c1] *= 15.0
    sig, fsd = night(seconds, emg_fs=fs, acc_fs=10.0, tib=False)
    sig["emg_calf"] = emg
    fr = extract_features(sig, fsd, mains_hz=50)
    rest = fr.column("calf_rest_uv")
    t = fr.t_s
    before = np.median(rest[(t > 120) & (t < 150)])
    assert before == pytest.approx(4.0, rel=0.25)
    assert rest[(t > 150) & (t < 270)].max() < 1.4 * before
    rel = fr.column("calf_rel")
    assert np.median(rel[(t > 260) & (t < 270)]) > 10.0  # still seen as a contraction
    after = np.median(rest[(t > 350)])
    assert after == pytest.approx(before, rel=0.25)
    above = fr.column("calf_above_rest_uv")
    assert np.median(above[(t > 200) & (t < 260)]) > 40.0


def test_rest_tracker_follows_lower_level_and_freezes():
    tr = RestTracker(period_hops=10)
    high = tr.process(np.full(600, 10.0), np.ones(600, bool))
    assert np.isnan(high[:10]).all()
    assert high[-1] == pytest.approx(10.0)
    low = tr.process(np.full(600, 5.0), np.ones(600, bool))
    assert low[-1] == pytest.approx(5.0, rel=0.05)  # falls within a minute
    frozen = tr.process(np.full(600, 0.5), np.zeros(600, bool))
    assert frozen[-1] == pytest.approx(low[-1])


def _quality_night(modify) -> tuple[np.ndarray, dict]:
    sig, fs = night(12.0, tib=False, rest_uv=5.0, seed=7)
    modify(sig["emg_calf"], fs["emg_calf"])
    fr = extract_features(sig, fs, mains_hz=None)
    return fr.t_s, {
        n: fr.column(f"calf_{n}")
        for n in ("quality", "sat_frac", "flat_frac", "pop", "mains_ratio")
    }


def test_clean_signal_has_good_quality():
    _t, q = _quality_night(lambda x, fs: None)
    assert q["quality"][30:].min() > 0.9
    assert q["pop"].sum() == 0 and q["sat_frac"].max() == 0 and q["flat_frac"].max() == 0


def test_flat_line_flagged():
    def flat(x, fs):
        x[round(6 * fs) : round(9 * fs)] = 12.0

    t, q = _quality_night(flat)
    seg = (t > 6.2) & (t <= 9.0)
    assert (q["flat_frac"][seg] > 0.95).all()
    assert (q["quality"][seg] < 0.1).all()
    assert q["quality"][t < 5.9][30:].min() > 0.9


def test_saturation_flagged():
    def clip(x, fs):
        s = slice(round(6 * fs), round(9 * fs))
        x[s] = np.clip(x[s] * 100.0, -400.0, 400.0)  # big burst clipped at the rails

    t, q = _quality_night(clip)
    seg = (t > 6.2) & (t <= 9.0)
    assert (q["sat_frac"][seg] > 0.2).all()
    assert np.median(q["quality"][seg]) < 0.8
    assert q["flat_frac"][seg].max() < 0.05  # stuck at a rail is saturation, not flat


def test_pops_flagged():
    def pops(x, fs):
        for ts in (5.05, 8.05):  # electrode pop: a baseline step decaying over 0.3 s
            i = round(ts * fs)
            x[i:] += 800.0 * np.exp(-np.arange(x.size - i) / (0.3 * fs))

    t, q = _quality_night(pops)
    for ts in (5.1, 8.1):
        k = np.argmin(np.abs(t - ts))
        assert q["pop"][k] == 1, ts
        assert q["quality"][k] < 0.3
    assert q["pop"][30:45].sum() == 0


def test_strong_mains_flagged():
    def hum(x, fs):
        x += 30.0 * np.sin(2 * np.pi * 60.0 * np.arange(x.size) / fs)

    _t, q = _quality_night(hum)
    assert np.median(q["mains_ratio"][30:]) > 0.8
    assert q["quality"][30:].max() < 0.2
    _t2, q2 = _quality_night(lambda x, fs: None)
    assert np.median(q2["mains_ratio"][30:]) < 0.3


@pytest.mark.parametrize("emg_fs", [200.0, 1000.0])
def test_mains_ratio_measures_hum(emg_fs):
    """Hum of RMS h on EMG of RMS e: ratio ~ h / sqrt(h^2 + e^2); ~0 without hum, also
    when the grid is 0.1 Hz off nominal."""
    sig, fs = night(30.0, emg_fs=emg_fs, acc_fs=10.0, tib=False, rest_uv=5.0, seed=11)
    clean = extract_features(sig, fs, mains_hz=50).column("calf_mains_ratio")[30:]
    assert np.median(clean) < 0.1 and np.percentile(clean, 95) < 0.25
    t = np.arange(sig["emg_calf"].size) / emg_fs
    sig["emg_calf"] = sig["emg_calf"] + 5.0 * np.sin(2 * np.pi * 50.1 * t + 1.0)  # RMS 3.54
    ratio = extract_features(sig, fs, mains_hz=50).column("calf_mains_ratio")[30:]
    expected = np.sqrt(12.5 / (12.5 + 25.0))
    assert np.median(ratio) == pytest.approx(expected, abs=0.06)


def test_quality_score_range():
    z = np.zeros(3)
    q = quality_score(z, z, z, np.array([0.0, 0.55, 1.0]), z)
    np.testing.assert_allclose(q, [1.0, 0.5, 0.0])
    assert quality_score(z + 0.5, z, z, z, z)[0] == pytest.approx(0.5)
    assert quality_score(z, z, z, z, z + 1)[0] == 0.0


@pytest.mark.parametrize("emg_fs", [250.0, 1000.0])
def test_frequency_features_increase_for_higher_frequency_noise(emg_fs):
    from scipy import signal as sps

    rng = np.random.default_rng(5)
    n = round(8 * emg_fs)
    hi = min(0.4 * emg_fs, 300.0)
    lo_sos = sps.butter(4, [25.0, 50.0], "bandpass", fs=emg_fs, output="sos")
    hi_sos = sps.butter(4, [0.7 * hi, hi], "bandpass", fs=emg_fs, output="sos")
    feats = {}
    for name, sos in (("low", lo_sos), ("high", hi_sos)):
        sig, fs = night(8.0, emg_fs=emg_fs, acc_fs=10.0, tib=False)
        sig["emg_calf"] = 10.0 * sps.sosfiltfilt(sos, rng.standard_normal(n))
        fr = extract_features(sig, fs, mains_hz=0)
        feats[name] = {
            c: np.median(fr.column(f"calf_{c}")[30:])
            for c in ("zc_hz", "ssc_hz", "mnf_hz", "mdf_hz", "hf_frac")
        }
    for c in ("zc_hz", "ssc_hz", "mnf_hz", "mdf_hz", "hf_frac"):
        assert feats["high"][c] > feats["low"][c], c
    assert 25.0 <= feats["low"]["mnf_hz"] <= 60.0
    assert 25.0 <= feats["low"]["mdf_hz"] <= 60.0
    # zero crossings of a narrow band around f happen ~2f times per second
    assert feats["low"]["zc_hz"] == pytest.approx(2 * 37.5, rel=0.3)


def test_spectral_split_adapts():
    assert spectral_split_hz(1000.0) == 100.0
    assert spectral_split_hz(200.0) == pytest.approx(55.0)


def test_unit_free_features_do_not_depend_on_gain():
    """Devices without µV units: relative features are the same for any scale."""
    sig, fs = night(8.0, tib=True)
    a = extract_features(sig, fs, mains_hz=50)
    scaled = {r: (x * 37.0 if r.startswith("emg") else x) for r, x in sig.items()}
    b = extract_features(scaled, fs, mains_hz=50)
    for name in (
        "calf_rel",
        "calf_wl",
        "calf_zc_hz",
        "calf_mnf_hz",
        "calf_tib_ratio",
        "calf_quality",
    ):
        np.testing.assert_allclose(a.column(name), b.column(name), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(b.column("calf_env_uv"), 37.0 * a.column("calf_env_uv"), rtol=1e-5)


def test_without_shape_features_the_other_columns_are_the_same():
    from crampwatch.signal.emg import EmgChannel
    from crampwatch.signal.frames import EMG_FEATURES

    rng = np.random.default_rng(3)
    x = emg_noise(rng, 60 * 500, 500.0, 3.0)
    x[20_000:21_000] *= 20  # a burst
    rows = {}
    for shape in (True, False):
        ch = EmgChannel(500.0, 0.1, 50.0, shape_features=shape)
        ch.append(x, 0.0)
        rows[shape], _gap = ch.pop_features()
    shape_cols = {"wl", "zc_hz", "ssc_hz", "mnf_hz", "mdf_hz", "hf_frac"}
    for i, name in enumerate(EMG_FEATURES):
        if name in shape_cols:
            assert np.isnan(rows[False][:, i]).all() and np.isfinite(rows[True][20:, i]).all()
        else:
            np.testing.assert_array_equal(rows[False][:, i], rows[True][:, i], err_msg=name)
