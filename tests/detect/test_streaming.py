"""The streaming detector on short simulated nights with scheduled events."""

from __future__ import annotations

import numpy as np
import pytest

from crampwatch.detect.model import cramp_params
from crampwatch.detect.streaming import StreamingDetector, detect_recording
from crampwatch.events import validate_event
from crampwatch.recordings import iter_blocks
from crampwatch.simulate import ScheduledEvent


def cramp(onset=90.0, **kw):
    base = dict(duration_s=60.0, peak_uv=200.0, prodrome_s=0.0, fasciculations=0, reaction="none")
    return ScheduledEvent("cramp", onset, **{**base, **kw})


@pytest.fixture(scope="module")
def cramp_night(make_night):
    return make_night([cramp(90.0)], hours=0.05)


def test_cramp_alarm_within_six_seconds_then_end_with_same_id(cramp_night, model, alarms):
    events = detect_recording(cramp_night.recording, device_id="t", model=model)
    (truth,) = [e for e in cramp_night.truth if e.type == "cramp"]
    (alarm,) = alarms(events)
    assert alarm.end_s is None
    assert 0.0 <= alarm.detected_at_s - truth.onset_s <= 6.0
    updates = [e for e in events if e.id == alarm.id]
    assert len(updates) == 2
    assert updates[1].end_s is not None and updates[1].end_s > alarm.onset_s
    assert updates[1].onset_s == alarm.onset_s
    for ev in events:
        validate_event(ev.to_dict())


def test_events_do_not_depend_on_block_size(cramp_night, model):
    # live-style computing (batch_s=0: each frame as soon as it is complete) in 20-ms
    # blocks against the offline replay's batches
    small = detect_recording(
        cramp_night.recording, device_id="t", model=model, block_s=0.02, batch_s=0
    )
    large = detect_recording(cramp_night.recording, device_id="t", model=model, block_s=5.0)
    assert [e.to_dict() for e in small] == [e.to_dict() for e in large]
    assert small  # the night holds a cramp: the comparison is not vacuous


@pytest.mark.parametrize(
    "confounder",
    [
        [ScheduledEvent("turn_over", 60.0, duration_s=4.0)],
        [ScheduledEvent("stretch", 60.0, duration_s=15.0, peak_uv=300.0)],
        [ScheduledEvent("plm_series", 20.0, count=6, interval_s=25.0)],
    ],
    ids=["turn_over", "stretch", "plm_series"],
)
def test_confounders_raise_no_cramp(confounder, model, make_night, alarms):
    n = make_night(confounder, hours=0.05, seed=8)
    events = detect_recording(n.recording, device_id="t", model=model)
    assert alarms(events) == []


def test_plm_series_is_scored_periodic(model, make_night):
    n = make_night(
        [ScheduledEvent("plm_series", 20.0, count=6, interval_s=25.0, peak_uv=60.0)],
        hours=0.05,
        seed=9,
    )
    events = detect_recording(n.recording, device_id="t", model=model)
    lms = [e for e in events if e.type == "leg_movement"]
    assert len(lms) >= 5
    assert sum(bool(e.periodic) for e in lms) >= 4


def test_without_a_tibialis_a_leg_movement_is_a_calf_burst_while_the_shin_moves(model, make_night):
    """Six 2-s leg movements 25 s apart on a calf-only night: the calf joins each at
    10-50 % of the tibialis' 20 µV, mostly below the WASM 8 µV, and the shin moves. They
    are found, as a periodic series. Under a still shin (the accelerometer of the same
    night without the movements) only a calf burst that is a WASM movement by itself
    (>= 8 µV above rest for 0.5 s in a row) is one; the weaker ones are not."""
    import dataclasses

    sched = [
        ScheduledEvent("leg_movement", 30.0 + 25 * k, duration_s=2.0, peak_uv=20.0)
        for k in range(6)
    ]
    night = make_night(sched, hours=0.06, seed=4, tibialis=False)
    lms = [
        e
        for e in detect_recording(night.recording, device_id="t", model=model)
        if e.type == "leg_movement"
    ]
    assert [round(e.onset_s) for e in lms] == [30 + 25 * k for k in range(6)]
    assert all(e.periodic for e in lms)
    assert {e.details["channel"] for e in lms} == {"emg_calf"}

    quiet = make_night([], hours=0.06, seed=4, tibialis=False).recording.signals
    still_shin = dataclasses.replace(
        night.recording,
        signals={**night.recording.signals, **{r: quiet[r] for r in ("acc_x", "acc_y", "acc_z")}},
    )
    events = detect_recording(still_shin, device_id="t", model=model)
    alone = [e for e in events if e.type == "leg_movement"]
    assert 0 < len(alone) < len(lms)  # on this night one calf burst holds 8 µV
    for e in alone:
        assert round(e.onset_s) in {30 + 25 * k for k in range(6)}
        assert e.details["mean_above_rest_uv"] >= 8.0


def test_a_movement_starting_just_inside_90_s_extends_the_series(model, make_night):
    # onset-to-onset 21 s, 89.8 s, 72.5 s: a PLM series of 4 (WASM: 10-90 s). The third
    # movement is only known ~10 s after 90 s have passed since the second: the series
    # must wait for it rather than close at 90 s.
    onsets = (20.0, 41.0, 130.8, 203.3)
    sched = [ScheduledEvent("leg_movement", t, duration_s=1.6, peak_uv=60.0) for t in onsets]
    n = make_night(sched, hours=0.09, seed=5)
    events = detect_recording(n.recording, device_id="t", model=model, block_s=7.0)
    lms = [e for e in events if e.type == "leg_movement"]
    assert [round(e.onset_s) for e in lms] == [round(t) for t in onsets]
    assert all(e.periodic for e in lms)
    assert [bool(e.periodic) for e in n.truth if e.type == "leg_movement"] == [True] * 4


def test_no_cramp_alarm_while_the_calf_electrode_is_off(model, make_night, alarms):
    issue = ScheduledEvent("electrode_off", 60.0, duration_s=120.0, muscle="emg_calf")
    n = make_night([issue, cramp(100.0)], hours=0.06, seed=11)
    events = detect_recording(n.recording, device_id="t", model=model)
    assert all(not (60.0 <= a.detected_at_s <= 180.0) for a in alarms(events))
    issues = [e for e in events if e.type == "signal_issue" and e.end_s is not None]
    assert any(e.onset_s <= 61.0 and e.end_s >= 179.0 for e in issues)


def test_mains_hum_raises_a_signal_issue_not_a_cramp(model, make_night, alarms):
    # a lifting electrode picks up hum of hundreds of µV
    hum = ScheduledEvent("mains", 60.0, duration_s=120.0, muscle="emg_calf", peak_uv=250.0)
    n = make_night([hum], hours=0.06, seed=11)
    events = detect_recording(n.recording, device_id="t", model=model)
    assert alarms(events) == []
    assert any(e.type == "signal_issue" and e.details["kind"] == "mains" for e in events)


def test_small_steady_hum_is_not_a_signal_issue(model, make_night):
    # a quiet muscle next to a mains cable: the notch removes the hum, nothing to report
    hum = ScheduledEvent("mains", 30.0, duration_s=150.0, muscle="emg_calf", peak_uv=12.0)
    n = make_night([hum], hours=0.06, seed=11)
    events = detect_recording(n.recording, device_id="t", model=model)
    assert not [e for e in events if e.type == "signal_issue" and e.details["kind"] == "mains"]


def test_cramp_going_on_across_a_gap_alarms_once_the_signal_is_clean(cramp_night, model, alarms):
    rec = cramp_night.recording
    det = StreamingDetector(rec.fs_hz, device_id="t", model=model)
    events = []
    for block in iter_blocks(rec, 0.5):
        if 85.0 <= block.t0_s < 100.0:  # BLE drop over the cramp onset
            continue
        events += det.push(block)
    events += det.flush(rec.duration_s)
    # the cramp goes on after the drop: one alarm, once the calf signal has been clean
    # for 2 s and the accelerometer's filters have settled (a contraction first seen as
    # the data resume did not start with the motion of the zero-filled gap's edge)
    (alarm,) = alarms(events)
    assert 100.0 + cramp_params(model).clean_s <= alarm.detected_at_s <= 100.0 + 6.0
    assert any(e.type == "signal_issue" for e in events)


def test_notice_gap_gives_a_signal_issue_event(model):
    det = StreamingDetector(
        {"emg_calf": 500.0, "acc_x": 50.0, "acc_y": 50.0, "acc_z": 50.0}, device_id="t", model=model
    )
    (ev,) = det.notice_gap(10.0, 12.5, "ble_drop")
    assert ev.type == "signal_issue" and (ev.onset_s, ev.end_s) == (10.0, 12.5)
    validate_event(ev.to_dict())


@pytest.mark.parametrize(
    ("emg_fs_hz", "tibialis"), [(200.0, True), (2000.0, True), (1000.0, False), (200.0, False)]
)
def test_rates_and_montages(emg_fs_hz, tibialis, model, make_night, alarms):
    n = make_night([cramp(80.0)], hours=0.04, emg_fs_hz=emg_fs_hz, tibialis=tibialis, seed=13)
    events = detect_recording(n.recording, device_id="t", model=model)
    (truth,) = [e for e in n.truth if e.type == "cramp"]
    (alarm,) = alarms(events)
    # without a tibialis the alarm waits out the longest leg movement (≤ 12 s target)
    assert alarm.detected_at_s - truth.onset_s <= (6.0 if tibialis else 12.0)
    for ev in events:
        validate_event(ev.to_dict())


def test_calf_only_leg_movements_on_a_noisy_accelerometer_raise_no_alarm(model, make_night, alarms):
    """Six 8-s leg movements that fire the calf, no tibialis, a noisy accelerometer
    (shifted variant): the calf-only wait outlasts them, and the shank's motion, lost in
    one second of noise, shows in its power over the wait. Then a cramp on the same
    night still alarms, within 12 s."""
    import dataclasses

    sched = [
        ScheduledEvent("leg_movement", 60.0 + 40 * k, duration_s=8.0, peak_uv=300.0)
        for k in range(6)
    ]
    kw = dict(hours=0.1, seed=3, emg_fs_hz=500.0, tibialis=False, variant="shifted")
    n = make_night(sched, **kw)
    assert alarms(detect_recording(n.recording, device_id="t", model=model)) == []

    def with_rule(**thr):
        return dataclasses.replace(model, thresholds={**model.thresholds, **thr})

    # either defence alone holds them back; without both (a wait shorter than the
    # movements, no motion-power test) they alarm
    no_power = with_rule(still_excess_g=np.inf)
    assert alarms(detect_recording(n.recording, device_id="t", model=no_power)) == []
    short_wait = with_rule(calf_only_min_active_s=3.5)
    assert alarms(detect_recording(n.recording, device_id="t", model=short_wait)) == []
    neither = with_rule(still_excess_g=np.inf, calf_only_min_active_s=3.5)
    assert len(alarms(detect_recording(n.recording, device_id="t", model=neither))) >= 2
    n = make_night([*sched, cramp(330.0, duration_s=40.0, peak_uv=150.0)], **{**kw, "hours": 0.12})
    (alarm,) = alarms(detect_recording(n.recording, device_id="t", model=model))
    assert 0.0 <= alarm.detected_at_s - 330.0 <= 12.0


# ------------------------------------------------ look-alikes of a cramp (issue 13)


def test_a_resolving_calf_tone_rise_raises_no_alarm(model, make_night, alarms):
    for seed, peak_x in ((5, 4.5), (6, 5.0), (7, 3.0)):
        tone = ScheduledEvent("tone_rise", 30.0, duration_s=90.0, peak_uv=peak_x)
        night = make_night([tone], hours=0.04, seed=seed)
        events = detect_recording(night.recording, device_id="t", model=model)
        assert alarms(events) == []


def test_the_steepest_resolving_tone_rise_raises_no_alarm(model, make_night, alarms, monkeypatch):
    """The steepest tone rise issue 13 describes: up in 5 s (a logistic, most of it
    within 2 s) to 4-5 × rest, then a steady 30-s hold, on nights with and without a
    tibialis. It looks like a weak cramp's jump and hold: with the partial-cramp level
    lowered to 3 × rest the detector alarms on it. At the shipped levels it does not."""
    import dataclasses

    import crampwatch.simulate.synth as synth

    def steep(rng, n):
        x = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
        y = 1.0 / (1.0 + np.exp(-12.0 * (x - 0.5)))
        return ((y - y[0]) / (y[-1] - y[0])).astype(np.float32)

    flutter = synth._fluctuation
    monkeypatch.setattr(synth, "_tone_parts", lambda rng, total_s: (5.0, 30.0, 10.0))
    monkeypatch.setattr(synth, "_rise_curve", steep)
    monkeypatch.setattr(
        synth, "_fluctuation", lambda night, n, depth: flutter(night, n, (0.05, 0.1))
    )
    nights = [
        make_night(
            [ScheduledEvent("tone_rise", 40.0, duration_s=45.0, peak_uv=peak_x)],
            hours=0.04,
            seed=seed,
            tibialis=tibialis,
            variant="train",
        )
        for seed, peak_x, tibialis in (
            (104, 4.5, True),
            (104, 4.5, False),
            (106, 4.0, False),
            (110, 4.5, True),
            (110, 4.5, False),
        )
    ]
    lowered = dataclasses.replace(model, thresholds={**model.thresholds, "weak_rel": 3.0})
    alarmed = [alarms(detect_recording(n.recording, device_id="t", model=lowered)) for n in nights]
    assert sum(map(len, alarmed)) >= 3  # a real look-alike of a weak cramp
    for night in nights:
        assert alarms(detect_recording(night.recording, device_id="t", model=model)) == []


def test_a_weak_cramp_jumping_out_of_a_relaxed_calf_alarms_within_seconds(
    model, make_night, alarms
):
    """A cramp at 5 × the night's resting calf EMG (below every force level), reaching it
    within about a second: the steep path alarms within 6 s with the tibialis and within
    the 12-s calf-only target without it. Without that path none of them alarms (before,
    such a cramp had to last 120 s)."""
    import dataclasses

    def weak_cramp_night(seed, tibialis):
        rest = make_night([], hours=0.01, seed=seed, tibialis=tibialis).params["rest_calf_uv"]
        return make_night(
            [cramp(60.0, peak_uv=5.0 * rest)], hours=0.04, seed=seed, tibialis=tibialis
        )

    no_steep = dataclasses.replace(
        model, thresholds={**model.thresholds, "steep_jump_ratio": np.inf}
    )
    for seed, tibialis, within_s in (
        (1, True, 6.0),
        (8, True, 6.0),
        (1, False, 12.0),
        (11, False, 12.0),
    ):
        night = weak_cramp_night(seed, tibialis)
        (truth,) = [e for e in night.truth if e.type == "cramp"]
        assert truth.details["rise_s"] < 1.5
        (alarm,) = alarms(detect_recording(night.recording, device_id="t", model=model))
        assert alarm.details["rule"] == "steep_partial_contraction"
        assert 0.0 <= alarm.detected_at_s - truth.onset_s <= within_s
        assert alarms(detect_recording(night.recording, device_id="t", model=no_steep)) == []


def test_a_prodrome_is_warned_before_the_cramp_which_keeps_its_alarm(model, make_night, alarms):
    night = make_night([cramp(100.0, prodrome_s=50.0, peak_uv=120.0)], hours=0.06, seed=11)
    (truth,) = night.of_type("cramp")
    events = detect_recording(night.recording, device_id="t", model=model)
    warnings = [e for e in events if e.type == "cramp_warning"]
    assert warnings and warnings[0].end_s is None
    assert warnings[0].detected_at_s < truth.onset_s  # before the cramp's onset
    (alarm,) = alarms(events)
    assert alarm.id != warnings[0].id
    assert alarm.detected_at_s - truth.onset_s <= 6.0
    ends = [e for e in warnings if e.end_s is not None]
    assert len(ends) == 1 and ends[0].id == warnings[0].id
    for ev in warnings:
        validate_event(ev.to_dict())


def test_a_failing_calf_electrode_is_one_signal_issue_and_no_alarm(model, make_night, alarms):
    fail = ScheduledEvent("electrode_failing", 40.0, duration_s=90.0, muscle="emg_calf")
    night = make_night([fail], hours=0.05, seed=3)
    events = detect_recording(night.recording, device_id="t", model=model)
    assert alarms(events) == []
    calf_issues = {
        e.id for e in events if e.type == "signal_issue" and e.details["channel"] == "emg_calf"
    }
    assert len(calf_issues) == 1


def test_an_electrode_pop_on_the_tibialis_is_no_leg_movement(model, monkeypatch):
    """A development night (44140, shifted, with the tibialis) whose tibialis pop at
    6915 s inflated the envelope for half a second, the shortest leg movement WASM
    scores (122 µV peak, 36 µV mean: a spike, not a muscle). It is dropped; every other
    movement of the night is kept."""
    import crampwatch.detect.frame_detector as fd
    from crampwatch.detect.training import simulated_night

    night = simulated_night(44140, 2.0, "shifted", cramp_boost=4.0, tibialis=True)
    pops = [
        e.onset_s
        for e in night.truth
        if e.type == "signal_issue"
        and "step_uv" in (e.details or {})
        and "emg_tibialis" in e.details["channels"]
    ]

    def movements():
        events = detect_recording(night.recording, device_id="t", model=model)
        return [e.onset_s for e in events if e.type == "leg_movement" and e.end_s is not None]

    def at_pops(onsets):
        return [t for t in onsets if any(abs(t - p) < 1.5 for p in pops)]

    kept = movements()
    assert pops and at_pops(kept) == []
    monkeypatch.setattr(fd, "POP_LM_MAX_S", -1.0)
    unguarded = movements()
    assert at_pops(unguarded)
    assert sorted(set(unguarded) - set(at_pops(unguarded))) == sorted(kept)


def add_failing_tibialis_contact(rec, start_s: float, failing_s: float, seed: int = 3) -> None:
    """Add to ``rec``'s tibialis a failing contact from ``start_s`` for ``failing_s`` s:
    mains hum whose amplitude flickers with the contact (0-300 µV, changing within a
    fraction of a second, so the notch leaves its side bands) and baseline steps of
    200-800 µV decaying through the amplifier's high-pass (0.5 s)."""
    fs = rec.fs_hz["emg_tibialis"]
    rng = np.random.default_rng(seed)
    n = int(failing_s * fs)
    t = np.arange(n) / fs
    # the contact: a random walk of 4 changes a second, between off (0) and full hum
    contact = np.clip(np.cumsum(rng.normal(0.0, 0.35, int(4 * failing_s) + 1)), -1, 1)
    hum_uv = 300.0 * np.abs(np.interp(t, np.arange(contact.size) / 4.0, contact))
    failing = hum_uv * np.sin(2 * np.pi * 50.0 * t)
    for t0 in np.sort(rng.uniform(0.0, failing_s, max(1, int(failing_s / 3)))):
        i0 = int(t0 * fs)
        k = np.arange(min(int(3.0 * fs), n - i0))
        step_uv = rng.uniform(200.0, 800.0) * rng.choice([-1.0, 1.0])
        failing[i0 : i0 + k.size] += step_uv * np.exp(-k / fs / 0.5)
    tib = np.asarray(rec.signals["emg_tibialis"], float).copy()
    tib[int(start_s * fs) : int(start_s * fs) + n] += failing
    rec.signals["emg_tibialis"] = tib


def scored_movements(rec, model) -> list:
    events = detect_recording(rec, device_id="t", model=model)
    return [e for e in events if e.type == "leg_movement" and e.end_s is not None]


@pytest.mark.parametrize("emg_fs_hz", [250.0, 1000.0])
def test_a_failing_tibialis_contact_is_no_leg_movement(model, make_night, monkeypatch, emg_fs_hz):
    """A periodic series of six movements, then a failing tibialis contact for 40 s. The
    envelope stays above the WASM onset level for seconds with its power at the bottom
    of the EMG band and the channel flagged: no muscle burst. The movements are all kept
    and no movement is scored in the failure; without the spectral test some are."""
    import crampwatch.detect.frame_detector as fd

    series = ScheduledEvent("plm_series", 20.0, count=6, interval_s=25.0, peak_uv=60.0)
    night = make_night([series], hours=0.07, seed=9, emg_fs_hz=emg_fs_hz)
    start_s = 175.0
    add_failing_tibialis_contact(night.recording, start_s, 40.0)
    truth = [e.onset_s for e in night.of_type("leg_movement")]
    kept = [e.onset_s for e in scored_movements(night.recording, model)]
    assert len(truth) == 6
    assert all(any(abs(t - k) < 1.0 for k in kept) for t in truth)
    assert [t for t in kept if t > start_s - 1.0] == []
    monkeypatch.setattr(fd, "LOW_BAND_HF_FRAC", 0.0)
    assert [e for e in scored_movements(night.recording, model) if e.onset_s > start_s - 1.0]
    # muscle can be low-pitched too: on a clean channel the spectrum alone drops nothing
    monkeypatch.setattr(fd, "LOW_BAND_HF_FRAC", 1.0)
    clean = [e.onset_s for e in scored_movements(night.recording, model)]
    assert all(any(abs(t - k) < 1.0 for k in clean) for t in truth)


def test_a_failing_tibialis_contact_ends_a_periodic_series(model, make_night, monkeypatch):
    """Eight movements 25 s apart with a contact failing for 6 s between the third and
    the fourth, starting over 10 s after the third: whether the series went on through
    the artefact cannot be told, so it ends there (three movements: no series) and the
    five after it form one (the fourth, within the tibialis' open signal issue, is kept:
    a muscle's spectrum). Scored as a movement, the artefact would have joined the
    series."""
    import crampwatch.detect.frame_detector as fd

    series = ScheduledEvent("plm_series", 20.0, count=8, interval_s=25.0, peak_uv=60.0)
    night = make_night([series], hours=0.07, seed=9)
    add_failing_tibialis_contact(night.recording, 81.5, 6.0)
    moves = scored_movements(night.recording, model)
    truth = [e.onset_s for e in night.of_type("leg_movement")]
    assert len(moves) == len(truth) == 8
    assert all(abs(e.onset_s - t) < 1.0 for e, t in zip(moves, truth, strict=True))
    assert [bool(e.periodic) for e in moves] == [False] * 3 + [True] * 5
    monkeypatch.setattr(fd, "LOW_BAND_HF_FRAC", 0.0)
    unguarded = scored_movements(night.recording, model)
    assert any(81.0 < e.onset_s < 85.0 for e in unguarded)
    assert all(e.periodic for e in unguarded)
