"""The in-memory recording: signals by channel role, their rates and EDF+ annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = ["Annotation", "Recording"]


@dataclass(frozen=True)
class Annotation:
    """An EDF+ annotation: ``onset_s`` from the recording start, ``duration_s`` or None."""

    onset_s: float
    duration_s: float | None
    text: str


@dataclass(frozen=True, eq=False)
class Recording:
    """One night (or part of one) by channel role.

    Attributes
    ----------
    signals:
        role -> 1-D array in the role's units (µV for EMG, g for acceleration).
        Arrays read from a file are float64; every consumer should accept any float
        dtype (``SampleBlock`` converts to float64 block by block).
    fs_hz:
        role -> sampling rate in Hz.
    start_time:
        Wall-clock start (timezone-aware, UTC) or None when unknown/anonymised.
    annotations:
        EDF+ annotations, sorted by onset.
    labels:
        role -> the original channel label in the file (or the label to write).
    path:
        The file it was read from, if any.
    emg_units_known:
        False when the EMG is in device counts or an unnamed unit (not µV): detection
        then scores leg movements relative to the resting level.
    gaps:
        ``(start_s, end_s)`` spans with no recording (an EDF+D file's holes): zeros in
        the arrays, left out by the replay so that detection sees a gap.
    """

    signals: dict[str, np.ndarray]
    fs_hz: dict[str, float]
    start_time: datetime | None = None
    annotations: tuple[Annotation, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    emg_units_known: bool = True
    gaps: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        missing = set(self.signals) ^ set(self.fs_hz)
        if missing:
            raise ValueError(f"signals and fs_hz name different roles: {sorted(missing)}")

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles present, in the order of ``signals``."""
        return tuple(self.signals)

    @property
    def duration_s(self) -> float:
        """Length of the longest channel in seconds (0 for an empty recording)."""
        if not self.signals:
            return 0.0
        return max(len(x) / self.fs_hz[role] for role, x in self.signals.items())
