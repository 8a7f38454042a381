"""A simulated polysomnogram (PSG): both legs' tibialis EMG, EEG/EOG/chin/ECG, a hypnogram.

What a sleep lab records: no shin accelerometer and no calf channel, but ``Leg L`` and
``Leg R`` (tibialis anterior EMG, 1-s data records), the hypnogram as EDF+ annotations
(``Sleep stage W/1/2/3/R``, 30-s epochs, runs merged) and channels crampwatch does not
use (EEG, EOG, chin EMG, ECG: noise here, so that label matching has to ignore them).

Each leg's EMG is a night of the crampwatch simulator (:func:`simulate_night` with a
schedule of leg movements only, so its EMG model, noise and hum are the same); leg
movements are placed as periodic series and isolated movements (0.6-6 s, 12-80 µV RMS),
each on the left, the right or both legs (the second leg mostly overlapping the first,
sometimes starting 0.2-1 s after its end: either side of the 0.5-s bilateral limit),
and the heart's QRS on both legs' electrodes (ECG artefact, 0-20 µV).

Truth (:class:`PsgNight`): every leg's movements, the combined movements (WASM 2016:
legs' movements that overlap or lie < 0.5 s apart are one movement; written out here,
independently of the detector) and which of them are periodic, with the PLMS index
per hour of sleep from the hypnogram.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from crampwatch.recordings.edf_header import signal_spec
from crampwatch.recordings.hypnogram import SLEEP_STAGES
from crampwatch.simulate.events import ScheduledEvent, TruthEvent, wasm_periodic
from crampwatch.simulate.night import simulate_night

__all__ = ["PSG_LABELS", "PsgNight", "simulate_psg", "write_psg"]

PSG_LABELS = {"left": "Leg L", "right": "Leg R"}
_STAGE_TEXT = {"W": "Sleep stage W", "N1": "Sleep stage 1", "N2": "Sleep stage 2"} | {
    "N3": "Sleep stage 3",
    "R": "Sleep stage R",
}


@dataclass(frozen=True, eq=False)
class PsgNight:
    """A simulated PSG and its truth.

    ``legs``: leg -> tibialis EMG (µV) at ``emg_fs_hz``; ``movements``: leg -> truth
    movements (the simulator's ``leg_movement`` truth, 0.6-6 s: all candidates);
    ``combined``: ``(onset_s, end_s, parts)`` of the combined movements (parts > 1:
    bilateral); ``hypnogram``: ``(onset_s, end_s, stage)`` runs; ``periodic_onsets_s``:
    onsets of the periodic combined movements; ``plms_index``: periodic combined
    movements in sleep per hour of sleep.
    """

    legs: dict[str, np.ndarray]
    emg_fs_hz: float
    movements: dict[str, list[TruthEvent]]
    combined: list[tuple[float, float, int]]
    hypnogram: list[tuple[float, float, str]]
    periodic_onsets_s: list[float]
    start_time: datetime
    duration_s: float

    @property
    def sleep_hours(self) -> float:
        return sum(b - a for a, b, s in self.hypnogram if s in SLEEP_STAGES) / 3600.0

    @property
    def plms_index(self) -> float:
        """Truth PLMS index: periodic combined movements during sleep per hour of sleep."""
        n = sum(1 for t in self.periodic_onsets_s if self.stage_at(t) in SLEEP_STAGES)
        return n / self.sleep_hours if self.sleep_hours > 0 else 0.0

    def stage_at(self, t_s: float) -> str:
        for a, b, s in self.hypnogram:
            if a <= t_s < b:
                return s
        return ""


def _hypnogram(total_s: float, rng: np.random.Generator) -> list[tuple[float, float, str]]:
    """Runs of 30-s epochs: wake at lights-off, 90-min cycles (N1, N2, N3, N2, REM and a
    brief awakening), wake at the end."""
    cycle = [("N1", 5), ("N2", 25), ("N3", 20), ("N2", 15), ("R", 20), ("W", 5)]
    lights_on_s = total_s - min(300.0, 0.1 * total_s)  # awake at the end
    falling_asleep_min = min(10 + int(rng.integers(0, 10)), max(1, int(total_s / 600)))
    runs, t = [("W", falling_asleep_min)], 0.0
    while sum(m for _, m in runs) * 60 < lights_on_s:
        runs += [(s, max(1, m + int(rng.integers(-2, 3)))) for s, m in cycle]
    out = []
    for stage, minutes in runs:
        end = min(lights_on_s, t + minutes * 60.0)
        if end > t:
            out.append((t, end, stage))
        t = end
    out.append((lights_on_s, total_s, "W"))
    return out


def _movement_plan(
    total_s: float, rng: np.random.Generator
) -> dict[str, list[tuple[float, float, float]]]:
    """leg -> ``(onset_s, duration_s, peak_uv)``: periodic series (onset-to-onset 15-40 s)
    and isolated movements, each on one leg or both. The pauses between them are drawn
    per night (x1, x3 or x8) so that nights range from severe PLMs (PLMS index ~60/h)
    to few (~5/h), where an error of 2/h matters most."""
    plan: dict[str, list[tuple[float, float, float]]] = {"left": [], "right": []}
    pause = float(rng.choice([1.0, 3.0, 8.0]))

    def place(onset: float) -> None:
        side = str(rng.choice(["left", "right", "both"], p=[0.3, 0.3, 0.4]))
        first = str(rng.choice(["left", "right"])) if side == "both" else side
        dur = float(rng.uniform(0.6, 6.0))
        plan[first].append((onset, dur, float(rng.uniform(12.0, 80.0))))
        if side != "both":
            return
        # the other leg: mostly overlapping, sometimes just before or after the 0.5-s
        # bilateral limit (the hard cases of the rule)
        if rng.random() < 0.75:
            start = onset + dur * float(rng.uniform(0.0, 0.9))
        else:
            start = onset + dur + float(rng.uniform(0.2, 1.0))
        other = "right" if first == "left" else "left"
        plan[other].append((start, float(rng.uniform(0.6, 6.0)), float(rng.uniform(12.0, 80.0))))

    t = min(120.0, 0.1 * total_s)
    while t < total_s - 60.0:
        if rng.random() < 0.6:  # a periodic series
            count = int(rng.integers(5, 25))
            interval = float(rng.uniform(15.0, 40.0))
            for k in range(count):
                onset = t + k * interval + float(rng.uniform(-1.5, 1.5))
                if onset < total_s - 30.0:
                    place(onset)
            t += count * interval + pause * float(rng.uniform(120.0, 600.0))
        else:  # isolated movements (> 90 s apart: never periodic)
            place(t)
            t += pause * float(rng.uniform(100.0, 300.0))
    return plan


def simulate_psg(hours: float, seed: int, *, emg_fs_hz: float = 500.0) -> PsgNight:
    """Simulate a two-leg PSG night of ``hours`` (whole seconds) for ``seed``."""
    total_s = float(max(60, round(hours * 3600)))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 15]))
    plan = _movement_plan(total_s, rng)
    start = datetime(2025, 3, 3, 22, 0, tzinfo=UTC) + timedelta(minutes=int(rng.integers(0, 60)))
    legs: dict[str, np.ndarray] = {}
    movements: dict[str, list[TruthEvent]] = {}
    for i, leg in enumerate(("left", "right")):
        schedule = [
            ScheduledEvent("leg_movement", onset, duration_s=dur, peak_uv=peak)
            for onset, dur, peak in plan[leg]
        ]
        night = simulate_night(
            total_s / 3600.0,
            seed * 2 + i,
            emg_fs_hz=emg_fs_hz,
            acc_fs_hz=10.0,
            schedule=schedule,
            start_time=start,
        )
        legs[leg] = night.recording.signals["emg_tibialis"]
        movements[leg] = list(night.of_type("leg_movement"))
    _add_ecg_artefact(legs, float(emg_fs_hz), rng)
    combined = _combined(movements)
    flags = wasm_periodic([a for a, _, _ in combined])
    periodic = [a for (a, _, _), f in zip(combined, flags, strict=True) if f]
    return PsgNight(
        legs=legs,
        emg_fs_hz=float(emg_fs_hz),
        movements=movements,
        combined=combined,
        hypnogram=_hypnogram(total_s, rng),
        periodic_onsets_s=periodic,
        start_time=start,
        duration_s=total_s,
    )


def _add_ecg_artefact(legs: dict[str, np.ndarray], fs_hz: float, rng: np.random.Generator) -> None:
    """The heart seen on the leg electrodes, as in most PSGs: one biphasic QRS-like
    pulse (derivative of a 10-ms Gaussian) per beat, 55-75 beats/min with ±5 %
    beat-to-beat variation, peaking at 0-20 µV per leg. Leg movements are scored above
    the resting level that the artefact is part of."""
    n = min(x.size for x in legs.values())
    rate_hz = float(rng.uniform(55.0, 75.0)) / 60.0
    beats = np.cumsum(rng.uniform(0.95, 1.05, int(n / fs_hz * rate_hz) + 2) / rate_hz)
    t = np.arange(-0.04, 0.04, 1.0 / fs_hz)
    pulse = -t / 0.01 * np.exp(0.5 - 0.5 * (t / 0.01) ** 2)  # peak 1 at t = ±10 ms
    starts = np.round(beats * fs_hz).astype(np.int64)
    starts = starts[starts + pulse.size <= n]
    idx = (starts[:, None] + np.arange(pulse.size)).ravel()
    for x in legs.values():
        np.add.at(x, idx, np.tile(pulse, starts.size) * float(rng.uniform(0.0, 20.0)))


def _combined(movements: dict[str, list[TruthEvent]]) -> list[tuple[float, float, int]]:
    """WASM 2016: movements on the two legs that overlap or lie less than 0.5 s apart
    (offset of one to onset of the next) are one movement; ``(onset, end, parts)``."""
    spans = sorted((e.onset_s, e.end_s) for evs in movements.values() for e in evs)
    out: list[list[float]] = []
    for a, b in spans:
        if out and a < out[-1][1] + 0.5:
            out[-1][1] = max(out[-1][1], b)
            out[-1][2] += 1
        else:
            out.append([a, b, 1])
    return [(a, b, int(n)) for a, b, n in out]


def _noise(rng: np.random.Generator, n: int, rms: float, smooth: int) -> np.ndarray:
    x = rng.standard_normal(n + smooth)
    x = np.convolve(x, np.ones(smooth) / np.sqrt(smooth), mode="valid")[:n]
    return rms * x


def write_psg(
    night: PsgNight,
    path: str | Path,
    *,
    labels: dict[str, str] | None = None,
    hypnogram: str = "annotations",
    gap_s: tuple[float, float] | None = None,
) -> Path:
    """Write ``night`` as a PSG EDF+ with 1-s data records: EEG Fpz-Cz and EOG (100 Hz),
    chin EMG and ECG (at the EMG rate, noise and QRS spikes), the legs' EMG labelled
    ``labels`` (default ``Leg L``/``Leg R``).

    ``hypnogram``: ``"annotations"`` (in the file), ``"file"`` (a Sleep-EDF style
    ``<base>-Hypnogram.edf`` beside it; the PSG is then named ``<base>-PSG.edf`` if
    ``path`` is) or ``"none"``. ``gap_s``: ``(start, end)`` whole seconds left out, as
    an EDF+D (discontinuous) file.
    """
    import edfio

    path = Path(path)
    labels = {**PSG_LABELS, **(labels or {})}
    rng = np.random.default_rng(7)
    n_s = int(night.duration_s)
    fs = night.emg_fs_hz
    n = round(n_s * fs)
    ecg = _noise(rng, n, 8.0, 5)
    beat = np.arange(0, n, int(fs * 0.9))
    ecg[beat] += 800.0
    leg_uv = signal_spec("emg_tibialis").physical_max  # the range crampwatch writes
    signals = [
        ("EEG Fpz-Cz", 100.0, _noise(rng, n_s * 100, 20.0, 4), 500.0),
        ("EOG horizontal", 100.0, _noise(rng, n_s * 100, 30.0, 8), 800.0),
        ("EMG chin", fs, _noise(rng, n, 4.0, 1), 1000.0),
        ("ECG", fs, ecg, 2000.0),
        *((labels[leg], fs, night.legs[leg][:n], leg_uv) for leg in ("left", "right")),
    ]
    anns = []
    if hypnogram == "annotations":
        anns = [edfio.EdfAnnotation(a, b - a, _STAGE_TEXT[s]) for a, b, s in night.hypnogram]
    edf = edfio.Edf(
        [
            edfio.EdfSignal(
                np.clip(x, -lim, lim),
                sampling_frequency=rate,
                label=label,
                physical_dimension="uV",
                physical_range=(-lim, lim),
            )
            for label, rate, x, lim in signals
        ],
        recording=edfio.Recording(startdate=night.start_time.date()),
        starttime=night.start_time.time().replace(tzinfo=None),
        data_record_duration=1.0,
        annotations=anns,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edf.write(path)
    if gap_s is not None:
        _cut_records(path, int(gap_s[0]), int(gap_s[1]))
    if hypnogram == "file":
        stem = path.stem[:-4] if path.stem.endswith("-PSG") else path.stem
        hyp = edfio.Edf(
            [],
            recording=edfio.Recording(startdate=night.start_time.date()),
            starttime=night.start_time.time().replace(tzinfo=None),
            annotations=[
                edfio.EdfAnnotation(a, b - a, _STAGE_TEXT[s]) for a, b, s in night.hypnogram
            ],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hyp.write(path.with_name(f"{stem}-Hypnogram.edf"))
    return path


def _cut_records(path: Path, first: int, stop: int) -> None:
    """Remove data records ``first .. stop-1`` (1-s records) and mark the file EDF+D: the
    remaining records keep their timekeeping onsets, so the time axis has a hole."""
    raw = bytearray(path.read_bytes())
    header = int(raw[184:192])
    n_rec = int(raw[236:244])
    ns = int(raw[252:256])
    base = 256 + 216 * ns
    spr = [int(raw[base + 8 * i : base + 8 * i + 8]) for i in range(ns)]
    rec_bytes = 2 * sum(spr)
    data = raw[header:]
    kept = data[: first * rec_bytes] + data[stop * rec_bytes :]
    raw[192:197] = b"EDF+D"
    raw[236:244] = str(n_rec - (stop - first)).ljust(8).encode()
    path.write_bytes(bytes(raw[:header]) + bytes(kept))
