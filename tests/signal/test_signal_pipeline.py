"""SignalPipeline: block-size invariance, frame clock, roles, rates, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signal_synth import night, run_whole

from crampwatch.blocks import SampleBlock
from crampwatch.errors import CrampwatchError
from crampwatch.signal import FEATURE_NAMES, FeatureFrames, SignalPipeline, extract_features
from crampwatch.signal.frames import EMG_FEATURES

# hole (missing samples) per role for the gap variant: (start_s, stop_s)
HOLES = {"emg_calf": (5.03, 5.71), "acc_x": (8.0, 8.44)}


def _pieces(x: np.ndarray, fs: float, hole: tuple[float, float] | None):
    """(start index, samples) runs of a signal, with an optional hole removed."""
    if hole is None:
        return [(0, x)]
    a, b = round(hole[0] * fs), round(hole[1] * fs)
    return [(0, x[:a]), (b, x[b:])]


def _blocks(signals, fs, holes, sizes, seed):
    """Blocks of the given sizes (cycled), roles interleaved at random, time-ordered."""
    rng = np.random.default_rng(seed)
    per_role = {}
    for k, (role, x) in enumerate(signals.items()):
        blocks, j = [], k
        for start, run in _pieces(x, fs[role], holes.get(role)):
            i = 0
            while i < run.size:
                n = sizes[j % len(sizes)]
                j += 1
                blocks.append(SampleBlock(role, (start + i) / fs[role], fs[role], run[i : i + n]))
                i += n
        per_role[role] = blocks
    order = [r for r, b in per_role.items() for _ in b]
    rng.shuffle(order)
    iters = {r: iter(b) for r, b in per_role.items()}
    return [next(iters[r]) for r in order]


def _run_blocks(fs, blocks, **kw) -> FeatureFrames:
    pipe = SignalPipeline(fs, **kw)
    out = [pipe.push(b) for b in blocks]
    out.append(pipe.flush())
    return FeatureFrames.concat(out)


def _whole_with_holes(signals, fs, holes) -> FeatureFrames:
    pipe = SignalPipeline(fs)
    out = []
    for role, x in signals.items():
        for start, run in _pieces(x, fs[role], holes.get(role)):
            out.append(pipe.push(SampleBlock(role, start / fs[role], fs[role], run)))
    out.append(pipe.flush())
    return FeatureFrames.concat(out)


def assert_frames_equal(a: FeatureFrames, b: FeatureFrames) -> None:
    assert a.names == b.names
    np.testing.assert_array_equal(a.t_s, b.t_s)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-7, atol=1e-9, equal_nan=True)


# 250 Hz EMG (25 samples per hop) and 25 Hz acc (2.5 samples per hop: uneven hops).
_SIGNALS, _FS = night(12.0, emg_fs=250.0, acc_fs=25.0, seed=3)
_SIGNALS["emg_calf"][1500:2250] *= 12.0  # a contraction
_SIGNALS["emg_calf"][2000:] += 40.0 * np.sin(2 * np.pi * 50 * np.arange(1000) / 250.0)
_REFERENCE = {False: run_whole(_SIGNALS, _FS), True: _whole_with_holes(_SIGNALS, _FS, HOLES)}

sizes_st = st.lists(
    st.one_of(st.integers(1, 4), st.integers(5, 300), st.integers(300, 3000)),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(
    sizes=sizes_st,
    seed=st.integers(0, 2**31 - 1),
    with_holes=st.booleans(),
    batch_s=st.sampled_from([0.0, 0.25, 4.0]),
)
def test_block_size_invariance(sizes, seed, with_holes, batch_s):
    holes = HOLES if with_holes else {}
    frames = _run_blocks(_FS, _blocks(_SIGNALS, _FS, holes, sizes, seed), batch_s=batch_s)
    ref = _REFERENCE[with_holes]
    assert len(ref) == 120
    assert_frames_equal(frames, ref)


def test_invariance_reference_is_not_trivial():
    """The reference frames carry signal: the invariance test compares real numbers."""
    ref = _REFERENCE[True]
    env = ref.column("calf_env_uv")
    assert np.nanmax(env) > 10 * np.nanmin(env[env > 0])
    assert ref.column("gap").sum() > 0
    assert np.isfinite(ref.column("calf_rest_uv")[20:]).all()


def test_frame_clock_and_columns(small_night):
    sig, fs = small_night
    fr = extract_features(sig, fs)
    assert fr.names == FEATURE_NAMES
    assert len(fr) == 200
    np.testing.assert_allclose(fr.t_s, 0.1 * np.arange(1, 201))
    for name in ("calf_env_uv", "acc_motion_g", "tilt_change_deg", "gap", "has_tib"):
        assert np.isfinite(fr.column(name)).all(), name
    with pytest.raises(KeyError, match="nope"):
        fr.column("nope")


def test_extract_features_same_as_small_blocks(small_night):
    sig, fs = small_night
    assert_frames_equal(extract_features(sig, fs, block_s=0.37), extract_features(sig, fs))


def test_frames_wait_for_every_role():
    sig, fs = night(4.0, tib=False)
    pipe = SignalPipeline(fs, mains_hz=50)
    got = pipe.push(SampleBlock("emg_calf", 0.0, fs["emg_calf"], sig["emg_calf"]))
    assert len(got) == 0  # no accelerometer yet
    for r in ("acc_x", "acc_y"):
        assert len(pipe.push(SampleBlock(r, 0.0, fs[r], sig[r]))) == 0
    got = pipe.push(SampleBlock("acc_z", 0.0, fs["acc_z"], sig["acc_z"][:101]))
    assert len(got) == 20  # acc_z complete up to 2.0 s (100 samples at 50 Hz) -> 20 frames
    assert got.t_s[-1] == pytest.approx(2.0)


def test_batching_delays_but_does_not_change_frames():
    sig, fs = night(6.0, tib=False)
    emitted = {}
    for batch_s in (0.0, 2.0):
        pipe = SignalPipeline(fs, mains_hz=50, batch_s=batch_s)
        counts, parts = [], []
        for k in range(12):  # 0.5-s blocks
            for r, x in sig.items():
                i0, i1 = round(k * 0.5 * fs[r]), round((k + 1) * 0.5 * fs[r])
                parts.append(pipe.push(SampleBlock(r, i0 / fs[r], fs[r], x[i0:i1])))
            counts.append(sum(len(p) for p in parts))
        parts.append(pipe.flush())
        emitted[batch_s] = (counts, FeatureFrames.concat(parts))
    live, batched = emitted[0.0], emitted[2.0]
    assert live[0] == [5 * (k + 1) for k in range(12)]  # every 0.5 s block: 5 frames
    assert batched[0][:3] == [0, 0, 0]  # nothing before 2 s of each role is buffered
    assert set(batched[0]) <= {0, 20, 40, 60}
    assert_frames_equal(live[1], batched[1])


def test_no_tibialis_gives_nan_tib_columns():
    sig, fs = night(6.0, tib=False)
    fr = extract_features(sig, fs)
    tib_cols = [f"tib_{n}" for n in EMG_FEATURES] + ["calf_tib_ratio"]
    for name in tib_cols:
        assert np.isnan(fr.column(name)).all(), name
    assert (fr.column("has_tib") == 0).all()
    assert np.isfinite(fr.column("calf_env_uv")).all()
    sig2, fs2 = night(6.0, tib=True)
    fr2 = extract_features(sig2, fs2)
    assert (fr2.column("has_tib") == 1).all()
    assert np.isfinite(fr2.column("calf_tib_ratio")[20:]).all()


@pytest.mark.parametrize(("emg_fs", "acc_fs"), [(200.0, 10.0), (2000.0, 200.0), (256.0, 25.0)])
def test_supported_rates(emg_fs, acc_fs):
    sig, fs = night(8.0, emg_fs=emg_fs, acc_fs=acc_fs, rest_uv=3.0)
    n = sig["emg_calf"].size
    burst = slice(n // 2, n // 2 + round(emg_fs))  # 1 s contraction at 10x rest
    sig["emg_calf"][burst] *= 10.0
    fr = extract_features(sig, fs)
    assert len(fr) == 80
    env = fr.column("calf_env_uv")
    assert np.median(env[:30]) == pytest.approx(3.0, rel=0.35)  # band-limited: some loss
    in_burst = (fr.t_s > 4.1) & (fr.t_s <= 5.0)
    assert np.median(fr.column("calf_rel")[in_burst]) > 5.0
    assert np.isfinite(fr.column("calf_mnf_hz")).all()
    assert (fr.column("calf_mnf_hz") < 0.5 * emg_fs).all()
    np.testing.assert_allclose(fr.column("grav_z_g")[10:], 1.0, atol=0.01)


def test_gap_flagged_and_time_aligned():
    sig, fs = night(10.0, tib=False)
    pipe = SignalPipeline(fs, mains_hz=50)
    out = []
    for r, x in sig.items():
        f = fs[r]
        if r == "emg_calf":  # 0.5 s lost from 4.0 s
            out.append(pipe.push(SampleBlock(r, 0.0, f, x[: round(4.0 * f)])))
            out.append(pipe.push(SampleBlock(r, 4.5, f, x[round(4.5 * f) :])))
        else:
            out.append(pipe.push(SampleBlock(r, 0.0, f, x)))
    out.append(pipe.flush())
    fr = FeatureFrames.concat(out)
    assert len(fr) == 100
    np.testing.assert_allclose(fr.t_s, 0.1 * np.arange(1, 101))
    gap = fr.column("gap").astype(bool)
    np.testing.assert_array_equal(np.flatnonzero(gap), np.arange(40, 45))
    assert (fr.column("calf_quality")[gap] == 0).all()
    # resting level frozen, not dragged down by the zeros
    rest = fr.column("calf_rest_uv")
    assert rest[60] == pytest.approx(rest[39], rel=0.3)
    # the envelope after the gap is back on the same clock
    assert np.median(fr.column("calf_env_uv")[50:]) == pytest.approx(3.0, rel=0.35)


def test_small_jitter_is_not_a_gap():
    sig, fs = night(4.0, tib=False)
    pipe = SignalPipeline(fs, mains_hz=50)
    out = []
    for r, x in sig.items():
        f = fs[r]
        half = x.size // 2
        out.append(pipe.push(SampleBlock(r, 0.0, f, x[:half])))
        out.append(pipe.push(SampleBlock(r, (half + 1.2) / f, f, x[half:])))  # 1.2 samples late
    out.append(pipe.flush())
    assert FeatureFrames.concat(out).column("gap").sum() == 0


def test_repeated_samples_are_dropped():
    sig, fs = night(4.0, tib=False)
    pipe = SignalPipeline(fs, mains_hz=50)
    out = []
    for r, x in sig.items():
        f = fs[r]
        a, b = round(2.0 * f), round(1.5 * f)  # second block re-sends 0.5 s
        out.append(pipe.push(SampleBlock(r, 0.0, f, x[:a])))
        out.append(pipe.push(SampleBlock(r, b / f, f, x[b:])))
    out.append(pipe.flush())
    assert_frames_equal(FeatureFrames.concat(out), run_whole(sig, fs, mains_hz=50))


def test_late_start_is_a_leading_gap():
    sig, fs = night(6.0, tib=False)
    pipe = SignalPipeline(fs, mains_hz=60)
    out = [pipe.push(SampleBlock(r, 1.0, fs[r], x)) for r, x in sig.items()]
    out.append(pipe.flush())
    fr = FeatureFrames.concat(out)
    assert len(fr) == 70 and fr.t_s[0] == pytest.approx(0.1)
    np.testing.assert_array_equal(fr.column("gap")[:10], 1)
    assert fr.column("gap")[11:].sum() == 0


def test_flush_pads_a_role_that_stopped_early():
    sig, fs = night(5.0, tib=False)
    sig["acc_y"] = sig["acc_y"][: 3 * 50]  # acc_y ends at 3 s
    fr = extract_features(sig, fs)
    assert len(fr) == 50
    assert fr.column("gap")[:30].sum() == 0
    assert (fr.column("gap")[30:] == 1).all()


def test_user_errors():
    _, fs = night(1.0)
    with pytest.raises(CrampwatchError, match="emg_calf"):
        SignalPipeline({k: v for k, v in fs.items() if k != "emg_calf"})
    with pytest.raises(CrampwatchError, match="acc_x"):
        SignalPipeline({**fs, "acc_x": 5.0})
    with pytest.raises(CrampwatchError, match=r"emg_tibialis.*too low"):
        SignalPipeline({**fs, "emg_tibialis": 80.0})
    with pytest.raises(CrampwatchError, match="nope"):
        SignalPipeline({**fs, "nope": 10.0})
    with pytest.raises(CrampwatchError, match="mains_hz"):
        SignalPipeline(fs, mains_hz=55)
    pipe = SignalPipeline({k: v for k, v in fs.items() if k != "emg_tibialis"})
    with pytest.raises(CrampwatchError, match="emg_tibialis"):
        pipe.push(SampleBlock("emg_tibialis", 0.0, 1000.0, np.zeros(10)))
    with pytest.raises(CrampwatchError, match="500"):
        pipe.push(SampleBlock("emg_calf", 0.0, 500.0, np.zeros(10)))


def test_feature_frames_concat_and_len():
    a = FeatureFrames(np.array([0.1]), np.zeros((1, len(FEATURE_NAMES))))
    b = FeatureFrames(np.array([0.2, 0.3]), np.ones((2, len(FEATURE_NAMES))))
    c = FeatureFrames.concat([a, FeatureFrames.empty(), b])
    assert len(c) == 3
    np.testing.assert_array_equal(c.column("gap"), [0, 1, 1])
    assert len(FeatureFrames.concat([])) == 0


def test_accelerometer_axes_at_different_rates():
    sig, fs = night(10.0, acc_fs=50.0, seed=4)
    sig["acc_y"], fs["acc_y"] = sig["acc_y"][::2], 25.0
    whole = run_whole(sig, fs)
    assert len(whole) == 100
    assert_frames_equal(extract_features(sig, fs, block_s=0.7), whole)
    for name in ("acc_motion_g", "grav_y_g", "tilt_change_deg"):
        assert np.isfinite(whole.column(name)).all(), name


def test_the_emg_channels_share_one_mains_frequency():
    """A faint calf hum that alone reads 60 Hz follows the tibialis's clear 50-Hz hum:
    one grid, one notch. Otherwise a later surge of 50-Hz hum on the calf would pass its
    60-Hz notch as a contraction. Whatever order the blocks come in."""
    fs = {"emg_calf": 500.0, "emg_tibialis": 500.0, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}
    t = np.arange(12 * 500) / 500.0
    rng = np.random.default_rng(7)
    signals = {
        "emg_calf": 3.0 * rng.standard_normal(t.size) + 0.15 * np.sin(2 * np.pi * 60.0 * t + 1),
        "emg_tibialis": 3.0 * rng.standard_normal(t.size) + 5.0 * np.sin(2 * np.pi * 50.0 * t),
        **{a: np.full(600, 1.0 if a == "acc_z" else 0.0) for a in ("acc_x", "acc_y", "acc_z")},
    }
    alone = SignalPipeline({r: fs[r] for r in ("emg_calf", "acc_x", "acc_y", "acc_z")})
    for r in ("emg_calf", "acc_x", "acc_y", "acc_z"):
        alone.push(SampleBlock(r, 0.0, fs[r], signals[r]))
    assert alone.mains_hz == {"emg_calf": 60.0}  # the calf alone gets it wrong
    for seed in (1, 2):
        pipe = SignalPipeline(fs)
        for b in _blocks(signals, fs, {}, [37, 400, 1200], seed):
            pipe.push(b)
        assert pipe.mains_hz == {"emg_calf": 50.0, "emg_tibialis": 50.0}
