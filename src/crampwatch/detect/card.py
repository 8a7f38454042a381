"""The model card (``crampwatch/models/MODEL_CARD.md``): what the shipped model was trained on
and how well it does."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crampwatch.detect.features import MODEL_FEATURES
from crampwatch.detect.model import CrampModel

__all__ = ["write_model_card"]

_TARGETS = {
    "cramp_sensitivity": ("cramp sensitivity", "≥ 0.95", 3),
    "false_alarms_per_8h": ("false alarms per 8 h", "≤ 0.1", 3),
    "false_alarms_per_100_nights": ("false alarms per 100 nights of 8 h", "soak ≤ 3", 1),
    "warned_before_onset_share": ("prodromal cramps warned before onset", "aim ≥ 0.5", 2),
    "warnings_per_cramp_free_8h": ("cramp_warning per cramp-free 8 h", "aim ≤ a few", 2),
    "latency_p50_s": ("alarm latency p50 (s)", "≤ 3", 2),
    "latency_p95_s": ("alarm latency p95 (s)", "≤ 6", 2),
    "latency_no_prodrome_p50_s": ("— latency p50, cramps without prodrome (s)", "≤ 3", 2),
    "latency_no_prodrome_p95_s": ("— latency p95, cramps without prodrome (s)", "≤ 6", 2),
    "lm_precision": ("leg-movement precision", "", 3),
    "lm_recall": ("leg-movement recall", "", 3),
    "lm_f1": ("leg-movement F1", "≥ 0.9", 3),
    "plm_index_error_per_h": ("PLM-index error (/h)", "≤ 2", 2),
    "lm_f1_tib": ("— LM F1, nights with tibialis", "", 3),
    "lm_f1_calf_only": ("— LM F1, calf-only nights", "", 3),
    "plm_index_error_tib": ("— PLM error, nights with tibialis (/h)", "", 2),
    "plm_index_error_calf_only": ("— PLM error, calf-only nights (/h)", "", 2),
    "latency_p50_s_tib": ("— latency p50, nights with tibialis (s)", "", 2),
    "latency_p95_s_tib": ("— latency p95, nights with tibialis (s)", "", 2),
    "latency_p50_s_calf_only": ("— latency p50, calf-only nights (s)", "", 2),
    "latency_p95_s_calf_only": ("— latency p95, calf-only nights (s)", "", 2),
    "false_alarms_per_8h_tib": ("— false alarms per 8 h, nights with tibialis", "", 3),
    "false_alarms_per_8h_calf_only": ("— false alarms per 8 h, calf-only nights", "", 3),
    "cramps": ("truth cramps", "", 0),
    "hours": ("hours scored", "", 1),
}


def _f(v: Any, d: int) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.{d}f}"
    return str(v)


def _event_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    if not results:
        return "_not evaluated in this run (`--eval-nights 0`)_\n"
    names = list(results)
    lines = ["| metric | target | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key, (label, target, d) in _TARGETS.items():
        lines.append(
            f"| {label} | {target} | "
            + " | ".join(_f(results[n].get(key, float("nan")), d) for n in names)
            + " |"
        )
    lines.append(
        "| false cramps caused by | | "
        + " | ".join(
            ", ".join(f"{k} {v}" for k, v in sorted(results[n]["false_alarm_causes"].items()))
            or "-"
            for n in names
        )
        + " |"
    )
    lines.append(
        "| seeds | | " + " | ".join(str(results[n].get("seeds", "-")) for n in names) + " |"
    )
    return "\n".join(lines) + "\n"


def _frame_table(frames: Mapping[str, Mapping[str, float]]) -> str:
    if not frames:
        return "_no validation nights_\n"
    lines = ["| class | precision | recall | F1 | frames |", "|---|---|---|---|---|"]
    for c, m in frames.items():
        lines.append(
            f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['frames']} |"
        )
    return "\n".join(lines) + "\n"


def write_model_card(
    path: str | Path,
    model: CrampModel,
    *,
    config: Mapping[str, Any],
    frame_metrics: Mapping[str, Mapping[str, float]],
    event_metrics: Mapping[str, Mapping[str, Any]],
    train_command: str,
    eval_command: str,
) -> Path:
    """Write the model card (Markdown) next to the model and return its path."""
    path = Path(path)
    thr = dict(model.thresholds)
    from crampwatch.detect.model import cramp_params

    p = cramp_params(model)
    cfg = "\n".join(f"- **{k}**: {v}" for k, v in config.items())
    text = f"""# crampwatch detector — model card

**Not a medical device.** This model supports a sleep aid that wakes a sleeper at the
start of a nocturnal leg cramp; it does not diagnose anything.

## What it is

A `HistGradientBoostingClassifier` (scikit-learn) over 0.1-s feature frames, classes
`{", ".join(model.classes)}`, saved with **skops** (`crampwatch-detector.skops`; loading
checks the archive's untrusted types against an explicit allow-list and refuses
anything else). Its class probabilities feed a rule-guarded alarm
(`crampwatch.detect.trackers.CrampTracker`) that escalates on evidence and fires on
whichever path completes first:

- **confident**: the cramp probability stays ≥ `p_on` for `k_frames` consecutive
  frames;
- **sustained**: the calf has been tonically active (every frame ≥ {p.active_rel:g} × its
  resting level: the contraction never relaxed) for {p.sustain_s:g} s, and over the last
  {p.share_window_s:g} s the classifier's cramp share among the active classes (cramp /
  (cramp + leg movement + movement + artefact)) averaged ≥ {p.share_on:g} — it does not
  take the contraction for a leg movement, a movement or an artefact even if it is not
  yet sure of a cramp (weak, partial cramps); with a tibialis channel the calf must also
  be ≥ {p.sustain_calf_tib_ratio:g} × as far above rest as the tibialis.

On both paths every frame must pass the guards: calf 1-s envelope ≥ `min_rel1s` × rest;
no gap, flat line, clipping or dominant hum on the calf for {p.clean_s:g} s, no electrode
pop for {p.glitch_clean_s:g} s; shank motion over the last second < {p.max_motion_g:g} g
**and** ≤ {p.still_ratio:g} × its own resting level + {p.still_margin_g:g} g (a still leg,
whatever the accelerometer's noise), over the first {p.onset_window_s:g} s of the calf's
rise < {p.max_onset_motion_g:g} g; with a tibialis channel the calf ≥
{p.min_calf_tib_ratio:g} × as far above rest as the tibialis; without one, the calf
continuously active for {p.calf_only_min_active_s:g} s with the shank still over the
contraction so far (its mean motion power over at most the last {p.still_window_s:g} s
within ({p.still_excess_g:g} g)² of its floor, the median 1-s motion power of the last 30
seconds with the calf relaxed; powers add, so on a 0.035-g floor that allows 0.038 g
RMS), and the shin not upright
(a leg movement that also fires the calf looks like a cramp's first seconds when the
tibialis is not seen: its brevity and the shank's small motion, which shows in the
power averaged over seconds even on a noisy accelerometer, tell it apart; standing
keeps the calf working, and the shin's long axis, learned from the lying postures of
the night, tells standing or sitting from lying). One alarm per contraction: a calf
that stays active after a cramp ends (standing on the leg) must relax before it can
alarm again.
Otherwise it abstains.

**The alarm is for the cramp itself** (issue 13): on both paths the contraction must
also have reached cramp force and hold it, judged against the night's own resting
level and the contraction's own course (never in µV): the 1-s envelope ≥
{p.cramp_rel:g} × rest on every frame of the last {p.hold_s:g} s, reached within seconds
(≥ {p.jump_ratio:g} × the 1-s envelope {p.rise_allow_s:g} s before the hold began: a
slow creep over tens of seconds is a tone rise, a cramp jumps above whatever preceded
it); or, for a partial cramp, ≥ `min_rel1s` × rest for {p.weak_hold_s:g} s, steady
(lowest 1-s envelope ≥ {p.steady_ratio:g} × highest), ≥ {p.weak_jump_ratio:g} × the
level before, and on the confident path only. Resolving calf tone rises (1.3–5 × rest,
twitching, fluctuating) never reach that; they may give a `cramp_warning`. No alarm
for {p.trouble_clean_s:g} s after the calf's hum grew fast (electrode coming loose), nor
while a calf signal issue is open (until 20 s clean) or hum dominates.

`cramp_warning` ("calf tightening", informative): the calf's 1-s envelope ≥
{p.warn_rel:g} × rest for {p.warn_s:g} s on a still, lying, calf-dominated leg with a
clean signal, outside a cramp; ends when the calf relaxes or a cramp alarm starts (the
cramp keeps its own alarm). Leg movements,
periodicity, position changes and signal issues are rule-based (WASM 2016 / AASM,
gravity angle, quality fractions) and do not depend on the classifier.

Alarm thresholds (chosen on validation nights, never on evaluation nights):
`{thr}`

## Training data

{cfg}

Reproduce: `{train_command}` (also `make model`; writes `src/crampwatch/models/`).
Simulated nights mix EMG rates 200/500/1000/2000 Hz and accelerometer 25/50/100 Hz
(drawn from each seed by `crampwatch.detect.training.night_config`); every seed with
`seed % 3 == 2` has no tibialis channel (calf + accelerometer only); cramps are made
more frequent (boost) so that the classifier sees enough onsets. Frame labels come
from the truth intervals (priority signal issue > cramp > turning/stretch > leg
movement > restless bout > rest); prodrome frames are left out (weight 0) and the
first 6 s of each cramp weigh 4×.

## Features ({len(model.features)})

Unit-free by design — ratios of each EMG envelope to its own running resting level
(log10, current/1 s/3 s, 1-s minimum, 3-s spread, 1-s rise, time continuously active),
spectral shape (zero crossings, slope sign changes, mean/median frequency,
high-frequency share), quality fractions (saturation, flat line, mains, pops), the
calf/tibialis ratio, shin motion relative to its own resting level (log10: now, 1 s,
3-s peak and mean), tilt (degrees), gap and tibialis-present flags.
Absolute µV amplitudes are **not** model inputs (they differ between amplifiers,
electrodes and people; the simulator's scale must not be learned), nor is absolute
shin motion in g: at rest it is the accelerometer's own noise, which differs between
sensors by an order of magnitude (a model that learned it called a still, cramping
leg on a noisy sensor a leg movement for seconds).

`{", ".join(MODEL_FEATURES)}`

## Frame classifier on validation nights (per class)

{_frame_table(frame_metrics)}
## Event-level metrics on held-out nights (never seen in training or validation)

Command: `{eval_command}` (seeds 20000+ in distribution, 30000+ shifted: other noise
levels, 60 Hz mains, EMG 250/400/800/1600 Hz, accelerometer 20/32/64/200 Hz, more
electrode artefacts and confounders).

{_event_table(event_metrics)}
Evaluation nights are random simulated nights of the given variant with the cramp
rate multiplied by 4 (more onsets to score; every other event keeps its natural rate),
so false alarms per 8 h are measured over the same confounders as a normal night.

Matching (see `crampwatch.detect.metrics`): an alarm is a hit when its time lies within
[truth onset − prodrome − 5 s, truth end]; latency = alarm time − truth onset of the
sustained contraction (negative: the alarm came during the prodromal rise, which the
simulator places before half of the training-variant cramps); leg movements match on
interval overlap. The frame classifier's leg-movement/movement/artefact classes are
weak (table above) but unused for those events, which are rule-based.

Speed: `bench/bench_detect.py` (8-h night, 1 kHz calf + tibialis, accelerometer
100 Hz, reading the EDF included, one core): see the README for the current figure
(target 3,000×).

The `soak` columns are the **no-cramp soak**: cramp-free simulated nights of 8 h on
held-out seeds (50000+ in distribution, 51000+ shifted, 52000+ shifted without the
tibialis), run once for this card; false alarms are reported per 100 nights of 8 h with
their causes (the truth event at the alarm time). The simulator's nights hold the
cramp's look-alikes: resolving calf tone rises (2–10 a night in distribution, 4–16
shifted), electrode contact failing over seconds, and per-event randomised shapes of
every event family (`crampwatch.simulate.params`). Development of the issue-13 rule used
seeds 40000–45999 only.

## Known limits

- Trained and evaluated on simulated nights only; real nights differ (other
  artefacts, partial cramps in other muscles, bilateral movements). Retrain with
  labelled EDF+ nights: `crampwatch train --from-edf DIR`.
- One leg per sensor set: bilateral movements (15-s limit) need both legs' events.
- The alarm needs cramp force relative to the night's resting level ({p.cramp_rel:g} ×
  rest held {p.hold_s:g} s): a clear cramp alarms about 1.5 s later than it would
  without the hold; a partial cramp below that alarms only after holding steady for
  {p.weak_hold_s:g} s with the classifier sure (the shifted p95 latency shows it), and
  one that fluctuates like a tone is missed. A real cramp that builds slowly over
  tens of seconds without a jump is taken for a tone rise (a `cramp_warning` only).
  Calf tone rises that jump within seconds to ≥ {p.cramp_rel:g} × rest and hold would
  alarm: the simulator's do not (≤ 5–6 × rest), real ones are unmeasured.
- The alarm waits for sustained calf activity (1-s envelope ≥ `min_rel1s` × rest):
  very short cramps (< 2 s) are missed; cramps that start with shin motion > 0.1 g are
  vetoed by design (voluntary movement) and would be missed; a shank moving above its
  resting level holds the alarm back until it is still.
- Without the tibialis channel a leg movement that also fires the calf looks, in its
  first seconds, like a cramp's onset (similar spectrum; on a noisy accelerometer the
  shank's small movement is lost in one second of noise). The calf-only alarm therefore
  waits until the calf has been active for {p.calf_only_min_active_s:g} s with a still
  shank before its evidence counts (then `k_frames` confident frames): calf-only alarms
  come about 4 s after the onset instead of 0.5–2 s (rows above). The stillness limit
  (motion power ({p.still_excess_g:g} g)² above the floor's, over the three axes) sits
  between the simulator's cramping shank (≤ 0.006 g RMS per axis) and its leg movements
  (≥ 0.01 g per axis); a cramp that moves the shank more than that is held back until
  up to {p.still_window_s:g} s after the motion stops, and a leg movement that moves it
  less can still raise a false alarm. Frames within 3 s of an accelerometer gap are
  left out; with too few left, and in the first seconds of a recording (the floor needs
  5 relaxed seconds), the wait alone applies.
- The upright test (calf-only) needs two lying postures of the night that are not
  mirror images (back and front, or left and right side, lie on one line), the second
  held for at least 5 % of the lying time so far (after 3 h on the back: about 10
  minutes on a side), each counted once held still for a minute. Until then standing is
  not recognised. Lying postures off the shin's circle (on the back with the knees
  drawn up) make the axis uncertain, and it is then not used; a frame counts as upright
  only within 30° of the axis (standing, sitting with the feet down), so knees drawn up
  are not. Time spent upright with a relaxed calf and a still shank (sitting on the
  edge of the bed) counts as a lying posture: after enough of it, the axis can come out
  wrong for the first minutes in a lying posture not seen before that night, and a
  calf-only alarm is then held back until the posture has been held a while. A sensor
  that slips round the shin keeps its axis; one that is taken off and strapped on at
  another angle mid-night can hold calf-only alarms back for minutes, until the new
  postures outweigh the old.
- Without the tibialis channel, leg movements are scored on the calf EMG. Leg
  movements are tibialis-dominant (dorsiflexion): in calf EMG they are weaker by
  2–10× and the small ones stay under the 8-µV onset, so calf-only LM recall and the
  PLM index are much worse (see the calf-only rows: the PLM index is under-counted);
  the PLM index needs the tibialis channel.
- EMG in unknown or uncalibrated units (device counts, a nominal scale):
  `StreamingDetector(emg_units_known=False)` / `crampwatch detect --emg-units unknown`
  (automatic for an EDF whose EMG unit is counts or empty) scores leg movements
  relative to the running resting level (onset at 5 × rest, offset ≤ 2 × rest for
  0.5 s: 8 µV / 2 µV above a nominal 2-µV rest); the resting level of real amplifiers
  differs, so onset/offset in µV terms vary with it.
"""
    path.write_text(text)
    return path
