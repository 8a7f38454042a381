"""Synthetic nights for the review tests: events with known counts, a matching EDF+
recording, and the store filled the way the logger fills it (onset, then end update).

Times are recording seconds from ``NightSpec.start`` (UTC wall clock of second 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from crampwatch.consumers.store import EventStore, night_of
from crampwatch.events import Event, event_id, onset_time_iso
from crampwatch.recordings import Recording, write_edf


@dataclass(frozen=True)
class CrampSpec:
    onset_s: float
    duration_s: float
    peak_uv: float = 400.0
    latency_s: float = 4.0
    label: str | None = None  # "acknowledged" / "not_a_cramp"


@dataclass(frozen=True)
class NightSpec:
    start: datetime
    hours: float = 1.0
    device_id: str = "calf-left"
    leg: str = "left"
    cramps: tuple[CrampSpec, ...] = ()
    plm_series: tuple[tuple[float, int, float], ...] = ()  # (start_s, count, interval_s)
    isolated_lms: tuple[float, ...] = ()
    positions: tuple[float, ...] = ()
    issues: tuple[tuple[float, float, str], ...] = ()  # (onset_s, end_s, kind)
    offline: tuple[float, float] | None = None  # a connection loss (start_s, end_s)
    status: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def night(self) -> str:
        return night_of(self.start)

    @property
    def duration_s(self) -> float:
        return self.hours * 3600.0

    @property
    def n_periodic(self) -> int:
        return sum(n for _, n, _ in self.plm_series)

    @property
    def n_lms(self) -> int:
        return self.n_periodic + len(self.isolated_lms)

    def lm_onsets(self) -> list[tuple[float, bool]]:
        out = [(t0 + i * iv, True) for t0, n, iv in self.plm_series for i in range(n)]
        out += [(t, False) for t in self.isolated_lms]
        return sorted(out)


def _event(spec: NightSpec, type_: str, onset_s: float, end_s: float | None, **kw) -> Event:
    return Event(
        id=event_id(spec.device_id, type_, onset_s, spec.leg),
        device_id=spec.device_id,
        type=type_,
        onset_s=onset_s,
        end_s=end_s,
        detected_at_s=kw.pop("detected_at_s", end_s if end_s is not None else onset_s),
        confidence=kw.pop("confidence", 0.9),
        leg=spec.leg,
        onset_time=onset_time_iso(spec.start, onset_s),
        **kw,
    )


def night_events(spec: NightSpec) -> tuple[list[Event], list[Event]]:
    """(events as first published, later end updates of the cramps)."""
    first, updates = [], []
    for c in spec.cramps:
        onset = _event(
            spec,
            "cramp",
            c.onset_s,
            None,
            detected_at_s=c.onset_s + c.latency_s,
            details={"alert_after_s": c.latency_s},
        )
        first.append(onset)
        end = c.onset_s + c.duration_s
        updates.append(
            onset.with_end(
                end, end + 1.0, peak_uv=c.peak_uv, median_uv=c.peak_uv / 2, duration_s=c.duration_s
            )
        )
    for t, periodic in spec.lm_onsets():
        first.append(_event(spec, "leg_movement", t, t + 2.0, periodic=periodic))
    for t in spec.positions:
        first.append(_event(spec, "position_change", t, t + 1.0))
    for a, b, kind in spec.issues:
        first.append(_event(spec, "signal_issue", a, b, details={"kind": kind}))
    return first, updates


def fill_store(store: EventStore, spec: NightSpec, recording: Path | None = None) -> None:
    """Store one night directly (unit tests; the integration test goes through the logger)."""
    first, updates = night_events(spec)
    for e in first:
        store.upsert(e)
    for e in updates:
        store.upsert(e)
    for c in spec.cramps:
        if c.label:
            store.add_label(event_id(spec.device_id, "cramp", c.onset_s, spec.leg), c.label)
    if spec.status:
        add_status(store, spec)
    if recording is not None:
        store.add_recording(spec.device_id, spec.night, recording)


def add_status(store: EventStore, spec: NightSpec) -> None:
    def at(s: float) -> datetime:
        return spec.start + timedelta(seconds=s)

    store.add_status(spec.device_id, "online", at=at(0.0))
    if spec.offline:
        store.add_status(spec.device_id, "offline", at=at(spec.offline[0]))
        store.add_status(spec.device_id, "online", at=at(spec.offline[1]))
    store.add_status(spec.device_id, "offline", at=at(spec.duration_s))


def calf_emg(spec: NightSpec, fs_hz: float, seed: int = 0) -> np.ndarray:
    """Resting calf EMG (~3 µV RMS) with a strong burst during each cramp (µV)."""
    rng = np.random.default_rng(seed)
    n = round(spec.duration_s * fs_hz)
    t = np.arange(n) / fs_hz
    amp = np.full(n, 3.0)
    for c in spec.cramps:
        inside = (t >= c.onset_s) & (t < c.onset_s + c.duration_s)
        amp[inside] = c.peak_uv
    return rng.standard_normal(n) * amp


def write_recording(path: Path, spec: NightSpec, fs_hz: float = 200.0) -> Path:
    """The night as EDF+ (calf EMG at ``fs_hz``, accelerometer at 10 Hz, in g)."""
    n_acc = round(spec.duration_s * 10)
    rng = np.random.default_rng(1)
    rec = Recording(
        signals={
            "emg_calf": calf_emg(spec, fs_hz),
            "acc_x": rng.normal(0, 0.005, n_acc),
            "acc_y": rng.normal(0, 0.005, n_acc),
            "acc_z": rng.normal(1, 0.005, n_acc),
        },
        fs_hz={"emg_calf": fs_hz, "acc_x": 10.0, "acc_y": 10.0, "acc_z": 10.0},
        start_time=spec.start,
    )
    return write_edf(path, rec)


def evening(day: int, hour: int = 22, minute: int = 30) -> datetime:
    """A night start in November 2026 (UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def busy_night(day: int = 24, hours: float = 1.0) -> NightSpec:
    """A night with a bit of everything (fits in ``hours`` >= 1)."""
    return NightSpec(
        start=evening(day),
        hours=hours,
        cramps=(
            CrampSpec(600.0, 75.0, 520.0, 3.5, "acknowledged"),
            CrampSpec(1800.0, 40.0, 310.0, 6.0, None),
            CrampSpec(2700.0, 20.0, 150.0, 5.0, "not_a_cramp"),
        ),
        plm_series=((900.0, 6, 25.0), (2000.0, 5, 30.0)),
        isolated_lms=(100.0, 3300.0),
        positions=(300.0, 1500.0, 3000.0),
        issues=((1200.0, 1260.0, "electrode_off"), (3400.0, 3430.0, "mains")),
    )
