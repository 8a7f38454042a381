"""Per-night parameters of the simulator, drawn from the seed.

Every night draws its own resting level, noise, mains, ECG, event rates and event
amplitudes, because real nights and people differ widely and a detector trained on one
narrow setting learns shortcuts. ``variant="shifted"`` draws from deliberately
different ranges (an out-of-distribution held-out set). Where a shifted range has two
parts, a coin decides which one a night uses. Amplitudes are RMS of the EMG in µV
(the envelope a detector sees); counts "per night" are for 8 h and scale with the
length of the night.

| parameter | train | shifted | basis |
|---|---|---|---|
| ``rest_uv`` resting EMG RMS, µV | 1–4 | 0.5–1 or 4–7 | [1] < 10 µV p-p; [2] |
| ``floor_uv`` amplifier white noise RMS, µV | 0.3–1.2 | 1.2–2.5 | [3] |
| ``wander_uv`` baseline wander < 0.5 Hz, µV | 2–15 | 15–40 | skin/cable drift |
| ``mains_hz`` | 50 | 60 | ``mains_hz=`` overrides |
| ``mains_uv`` background hum, µV | 0.2–3 | 3–12 | imperfect CMRR |
| ``ecg_uv`` QRS in the calf channel, µV | 3–20 | 20–45 | [1] ECG artefact |
| ``heart_bpm`` | 50–80 | 42–50 or 80–95 | sleeping adults |
| ``acc_noise_g`` accelerometer noise RMS | 0.002–0.008 | 0.008–0.02 | [4] |
| ``cramp_peak_uv`` sustained cramp, µV | 25–600 (log) | 15–25 or 600–1000 | [5] |
| ``cramp_hf`` high-band power share | 0.6–0.85 | 0.5–0.65 | [6] [7] |
| ``cramps_per_night`` mean (train ≥ 1) | 1–4 | 0.5–6 | [8] |
| ``cramp_median_s`` median duration, s | 60–240 | 20–60 or 240–420 | [5] [8] |
| ``p_prodrome`` share with prodrome | 0.5 | 0.3 | [5] ~40 s rise |
| ``p_fasciculation`` share with twitches | 0.3 | 0.6 | [9] |
| ``lm_peak_uv`` LM rise (tibialis), µV | 12–150 | 10–12 or 150–300 | [2] ≥ 8 µV |
| ``lm_hf`` high-band share, LMs/turns | 0.3–0.5 | 0.45–0.6 | voluntary-like |
| ``stretch_peak_uv`` stretch (calf), µV | 20–400 | 15–20 or 400–800 | overlaps cramps |
| ``stretch_hf`` high-band share, stretch | 0.05–0.3 | 0.25–0.45 | [6] voluntary |
| ``isolated_lm_per_h`` | 2–20 | 20–40 | [2] |
| ``plm_series_per_night`` | 0–4 | 3–8 | [2] |
| ``plm_interval_s`` onset to onset, s | 20–40 | 12–20 or 40–70 | [2] 10–90 s |
| ``turns_per_h`` | 1–4 | 4–7 | [10] |
| ``stretches_per_night`` | 0–4 | 3–8 | |
| ``restless_per_night`` awake RLS bouts | 0–2 | 1–4 | [11] |
| ``pops_per_h`` | 0–2 | 2–8 | |
| ``electrode_off_per_night`` | 0–1 | 1–3 | |
| ``flat_per_night`` | 0–1 | 1–2 | |
| ``mains_surges_per_night`` | 0–1 | 1–3 | |
| ``tone_rises_per_night`` resolving calf tone rises | 2–10 | 4–16 | [9] [12] [13] |
| ``tone_rise_max_x`` largest rise, × resting level | 1.3–5 | 1.3–6 | [13] |
| ``electrode_failing_per_night`` contact failing over s | 0–1.5 | 1–3 | [14] |
| ``get_ups_per_night`` out of bed and back (walk, stand) | 0–2 | 1–4 | [15] |

*Tone rises that resolve* are the cramp's look-alikes: the calf's activity creeps up
over 5–120 s to 1.3–5× its resting level (per event, up to the night's
``tone_rise_max_x``), with the irregular twitching and fasciculation bursts that also
precede cramps [9], holds for seconds to a minute and fades over 5–60 s; no cramp
follows. Some end in a small posture shift or a brief leg movement, as an arousal does
[12]; most end in nothing. Their rise curve, spectrum, fluctuation, twitch rate and
calf/tibialis crosstalk are drawn per event, overlapping the cramp's, so that only
what a cramp physiologically is — a contraction far above resting tone that reaches
its force within seconds and holds it — tells them apart. *Electrode contact failing*
builds up over seconds: mains hum grows from nothing to hundreds of µV, pops and
baseline steps come more often, small movements of a partly lifted electrode add slow
artefact, then contact recovers (or the electrode comes off) [14].

Per event, amplitudes and durations vary around the night's value (log-normal spread),
so partial cramps, stretches and leg movements overlap in amplitude: duration,
sustainedness, calf/tibialis ratio, spectrum and limb movement separate them.

Sources:

1. AASM Manual for the Scoring of Sleep and Associated Events (v2.6, 2020): leg EMG
   resting level, ECG artefact in leg EMG.
2. Ferri R et al. World Association of Sleep Medicine (WASM) 2016 standards for
   recording and scoring leg movements in polysomnograms. Sleep Med 2016;26:86–95:
   LM 0.5–10 s, onset ≥ 8 µV above resting EMG, offset ≤ 2 µV above for ≥ 0.5 s; PLM
   series ≥ 4 LMs, onset-to-onset 10–90 s (typically 20–40 s).
3. Biopotential front-end input noise, typically 0.5–2 µV RMS over 20–500 Hz.
4. MEMS accelerometer noise density 150–400 µg/√Hz (ADXL345, LIS3DH data sheets).
5. crampwatch issue #2: partial cramps of tens of µV to full ones of hundreds;
   episodes of seconds to minutes, averaging several minutes; a pilot study saw calf
   EMG rise ~40 s before the sleeper woke.
6. Surface EMG band 20–450 Hz: Hermens HJ et al., SENIAM (2000); De Luca CJ, J Appl
   Biomech 1997;13:135–163.
7. Cramp discharges fire at 40–150 Hz, above voluntary rates: Norris FH et al.,
   Electroencephalogr Clin Neurophysiol 1957;9:139–147; Bertolasi L et al., Ann Neurol
   1993;33:176–180.
8. Allen RE, Kirby KA. Nocturnal leg cramps. Am Fam Physician 2012;86:350–355.
9. Minetto MA et al. Origin and development of muscle cramps. Exerc Sport Sci Rev
   2013;41:3–10 (fasciculations before cramps).
10. De Koninck J et al. Sleep positions and position shifts in five age groups.
    Sleep 1992;15:143–149.
11. Allen RP et al. (IRLSSG) diagnostic criteria for RLS, Sleep Med 2014;15:860–873:
    urge to move at rest, in the evening.
12. AASM Manual (v2.6): arousals come with increases of EMG tone and often with leg
    movements or a posture shift; Halász P et al., J Sleep Res 2004;13:1–23 (arousal
    micro-structure, several per hour in healthy sleep).
13. crampwatch issue #13: on independent nights, slow calf tone rises of tens of
    seconds to a few times rest, with twitching, that faded without a cramp were more
    frequent than cramps; Miller TM, Layzer RB. Muscle cramps. Muscle Nerve
    2005;32:431–442 (cramp-prone muscles show fasciculations and aborted cramps).
14. Electrode–skin impedance rising as gel dries or an electrode lifts raises the
    common-mode (mains) pick-up and motion artefact: Webster JG, Medical
    Instrumentation (4th ed., 2010), ch. 5; Tam H, Webster JG, IEEE TBME
    1977;24:134–137 (motion artefact, skin stretch).
15. Bosch JLHR, Weiss JP. The prevalence and causes of nocturia. J Urol
    2010;184:440–446 (getting up to void at least once a night: most adults over 60).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["RANGES", "VARIANTS", "draw_params"]

VARIANTS: tuple[str, ...] = ("train", "shifted")

Interval = tuple[float, float]

# name -> (train ranges, shifted ranges, log-uniform?)
RANGES: dict[str, tuple[list[Interval], list[Interval], bool]] = {
    "rest_uv": ([(1.0, 4.0)], [(0.5, 1.0), (4.0, 7.0)], True),
    "floor_uv": ([(0.3, 1.2)], [(1.2, 2.5)], True),
    "wander_uv": ([(2.0, 15.0)], [(15.0, 40.0)], True),
    "mains_uv": ([(0.2, 3.0)], [(3.0, 12.0)], True),
    "ecg_uv": ([(3.0, 20.0)], [(20.0, 45.0)], True),
    "heart_bpm": ([(50.0, 80.0)], [(42.0, 50.0), (80.0, 95.0)], False),
    "acc_noise_g": ([(0.002, 0.008)], [(0.008, 0.02)], True),
    "cramp_peak_uv": ([(25.0, 600.0)], [(15.0, 25.0), (600.0, 1000.0)], True),
    "cramp_hf": ([(0.6, 0.85)], [(0.5, 0.65)], False),
    "cramps_per_night": ([(1.0, 4.0)], [(0.5, 6.0)], False),
    "cramp_median_s": ([(60.0, 240.0)], [(20.0, 60.0), (240.0, 420.0)], True),
    "p_prodrome": ([(0.5, 0.5)], [(0.3, 0.3)], False),
    "p_fasciculation": ([(0.3, 0.3)], [(0.6, 0.6)], False),
    "lm_peak_uv": ([(12.0, 150.0)], [(10.0, 12.0), (150.0, 300.0)], True),
    "lm_hf": ([(0.3, 0.5)], [(0.45, 0.6)], False),
    "stretch_peak_uv": ([(20.0, 400.0)], [(15.0, 20.0), (400.0, 800.0)], True),
    "stretch_hf": ([(0.05, 0.3)], [(0.25, 0.45)], False),
    "isolated_lm_per_h": ([(2.0, 20.0)], [(20.0, 40.0)], False),
    "plm_series_per_night": ([(0.0, 4.0)], [(3.0, 8.0)], False),
    "plm_interval_s": ([(20.0, 40.0)], [(12.0, 20.0), (40.0, 70.0)], False),
    "turns_per_h": ([(1.0, 4.0)], [(4.0, 7.0)], False),
    "stretches_per_night": ([(0.0, 4.0)], [(3.0, 8.0)], False),
    "restless_per_night": ([(0.0, 2.0)], [(1.0, 4.0)], False),
    "pops_per_h": ([(0.0, 2.0)], [(2.0, 8.0)], False),
    "electrode_off_per_night": ([(0.0, 1.0)], [(1.0, 3.0)], False),
    "flat_per_night": ([(0.0, 1.0)], [(1.0, 2.0)], False),
    "mains_surges_per_night": ([(0.0, 1.0)], [(1.0, 3.0)], False),
    "tone_rises_per_night": ([(2.0, 10.0)], [(4.0, 16.0)], False),
    "tone_rise_max_x": ([(1.3, 5.0)], [(1.3, 6.0)], False),
    "electrode_failing_per_night": ([(0.0, 1.5)], [(1.0, 3.0)], False),
    "get_ups_per_night": ([(0.0, 2.0)], [(1.0, 4.0)], False),
}

DEFAULT_MAINS_HZ = {"train": 50.0, "shifted": 60.0}


def _draw(rng: np.random.Generator, ranges: list[Interval], log: bool) -> float:
    lo, hi = ranges[int(rng.integers(len(ranges)))] if len(ranges) > 1 else ranges[0]
    if lo == hi:
        return float(lo)
    if log:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def draw_params(
    rng: np.random.Generator, variant: str = "train", mains_hz: float | None = None
) -> dict[str, Any]:
    """One night's parameters (a flat JSON-friendly dict), see the module table."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    params: dict[str, Any] = {"variant": variant}
    for name, (train_ranges, shifted_ranges, log) in RANGES.items():
        params[name] = _draw(rng, train_ranges if variant == "train" else shifted_ranges, log)
    # the two muscles of one person differ a little, not wildly
    params["rest_tibialis_uv"] = params["rest_uv"] * float(rng.uniform(0.7, 1.3))
    params["rest_calf_uv"] = params.pop("rest_uv")
    params["rest_hf"] = float(rng.uniform(0.3, 0.5))
    params["mains_hz"] = float(mains_hz if mains_hz is not None else DEFAULT_MAINS_HZ[variant])
    return params
