"""Signal synthesis: envelopes of band-limited noise for EMG, gravity plus movement for
the accelerometer. Vectorised over the night; events only touch their own samples.

Surface EMG is modelled as Gaussian noise band-limited to the surface-EMG band
(20–450 Hz, SENIAM / De Luca 1997; the band is capped at 0.45·fs for slow devices),
amplitude-modulated by an activation envelope in µV RMS. Two independent noise
sources per muscle carry the envelope:

- a *low band* (20 Hz – min(120 Hz, 0.3·fs)): slow motor-unit firing of voluntary and
  postural contraction;
- a *high band* (min(100 Hz, 0.25·fs) – min(450 Hz, 0.45·fs)): the fast, synchronous
  discharge of cramps (Norris et al. 1957; Bertolasi et al. 1993).

Each event splits its amplitude between the two by its high-band power share ``hf``:
cramps are high-band heavy, voluntary stretches low-band heavy, so the mean frequency
separates them even at equal amplitude. Amplitudes are *rises above the resting
envelope* (``peak_uv`` of a leg movement is how far its RMS envelope rises above rest),
matching how WASM 2016 defines LM onset (≥ 8 µV above resting EMG).

Added to every EMG channel: white amplifier noise, baseline wander (< 0.5 Hz), mains hum
(50/60 Hz, slowly varying amplitude); in the calf channel only, QRS-like ECG spikes at
the night's heart rate with slow variability. Fasciculations are single biphasic
motor-unit potentials (~10 ms, 30–200 µV); a pop is a step with exponential decay; an
electrode coming off replaces the channel with hum of hundreds of µV (mains and its 3rd
harmonic plus large drift), sometimes ending in a flat line; a flat line holds one value.

Accelerometer (g, shin-mounted): the 1 g reaction to gravity in the shank frame (x along
the shank towards the knee, y medio-lateral, z out of the shin), set by posture and
rotated by a fixed random mounting rotation, plus movement (0.3–8 Hz band-limited noise
under a movement envelope) and white sensor noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import signal as sps
from scipy.spatial.transform import Rotation

from crampwatch.simulate.events import TONE_PARTS_S, ScheduledEvent, TruthEvent, wasm_periodic

__all__ = ["POSTURES", "synthesise"]

# Reaction to gravity in the shank frame (x: along the shank towards the knee,
# y: medio-lateral, z: out of the shin). Lying with the shin up reads +z; standing reads
# +x (gravity along the shank's long axis).
POSTURES: dict[str, tuple[float, float, float]] = {
    "supine": (0.0, 0.0, 1.0),
    "prone": (0.0, 0.0, -1.0),
    "side_left": (0.0, 1.0, 0.0),
    "side_right": (0.0, -1.0, 0.0),
    "standing": (1.0, 0.0, 0.0),
}
LYING: tuple[str, ...] = ("supine", "side_left", "side_right", "prone")
_LYING_P = (0.45, 0.2, 0.2, 0.15)


def _smooth_noise(rng: np.random.Generator, n: int, fs: float, rate_hz: float) -> np.ndarray:
    """Unit-ish smooth random curve (knots every 1/rate_hz s, linear between)."""
    n_knots = max(2, math.ceil(n / fs * rate_hz) + 2)
    knots = rng.standard_normal(n_knots)
    return np.interp(np.arange(n) / fs * rate_hz, np.arange(n_knots), knots)


def _slow_curve(
    rng: np.random.Generator, n: int, fs: float, rate_hz: float, depth: float
) -> np.ndarray:
    """``exp(depth · smooth noise)`` as float32, for slowly varying amplitudes.

    Computed on a 10 Hz grid and held between grid points when that is exact (steps of
    a fraction of a percent, invisible under noise), which is much cheaper than
    interpolating every sample of an 8-hour night.
    """
    step = fs / 10.0
    if step.is_integer() and step >= 1:
        m = math.ceil(n / step)
        coarse = np.exp(depth * _smooth_noise(rng, m, 10.0, rate_hz)).astype(np.float32)
        return np.repeat(coarse, int(step))[:n]
    return np.exp(depth * _smooth_noise(rng, n, fs, rate_hz)).astype(np.float32)


def _edges(n: int, rise: int, fall: int) -> np.ndarray:
    """Plateau of ones with raised-cosine rise and fall (in samples)."""
    s = np.ones(n, dtype=np.float32)
    rise = max(0, min(rise, n // 2))
    fall = max(0, min(fall, n - rise))
    if rise:
        s[:rise] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(rise) + 0.5) / rise)
    if fall:
        s[n - fall :] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(fall) + 0.5) / fall)
    return s


def _band_noise(
    rng: np.random.Generator, n: int, fs: float, lo: float, hi: float, shape: Sequence[int] = ()
) -> np.ndarray:
    """Unit-RMS Gaussian noise band-limited to [lo, hi] Hz (4th-order Butterworth)."""
    sos = sps.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos").astype(np.float32)
    x = rng.standard_normal((n, *shape), dtype=np.float32)
    y = sps.sosfilt(sos, x, axis=0)
    del x
    ref = y[: min(n, int(600 * fs))]
    y /= np.float32(max(float(ref.std()), 1e-12))
    return y


def _sine(n: int, f_hz: float, fs: float, phase: float) -> np.ndarray:
    """sin(2π f t + phase) as float32; tiled from one second when that is exact."""
    if float(fs).is_integer() and float(f_hz).is_integer():
        fs_i = int(fs)
        base = np.sin(2 * np.pi * f_hz * np.arange(fs_i) / fs + phase).astype(np.float32)
        return np.tile(base, n // fs_i + 1)[:n]
    return np.sin(2 * np.pi * f_hz * np.arange(n) / fs + phase).astype(np.float32)


def _kernel_qrs(fs: float) -> np.ndarray:
    """A QRS-like biphasic complex, 100 ms, peak 1 (the R wave)."""
    t = np.arange(-0.05, 0.05, 1.0 / fs)

    def g(mu: float, sd: float) -> np.ndarray:
        return np.exp(-0.5 * ((t - mu) / sd) ** 2)

    k = g(0.0, 0.008) - 0.2 * g(-0.018, 0.006) - 0.3 * g(0.02, 0.009)
    return (k / np.abs(k).max()).astype(np.float32)


def _kernel_muap(fs: float) -> np.ndarray:
    """A fasciculation potential: biphasic, ~10 ms, peak 1."""
    t = np.arange(-0.008, 0.008, 1.0 / fs)
    k = -t / 0.0015 * np.exp(-0.5 * (t / 0.0015) ** 2)
    return (k / max(np.abs(k).max(), 1e-12)).astype(np.float32)


class _Night:
    """Mutable synthesis state for one night (envelopes, additive parts, postures)."""

    def __init__(
        self,
        rng: np.random.Generator,
        params: dict[str, Any],
        total_s: float,
        emg_fs: float,
        acc_fs: float,
        tibialis: bool,
    ) -> None:
        self.rng = rng
        self.p = params
        self.total_s = total_s
        self.emg_fs = emg_fs
        self.acc_fs = acc_fs
        self.n_emg = round(total_s * emg_fs)
        self.n_acc = round(total_s * acc_fs)
        self.muscles = ["emg_calf", *(["emg_tibialis"] if tibialis else [])]
        rest = {"emg_calf": params["rest_calf_uv"], "emg_tibialis": params["rest_tibialis_uv"]}
        h = params["rest_hf"]
        self.rest_vec = {m: (rest[m] * math.sqrt(1 - h), rest[m] * math.sqrt(h)) for m in rest}
        # resting level drifts slowly over the night (±~15 %, minutes)
        self.env_lo: dict[str, np.ndarray] = {}
        self.env_hi: dict[str, np.ndarray] = {}
        self.mains_amp: dict[str, np.ndarray] = {}
        self.add: dict[str, np.ndarray] = {}
        for m in self.muscles:
            slow = _slow_curve(rng, self.n_emg, emg_fs, 1 / 120, 0.15)
            self.env_lo[m] = slow * np.float32(self.rest_vec[m][0])
            slow *= np.float32(self.rest_vec[m][1])
            self.env_hi[m] = slow
            hum = _slow_curve(rng, self.n_emg, emg_fs, 1 / 60, 0.4)
            hum *= np.float32(params["mains_uv"])
            self.mains_amp[m] = hum
            self.add[m] = np.zeros(self.n_emg, dtype=np.float32)
        self.replacements: list[tuple[str, int, int, np.ndarray | None]] = []
        self.acc_move = np.zeros(self.n_acc, dtype=np.float32)
        first = str(rng.choice(LYING, p=_LYING_P))
        self.posture = first
        self.posture_changes: list[tuple[float, float, np.ndarray]] = []
        self.first_posture = first
        self.first_vec = self._posture_vec(first)
        self.truth: list[TruthEvent] = []
        self.lm_onsets: list[tuple[float, int]] = []  # (onset, index into truth)

    # -- helpers -------------------------------------------------------------------
    def _i(self, t_s: float) -> int:
        return min(max(round(t_s * self.emg_fs), 0), self.n_emg)

    def _posture_vec(self, name: str) -> np.ndarray:
        v = np.asarray(POSTURES[name]) + self.rng.normal(0.0, 0.12, 3)
        return v / np.linalg.norm(v)

    def _amp_for_rise(self, muscle: str, rise_uv: float, hf: float) -> float:
        """Envelope amplitude A whose RMS sits ``rise_uv`` above the resting RMS."""
        r_lo, r_hi = self.rest_vec[muscle]
        u_lo, u_hi = math.sqrt(1 - hf), math.sqrt(hf)
        r = math.hypot(r_lo, r_hi)
        ru = r_lo * u_lo + r_hi * u_hi
        return -ru + math.sqrt(ru * ru + (r + rise_uv) ** 2 - r * r)

    def burst(
        self,
        muscle: str,
        t0_s: float,
        dur_s: float,
        rise_uv: float,
        hf: float,
        *,
        rise_s: float = 0.1,
        fall_s: float = 0.3,
        wobble: float = 0.15,
        wobble_hz: float = 2.0,
        floor: float = 0.85,
    ) -> None:
        """Add an activation envelope rising ``rise_uv`` above rest (RMS µV)."""
        if muscle not in self.env_lo or rise_uv <= 0:
            return
        i0, i1 = self._i(t0_s), self._i(t0_s + dur_s)
        n = i1 - i0
        if n <= 1:
            return
        fs = self.emg_fs
        shape = _edges(n, round(rise_s * fs), round(fall_s * fs))
        if wobble:
            w = 1.0 + wobble * _smooth_noise(self.rng, n, fs, wobble_hz)
            shape = shape * np.clip(w, floor, 1.0 + 3 * wobble).astype(np.float32)
        a = self._amp_for_rise(muscle, rise_uv, hf)
        self.env_lo[muscle][i0:i1] += np.float32(a * math.sqrt(1 - hf)) * shape
        self.env_hi[muscle][i0:i1] += np.float32(a * math.sqrt(hf)) * shape

    def move(self, t0_s: float, dur_s: float, amp_g: float, rise_s: float = 0.2) -> None:
        """Add limb movement (band-limited acceleration of RMS ``amp_g``)."""
        i0 = min(max(round(t0_s * self.acc_fs), 0), self.n_acc)
        i1 = min(max(round((t0_s + dur_s) * self.acc_fs), 0), self.n_acc)
        if i1 - i0 < 1:
            return
        r = round(rise_s * self.acc_fs)
        self.acc_move[i0:i1] += np.float32(amp_g) * _edges(i1 - i0, r, r)

    def change_posture(self, t0_s: float, dur_s: float, name: str) -> None:
        self.posture_changes.append((t0_s, t0_s + dur_s, self._posture_vec(name)))
        self.posture = name

    def add_kernel(self, muscle: str, t_s: np.ndarray, amps: np.ndarray, k: np.ndarray) -> None:
        """Add ``amps[i] * k`` centred at times ``t_s`` (non-overlapping placements)."""
        if muscle not in self.add or len(t_s) == 0:
            return
        idx = np.round(np.asarray(t_s) * self.emg_fs).astype(np.int64) - len(k) // 2
        cols = idx[:, None] + np.arange(len(k))[None, :]
        ok = (cols >= 0) & (cols < self.n_emg)
        vals = (np.asarray(amps, dtype=np.float32)[:, None] * k[None, :])[ok]
        np.add.at(self.add[muscle], cols[ok], vals)

    def record(self, ev: TruthEvent) -> None:
        """Keep the truth of what the recording holds: events past its end are dropped,
        events running over it end with it."""
        if ev.onset_s >= self.total_s:
            return
        if ev.end_s > self.total_s:
            ev = replace(ev, end_s=self.total_s, details={**ev.details, "truncated": True})
        self.truth.append(ev)

    def record_lm(self, t0: float, t1: float, **details: Any) -> None:
        if t0 < self.total_s:
            self.lm_onsets.append((t0, len(self.truth)))
        self.record(TruthEvent("leg_movement", t0, t1, details=details))

    # -- draws ---------------------------------------------------------------------
    def around(self, centre: float, sigma: float, lo: float, hi: float) -> float:
        return float(np.clip(centre * math.exp(self.rng.normal(0.0, sigma)), lo, hi))


# -- event synthesis -------------------------------------------------------------------
def _leg_movement(
    night: _Night,
    t0: float,
    dur: float | None,
    peak: float | None,
    hf: float | None,
    acc_g: tuple[float, float] = (0.01, 0.05),
    calf_share: tuple[float, float] = (0.1, 0.5),
    **details: Any,
) -> None:
    rng, p = night.rng, night.p
    if dur is None:
        dur = float(np.clip(rng.lognormal(math.log(2.0), 0.6), 0.5, 10.0))
    if peak is None:
        peak = night.around(p["lm_peak_uv"], 0.4, 10.0, 400.0)
    hf = p["lm_hf"] if hf is None else hf
    rise_s = float(rng.uniform(0.05, 0.2))
    fall_s = min(float(rng.uniform(0.2, 0.6)), dur / 3)
    # tibialis anterior is the PSG leg-movement muscle; calf joins more weakly
    night.burst("emg_tibialis", t0, dur, peak, hf, rise_s=rise_s, fall_s=fall_s, floor=1.0)
    calf = peak * float(rng.uniform(*calf_share))
    night.burst("emg_calf", t0, dur, calf, hf, rise_s=rise_s, fall_s=fall_s, floor=1.0)
    night.move(t0, dur, float(rng.uniform(*acc_g)), rise_s=min(0.2, dur / 3))
    night.record_lm(t0, t0 + dur, peak_uv=round(peak, 2), **details)


def _plm_series(night: _Night, ev: ScheduledEvent) -> None:
    rng = night.rng
    count = ev.count if ev.count is not None else int(rng.integers(4, 40))
    interval = ev.interval_s if ev.interval_s is not None else night.p["plm_interval_s"]
    t = ev.onset_s
    for k in range(count):
        if k:
            t += float(np.clip(interval * rng.uniform(0.9, 1.1), 10.5, 89.5))
        gap_max = max(0.6, min(5.0, interval - 3.0))
        dur = float(np.clip(rng.lognormal(math.log(1.5), 0.5), 0.5, gap_max))
        _leg_movement(night, t, dur, ev.peak_uv, ev.hf_fraction)


def _restless(night: _Night, ev: ScheduledEvent) -> None:
    """Awake RLS bout: irregular movements a few seconds apart (not periodic)."""
    rng = night.rng
    dur = ev.duration_s if ev.duration_s is not None else float(rng.uniform(60.0, 600.0))
    t, end, n = ev.onset_s, ev.onset_s + dur, 0
    while t < end - 0.5 and (ev.count is None or n < ev.count):
        d = min(float(rng.uniform(0.5, 3.0)), end - t)
        if d < 0.5:
            break
        _leg_movement(
            night,
            t,
            d,
            None,
            None,
            acc_g=(0.05, 0.3),
            calf_share=(0.3, 0.9),
            context="restless_bout",
        )
        n += 1
        t += d + 1.0 + float(rng.exponential(2.5))  # ≥ 1 s back at rest between them
    night.record(TruthEvent("restless_bout", ev.onset_s, end, details={"n_movements": n}))


def _turn_over(night: _Night, ev: ScheduledEvent) -> None:
    rng, p = night.rng, night.p
    dur = ev.duration_s if ev.duration_s is not None else float(rng.uniform(1.0, 6.0))
    peak = (
        ev.peak_uv
        if ev.peak_uv is not None
        else night.around(p["lm_peak_uv"] * 1.5, 0.4, 10.0, 500.0)
    )
    hf = p["lm_hf"] if ev.hf_fraction is None else ev.hf_fraction
    for m in night.muscles:  # both muscles: the whole limb repositions
        share = 1.0 if m == "emg_tibialis" else float(rng.uniform(0.5, 1.2))
        night.burst(m, ev.onset_s, dur, peak * share, hf, rise_s=0.2, fall_s=0.4)
    night.move(ev.onset_s, dur, float(rng.uniform(0.1, 0.5)), rise_s=0.3)
    before = night.posture
    after = ev.posture or str(rng.choice([x for x in LYING if x != before]))
    night.change_posture(ev.onset_s + 0.1 * dur, 0.8 * dur, after)
    night.record(
        TruthEvent(
            "position_change",
            ev.onset_s,
            ev.onset_s + dur,
            kind="turn_over",
            details={"from": before, "to": after, "peak_uv": round(peak, 2)},
        )
    )


def _stretch(night: _Night, ev: ScheduledEvent) -> None:
    """Voluntary plantar flexion: calf, co-contraction, low frequencies, limb movement."""
    rng, p = night.rng, night.p
    dur = ev.duration_s if ev.duration_s is not None else float(rng.uniform(3.0, 30.0))
    peak = (
        ev.peak_uv
        if ev.peak_uv is not None
        else night.around(p["stretch_peak_uv"], 0.5, 15.0, 800.0)
    )
    hf = p["stretch_hf"] if ev.hf_fraction is None else ev.hf_fraction
    rise_s, fall_s = float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.5, 2.0))
    night.burst(
        "emg_calf",
        ev.onset_s,
        dur,
        peak,
        hf,
        rise_s=rise_s,
        fall_s=fall_s,
        wobble=0.2,
        wobble_hz=1.0,
    )
    co = peak * float(rng.uniform(0.2, 0.5))
    night.burst("emg_tibialis", ev.onset_s, dur, co, hf, rise_s=rise_s, fall_s=fall_s)
    night.move(ev.onset_s, dur, float(rng.uniform(0.05, 0.4)), rise_s=0.3)
    night.record(
        TruthEvent(
            "stretch",
            ev.onset_s,
            ev.onset_s + dur,
            details={"peak_uv": round(peak, 2), "hf_fraction": round(hf, 3)},
        )
    )


def _cramp(night: _Night, ev: ScheduledEvent) -> None:
    rng, p = night.rng, night.p
    dur = (
        ev.duration_s
        if ev.duration_s is not None
        else float(np.clip(rng.lognormal(math.log(p["cramp_median_s"]), 0.6), 8.0, 900.0))
    )
    peak = (
        ev.peak_uv
        if ev.peak_uv is not None
        else night.around(p["cramp_peak_uv"], 0.35, 10.0, 1200.0)
    )
    hf = p["cramp_hf"] if ev.hf_fraction is None else ev.hf_fraction
    prodrome = (
        ev.prodrome_s
        if ev.prodrome_s is not None
        else (float(rng.uniform(10.0, 60.0)) if rng.random() < p["p_prodrome"] else 0.0)
    )
    n_fasc = (
        ev.fasciculations
        if ev.fasciculations is not None
        else (int(rng.integers(3, 15)) if rng.random() < p["p_fasciculation"] else 0)
    )
    t0, t_end = ev.onset_s, ev.onset_s + dur
    fs = night.emg_fs
    level = float(rng.uniform(0.05, 0.35)) if prodrome > 0 else 0.0
    if prodrome > 0:
        # slow prodromal rise of calf EMG over tens of seconds (pilot study: ~40 s); its
        # curve (concave to convex), fluctuation and twitching vary from cramp to cramp
        i0, i1 = night._i(t0 - prodrome), night._i(t0)
        ramp = _rise_curve(rng, i1 - i0)
        ramp *= _fluctuation(night, i1 - i0, (0.0, 0.4))
        a = night._amp_for_rise("emg_calf", peak * level, hf)
        night.env_lo["emg_calf"][i0:i1] += np.float32(a * math.sqrt(1 - hf)) * ramp
        night.env_hi["emg_calf"][i0:i1] += np.float32(a * math.sqrt(hf)) * ramp
        _twitch_bursts(night, t0 - prodrome, prodrome, hf)
    # the contraction reaches its force within seconds (Norris 1957: abrupt onset)
    rise_s = float(np.exp(rng.uniform(math.log(0.5), math.log(6.0))))
    fall_s = min(float(rng.uniform(3.0, 15.0)), dur / 3)
    # sustained, involuntary, high-frequency contraction with slow fluctuations; the
    # prodrome level carries on underneath so the envelope does not dip at onset
    night.burst(
        "emg_calf",
        t0,
        dur,
        peak * (1 - level),
        hf,
        rise_s=rise_s,
        fall_s=fall_s,
        wobble=float(rng.uniform(0.1, 0.3)),
        wobble_hz=float(np.exp(rng.uniform(math.log(0.2), math.log(1.5)))),
        floor=0.7,
    )
    if level:
        night.burst("emg_calf", t0, dur, peak * level, hf, rise_s=0.0, fall_s=fall_s, wobble=0)
    # tibialis sees only crosstalk
    night.burst(
        "emg_tibialis",
        t0,
        dur,
        peak * float(np.exp(rng.uniform(math.log(0.02), math.log(0.15)))),
        hf,
        rise_s=rise_s,
        fall_s=fall_s,
    )
    # little limb movement: the leg is held stiff
    night.move(t0, dur, float(rng.uniform(0.002, 0.006)), rise_s=1.0)
    fasc_t = np.array([])
    if n_fasc:
        lo = t0 - prodrome - 60.0
        fasc_t = np.sort(rng.uniform(max(lo, 0.0), t0, n_fasc))
        amps = rng.uniform(30.0, 200.0, n_fasc) * rng.choice([-1.0, 1.0], n_fasc)
        night.add_kernel("emg_calf", fasc_t, amps, _kernel_muap(fs))
    # waking reaction while the cramp goes on
    reaction = ev.reaction or str(rng.choice(("stand_up", "stretch", "none"), p=(0.45, 0.4, 0.15)))
    t_r = t0 + min(float(rng.uniform(5.0, 40.0)), 0.8 * dur)
    if reaction == "stand_up":
        before = night.posture
        tr = _stand_up(night, t_r)
        stand = float(rng.uniform(30.0, 300.0))
        _stand(night, t_r + tr, stand)
        _lie_down(night, t_r + tr + stand, tr, before)
        night.record(TruthEvent("out_of_bed", t_r, t_r + 2 * tr + stand))
    elif reaction == "stretch":
        d = float(rng.uniform(5.0, 20.0))
        # dorsiflexion against the cramp: tibialis works, the shank moves
        night.burst(
            "emg_tibialis", t_r, d, float(rng.uniform(30.0, 150.0)), 0.2, rise_s=0.5, fall_s=0.5
        )
        night.move(t_r, d, float(rng.uniform(0.05, 0.25)), rise_s=0.3)
    night.record(
        TruthEvent(
            "cramp",
            t0,
            t_end,
            details={
                "peak_uv": round(peak, 2),
                "rise_s": round(rise_s, 2),
                "prodrome_s": round(prodrome, 2),
                "prodrome_level": round(level, 3),
                "fasciculations": int(n_fasc),
                "fasciculation_times_s": [round(float(x), 3) for x in fasc_t],
                "reaction": reaction,
                "reaction_onset_s": None if reaction == "none" else round(t_r, 3),
                "hf_fraction": round(hf, 3),
            },
        )
    )


def _rise_curve(rng: np.random.Generator, n: int) -> np.ndarray:
    """0→1 over ``n`` samples: a power curve (exponent 0.5–3: concave to convex) or a
    logistic, drawn per event, as float32."""
    x = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
    if rng.random() < 0.3:
        k = float(rng.uniform(6.0, 12.0))
        c = float(rng.uniform(0.3, 0.7))
        y = 1.0 / (1.0 + np.exp(-k * (x - c)))
        return ((y - y[0]) / max(float(y[-1] - y[0]), 1e-6)).astype(np.float32)
    return (x ** float(np.exp(rng.uniform(math.log(0.5), math.log(3.0))))).astype(np.float32)


def _fluctuation(night: _Night, n: int, depth_range: tuple[float, float]) -> np.ndarray:
    """Slow multiplicative fluctuation of a tone (depth drawn in ``depth_range``,
    0.05–1 Hz), float32."""
    rng = night.rng
    depth = float(rng.uniform(*depth_range))
    rate = float(np.exp(rng.uniform(math.log(0.05), math.log(1.0))))
    w = 1.0 + depth * _smooth_noise(rng, n, night.emg_fs, rate)
    return np.clip(w, 0.4, 1.0 + 3 * depth).astype(np.float32)


def _twitch_bursts(night: _Night, t0: float, dur: float, hf: float) -> tuple[int, int]:
    """Irregular twitching over ``[t0, t0 + dur]``: short calf bursts (0.05–0.5 s, 1–8×
    rest above it) and single fasciculation potentials (30–200 µV), each at a rate drawn
    per event (Minetto 2013: fasciculations and twitches precede cramps and occur in
    cramp-prone muscles without one). Returns (bursts, fasciculations)."""
    rng = night.rng
    if dur <= 0:
        return 0, 0
    rest = night.p["rest_calf_uv"]
    n_b = int(rng.poisson(dur * float(np.exp(rng.uniform(math.log(0.01), math.log(0.3))))))
    for t in np.sort(rng.uniform(t0, t0 + dur, n_b)):
        d = float(rng.uniform(0.05, 0.5))
        amp = rest * float(rng.uniform(1.0, 8.0))
        night.burst("emg_calf", float(t), d, amp, hf, rise_s=0.02, fall_s=d / 3, wobble=0)
    n_f = int(rng.poisson(dur * float(np.exp(rng.uniform(math.log(0.02), math.log(0.5))))))
    if n_f:
        ft = rng.uniform(t0, t0 + dur, n_f)
        amps = rng.uniform(30.0, 200.0, n_f) * rng.choice([-1.0, 1.0], n_f)
        night.add_kernel("emg_calf", ft, amps, _kernel_muap(night.emg_fs))
    return n_b, n_f


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(max(hi, lo)))))


def _tone_parts(rng: np.random.Generator, total_s: float | None) -> tuple[float, float, float]:
    """(rise, hold, fade) in s, each log-uniform in its range of :data:`TONE_PARTS_S`;
    with ``total_s`` given, drawn within what that total leaves (the hold takes the rest,
    up to its maximum), so that a tone rise is never squeezed into a rise faster than
    5 s (a tone creeps up; a cramp jumps)."""
    (r0, r1), (h0, h1), (f0, f1) = TONE_PARTS_S
    if total_s is None:
        return _log_uniform(rng, r0, r1), _log_uniform(rng, h0, h1), _log_uniform(rng, f0, f1)
    total_s = max(total_s, r0 + h0 + f0)
    rise = _log_uniform(rng, r0, min(r1, total_s - h0 - f0))
    fade = _log_uniform(rng, f0, min(f1, total_s - rise - h0))
    return rise, min(total_s - rise - fade, h1), fade


def _tone_rise(night: _Night, ev: ScheduledEvent) -> None:
    """Calf tone rising over 5–120 s to 1.3–5× rest, holding, fading over 5–60 s, with
    twitching; no cramp follows. Some end in a posture shift or a leg movement."""
    rng, p = night.rng, night.p
    rise, hold, fade = _tone_parts(rng, ev.duration_s)
    top = max(float(p.get("tone_rise_max_x", 5.0)), 1.3)
    peak_x = ev.peak_uv if ev.peak_uv is not None else float(rng.uniform(1.3, top))
    hf = ev.hf_fraction if ev.hf_fraction is not None else float(rng.uniform(0.3, 0.85))
    t0, t1 = ev.onset_s, ev.onset_s + rise + hold + fade
    i0, i1 = night._i(t0), night._i(t1)
    n = i1 - i0
    if n < 2:
        return
    fs = night.emg_fs
    n_r, n_h = min(round(rise * fs), n), min(round(hold * fs), n)
    shape = np.ones(n, dtype=np.float32)
    shape[:n_r] = _rise_curve(rng, n_r)
    n_f = n - n_r - n_h
    if n_f > 0:
        shape[n - n_f :] = _rise_curve(rng, n_f)[::-1]
    # tone of an arousal or an aborted cramp is irregular, never a steady plateau
    shape *= _fluctuation(night, n, (0.15, 0.5))
    rise_uv = p["rest_calf_uv"] * (peak_x - 1.0)
    a = night._amp_for_rise("emg_calf", rise_uv, hf)
    night.env_lo["emg_calf"][i0:i1] += np.float32(a * math.sqrt(1 - hf)) * shape
    night.env_hi["emg_calf"][i0:i1] += np.float32(a * math.sqrt(hf)) * shape
    if "emg_tibialis" in night.env_lo:  # crosstalk, 2–20 % of the calf's rise
        x = float(np.exp(rng.uniform(math.log(0.02), math.log(0.2))))
        a_t = night._amp_for_rise("emg_tibialis", rise_uv * x, hf)
        night.env_lo["emg_tibialis"][i0:i1] += np.float32(a_t * math.sqrt(1 - hf)) * shape
        night.env_hi["emg_tibialis"][i0:i1] += np.float32(a_t * math.sqrt(hf)) * shape
    n_b, n_fasc = _twitch_bursts(night, t0, rise + hold, hf)
    ending = str(rng.choice(("none", "shift", "movement"), p=(0.65, 0.15, 0.2)))
    night.record(
        TruthEvent(
            "tone_rise",
            t0,
            t1,
            details={
                "peak_x_rest": round(peak_x, 2),
                "rise_s": round(rise, 2),
                "hold_s": round(hold, 2),
                "fade_s": round(fade, 2),
                "hf_fraction": round(hf, 3),
                "twitch_bursts": n_b,
                "fasciculations": n_fasc,
                "ending": ending,
            },
        )
    )
    t_end = t1 - fade * float(rng.uniform(0.0, 0.8))
    if ending == "shift":  # arousal: a small posture shift (both muscles, limb moves)
        _turn_over(night, ScheduledEvent("turn_over", t_end, duration_s=rng.uniform(1.0, 3.0)))
    elif ending == "movement":
        _leg_movement(night, t_end, None, None, None, context="tone_rise")


def _electrode_failing(night: _Night, ev: ScheduledEvent, muscles: list[str]) -> dict:
    """Contact failing over seconds: hum growing from nothing to ``peak`` µV (mains and
    its 3rd harmonic), pops and baseline steps coming more often, slow artefact from
    small movements of the lifted electrode, then recovery (build-up 2–20 s, fade
    2–20 s within the span)."""
    rng, fs = night.rng, night.emg_fs
    dur = ev.duration_s if ev.duration_s is not None else 60.0
    hum = ev.peak_uv if ev.peak_uv is not None else float(rng.uniform(80.0, 800.0))
    build = min(float(rng.uniform(2.0, 20.0)), dur / 3)
    fade = min(float(rng.uniform(2.0, 20.0)), dur / 3)
    i0, i1 = night._i(ev.onset_s), night._i(ev.onset_s + dur)
    n = i1 - i0
    if n < 2:
        return {}
    env = np.ones(n, dtype=np.float32)
    nb, nf = round(build * fs), round(fade * fs)
    env[:nb] = _rise_curve(rng, nb)
    if nf:
        env[n - nf :] = _rise_curve(rng, nf)[::-1]
    f = night.p["mains_hz"]
    ph = float(rng.uniform(0, 2 * np.pi))
    h3 = float(rng.uniform(0.0, 0.4))
    wave = (_sine(n, f, fs, ph) + h3 * _sine(n, 3 * f, fs, 3 * ph)) * env * np.float32(hum)
    # slow artefact of a partly lifted electrode moving with the limb (1–10 Hz)
    art = float(rng.uniform(10.0, 200.0))
    wave += (art * _smooth_noise(rng, n, fs, float(rng.uniform(1.0, 10.0)))).astype(
        np.float32
    ) * env
    # pops and baseline steps, more often as contact worsens (0.2–3 per s at worst)
    rate = float(rng.uniform(0.2, 3.0))
    k = int(rng.poisson(rate * dur * 0.6))
    for t in np.sort(rng.uniform(0, n / fs, k)):
        j = int(t * fs)
        if rng.random() > env[j]:
            continue
        step = float(rng.uniform(20.0, 500.0)) * float(rng.choice([-1.0, 1.0]))
        tau = float(np.exp(rng.uniform(math.log(0.03), math.log(2.0))))
        m = min(n - j, round(5 * tau * fs) + 1)
        wave[j : j + m] += (step * np.exp(-np.arange(m) / (tau * fs))).astype(np.float32)
    for muscle in muscles:
        night.add[muscle][i0:i1] += wave
    # the small movements that lift it
    for t in np.sort(rng.uniform(ev.onset_s, ev.onset_s + dur, int(rng.integers(0, 4)))):
        night.move(float(t), float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.005, 0.04)))
    return {
        "hum_uv": round(hum, 1),
        "build_s": round(build, 2),
        "fade_s": round(fade, 2),
        "pops_per_s": round(rate, 2),
    }


def _pick_muscle(night: _Night, ev: ScheduledEvent, p_both: float) -> list[str]:
    if ev.muscle == "both":
        return list(night.muscles)
    if ev.muscle is not None:
        return [ev.muscle] if ev.muscle in night.muscles else []
    if len(night.muscles) > 1 and night.rng.random() < p_both:
        return list(night.muscles)
    if len(night.muscles) > 1 and night.rng.random() < 0.3:
        return ["emg_tibialis"]
    return ["emg_calf"]


def _signal_issue(night: _Night, ev: ScheduledEvent) -> None:
    rng, fs = night.rng, night.emg_fs
    kind = ev.type
    muscles = _pick_muscle(night, ev, p_both=0.5 if kind in ("flat_line", "mains") else 0.1)
    if not muscles:  # e.g. a tibialis issue scheduled in a night without tibialis
        return
    default_dur = {
        "electrode_off": 60.0,
        "pop": 1.0,
        "flat_line": 20.0,
        "mains": 120.0,
        "electrode_failing": 60.0,
    }
    dur = ev.duration_s if ev.duration_s is not None else default_dur[kind]
    t0, t1 = ev.onset_s, ev.onset_s + dur
    i0, i1 = night._i(t0), night._i(t1)
    details: dict[str, Any] = {"channels": muscles}
    if kind == "electrode_failing":
        details.update(_electrode_failing(night, ev, muscles))
    elif kind == "electrode_off":
        hum = ev.peak_uv if ev.peak_uv is not None else float(rng.uniform(100.0, 800.0))
        flat_s = dur * float(rng.uniform(0.3, 0.7)) if rng.random() < 0.5 else 0.0
        n = i1 - i0
        f = night.p["mains_hz"]
        ph = float(rng.uniform(0, 2 * np.pi))
        wave = (_sine(n, f, fs, ph) + 0.3 * _sine(n, 3 * f, fs, 3 * ph)) * np.float32(hum)
        wave += (float(rng.uniform(50, 300)) * _smooth_noise(rng, n, fs, 2.0)).astype(np.float32)
        n_flat = round(flat_s * fs)
        if n_flat:
            wave[n - n_flat :] = wave[n - n_flat - 1] if n > n_flat else 0.0
        for m in muscles:
            night.replacements.append((m, i0, i1, wave))
        details.update(hum_uv=round(hum, 1), flat_s=round(flat_s, 2))
    elif kind == "pop":
        step = ev.peak_uv if ev.peak_uv is not None else float(rng.uniform(50.0, 1000.0))
        step *= float(rng.choice([-1.0, 1.0]))
        tau = dur / 5
        decay = (step * np.exp(-np.arange(i1 - i0) / (tau * fs))).astype(np.float32)
        for m in muscles:
            night.add[m][i0:i1] += decay
        details.update(step_uv=round(step, 1), tau_s=round(tau, 3))
    elif kind == "flat_line":
        for m in muscles:
            night.replacements.append((m, i0, i1, None))
    elif kind == "mains":
        amp = ev.peak_uv if ev.peak_uv is not None else float(rng.uniform(20.0, 150.0))
        shape = _edges(i1 - i0, round(2 * fs), round(2 * fs)) * np.float32(amp)
        for m in muscles:
            night.mains_amp[m][i0:i1] += shape
        details.update(mains_uv=round(amp, 1))
    night.record(TruthEvent("signal_issue", t0, t1, kind=kind, details=details))


def _stand_up(night: _Night, t_s: float) -> float:
    """Sit up and stand (shank motion, the shin turning upright) from ``t_s``; returns
    how long it took (s), the same for lying down again."""
    rng = night.rng
    before = night.posture
    tr = float(rng.uniform(2.0, 4.0))
    night.move(t_s, tr, float(rng.uniform(0.1, 0.4)), rise_s=0.3)
    night.change_posture(t_s, tr, "standing")
    night.record(
        TruthEvent(
            "position_change",
            t_s,
            t_s + tr,
            kind="stand_up",
            details={"from": before, "to": "standing"},
        )
    )
    return tr


def _stand(night: _Night, t_s: float, dur_s: float) -> None:
    """Quiet standing: it loads the calf with postural, low-frequency activity. The
    tibialis anterior ranges from nearly silent to co-active, drawn per stand: it is
    rarely active in young adults' quiet standing and often in older adults' (dos Anjos
    FV et al., Front Hum Neurosci 2017;11:190), so calf dominance does not tell standing
    from a cramp."""
    rng = night.rng
    night.burst(
        "emg_calf", t_s, dur_s, float(rng.uniform(10.0, 40.0)), 0.15, rise_s=1.0, fall_s=1.0
    )
    night.burst(
        "emg_tibialis", t_s, dur_s, _log_uniform(rng, 0.5, 20.0), 0.15, rise_s=1.0, fall_s=1.0
    )
    night.move(t_s, dur_s, float(rng.uniform(0.01, 0.03)), rise_s=1.0)


def _lie_down(night: _Night, t_s: float, tr_s: float, posture: str) -> None:
    rng = night.rng
    night.move(t_s, tr_s, float(rng.uniform(0.1, 0.4)), rise_s=0.3)
    night.change_posture(t_s, tr_s, posture)
    night.record(
        TruthEvent(
            "position_change",
            t_s,
            t_s + tr_s,
            kind="lie_down",
            details={"from": "standing", "to": posture},
        )
    )


def _walk(night: _Night, t_s: float, dur_s: float) -> None:
    """Walking: each stride a calf burst at push-off and a tibialis burst in swing,
    strongly rhythmic (~1 stride/s), with large shank motion. Gait EMG: Winter DA,
    Yack HJ, Electroencephalogr Clin Neurophysiol 1987;67:402–411."""
    rng = night.rng
    stride_s = float(rng.uniform(1.0, 1.3))
    calf_uv, tib_uv = _log_uniform(rng, 30.0, 300.0), _log_uniform(rng, 20.0, 150.0)
    hf = float(rng.uniform(0.2, 0.45))  # voluntary firing rates
    for k in range(int(dur_s / stride_s)):
        t = t_s + k * stride_s
        jitter = rng.uniform(0.8, 1.2, 2)
        night.burst("emg_calf", t + 0.3 * stride_s, 0.35 * stride_s, calf_uv * jitter[0], hf)
        night.burst("emg_tibialis", t + 0.7 * stride_s, 0.3 * stride_s, tib_uv * jitter[1], hf)
    night.move(t_s, dur_s, float(rng.uniform(0.3, 0.8)), rise_s=0.5)


def _get_up(night: _Night, ev: ScheduledEvent) -> None:
    """Out of bed and back (nocturia: most sleepers over 60 get up at least once a night):
    stand up, walk, stand (or sit), walk back, lie down, often in another posture. The
    calf works the whole time, a cramp is not what it is."""
    rng = night.rng
    t0, before = ev.onset_s, night.posture
    tr = _stand_up(night, t0)
    t = t0 + tr
    phases = (
        (_walk, float(rng.uniform(5.0, 40.0))),
        (_stand, float(rng.uniform(15.0, 150.0))),
        (_walk, float(rng.uniform(5.0, 40.0))),
    )
    for phase, dur in phases:
        phase(night, t, dur)
        t += dur
    after = before if rng.random() < 0.5 else str(rng.choice([x for x in LYING if x != before]))
    _lie_down(night, t, tr, after)
    night.record(TruthEvent("out_of_bed", t0, t + tr))


_HANDLERS = {
    "get_up": _get_up,
    "cramp": _cramp,
    "plm_series": _plm_series,
    "restless_bout": _restless,
    "turn_over": _turn_over,
    "stretch": _stretch,
    "electrode_off": _signal_issue,
    "pop": _signal_issue,
    "flat_line": _signal_issue,
    "mains": _signal_issue,
    "electrode_failing": _signal_issue,
    "tone_rise": _tone_rise,
}


def _assemble_emg(night: _Night, muscle: str, ecg: np.ndarray | None) -> np.ndarray:
    rng, fs, n, p = night.rng, night.emg_fs, night.n_emg, night.p
    top = min(450.0, 0.45 * fs)
    x = _band_noise(rng, n, fs, 20.0, min(120.0, 0.3 * fs))
    x *= night.env_lo.pop(muscle)
    hi = _band_noise(rng, n, fs, min(100.0, 0.25 * fs), top)
    hi *= night.env_hi.pop(muscle)
    x += hi
    del hi
    floor = rng.standard_normal(n, dtype=np.float32)
    floor *= np.float32(p["floor_uv"])
    x += floor
    del floor
    x += (p["wander_uv"] * _smooth_noise(rng, n, fs, 0.3)).astype(np.float32)
    wave = _sine(n, p["mains_hz"], fs, float(rng.uniform(0, 2 * np.pi)))
    wave *= night.mains_amp.pop(muscle)
    x += wave
    del wave
    if ecg is not None:
        x += ecg
    x += night.add.pop(muscle)
    for m, i0, i1, values in night.replacements:
        if m != muscle or i1 <= i0:
            continue
        x[i0:i1] = x[i0] if values is None else values[: i1 - i0]
    return x


def _ecg(night: _Night) -> np.ndarray:
    """QRS-like spikes at the night's heart rate with slow variability, calf only."""
    rng, fs, p = night.rng, night.emg_fs, night.p
    n_beats = int(night.total_s * p["heart_bpm"] / 60 * 1.2) + 2
    slow = 0.05 * _smooth_noise(rng, n_beats, 1.0, 1 / 30)
    rr = 60.0 / p["heart_bpm"] * (1 + slow + 0.02 * rng.standard_normal(n_beats))
    beats = np.cumsum(np.maximum(rr, 0.3))
    beats = beats[beats < night.total_s - 0.1]
    amps = p["ecg_uv"] * (1 + 0.1 * rng.standard_normal(len(beats)))
    out = np.zeros(night.n_emg, dtype=np.float32)
    k = _kernel_qrs(fs)
    idx = np.round(beats * fs).astype(np.int64) - len(k) // 2
    cols = idx[:, None] + np.arange(len(k))[None, :]
    ok = (cols >= 0) & (cols < night.n_emg)
    out[cols[ok]] += (amps.astype(np.float32)[:, None] * k[None, :])[ok]
    return out


def _assemble_acc(night: _Night, rotation: np.ndarray) -> np.ndarray:
    rng, fs, n = night.rng, night.acc_fs, night.n_acc
    g = np.empty((n, 3), dtype=np.float64)
    cur = night.first_vec
    pos = 0
    for t0, t1, vec in sorted(night.posture_changes, key=lambda c: c[0]):
        i0 = min(max(round(t0 * fs), pos), n)
        i1 = min(max(round(t1 * fs), i0), n)
        g[pos:i0] = cur
        if i1 > i0:
            w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(i1 - i0) + 0.5) / (i1 - i0))
            mix = (1 - w)[:, None] * cur[None, :] + w[:, None] * vec[None, :]
            g[i0:i1] = mix / np.linalg.norm(mix, axis=1, keepdims=True).clip(1e-6)
        cur, pos = vec, i1
    g[pos:] = cur
    acc = g @ rotation.T
    move = _band_noise(rng, n, fs, 0.3, min(8.0, 0.4 * fs), shape=(3,))
    acc += move * night.acc_move[:, None]
    acc += night.p["acc_noise_g"] * rng.standard_normal((n, 3))
    return acc


def synthesise(
    rng: np.random.Generator,
    params: dict[str, Any],
    schedule: Sequence[ScheduledEvent],
    *,
    total_s: float,
    emg_fs_hz: float,
    acc_fs_hz: float,
    tibialis: bool,
) -> tuple[dict[str, np.ndarray], tuple[TruthEvent, ...], dict[str, Any]]:
    """Signals (role -> float64), truth (sorted by onset) and derived parameters."""
    night = _Night(rng, params, total_s, emg_fs_hz, acc_fs_hz, tibialis)
    for ev in sorted(schedule, key=lambda e: e.onset_s):
        if ev.type == "leg_movement":
            _leg_movement(night, ev.onset_s, ev.duration_s, ev.peak_uv, ev.hf_fraction)
        else:
            _HANDLERS[ev.type](night, ev)
    # WASM 2016 periodicity over the movements actually placed
    flags = wasm_periodic([t for t, _ in night.lm_onsets])
    for (_, i), flag in zip(night.lm_onsets, flags, strict=True):
        night.truth[i] = replace(night.truth[i], periodic=flag)
    rotation = Rotation.random(random_state=rng).as_matrix()
    signals: dict[str, np.ndarray] = {}
    ecg = _ecg(night)
    for m in list(night.muscles):
        x = _assemble_emg(night, m, ecg if m == "emg_calf" else None)
        signals[m] = x.astype(np.float64)
        del x
    acc = _assemble_acc(night, rotation)
    for j, role in enumerate(("acc_x", "acc_y", "acc_z")):
        signals[role] = np.ascontiguousarray(acc[:, j])
    derived = {
        "first_posture": night.first_posture,
        "mounting_rotation": [[round(float(v), 6) for v in row] for row in rotation],
    }
    truth = tuple(sorted(night.truth, key=lambda e: (e.onset_s, e.type)))
    return signals, truth, derived
