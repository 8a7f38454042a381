"""``SampleBlock``: the unit that flows from acquisition (BLE, EDF replay, simulator)
into the signal pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crampwatch.roles import ROLES

__all__ = ["SampleBlock"]


@dataclass(frozen=True, eq=False)
class SampleBlock:
    """Consecutive samples of one channel role.

    Attributes
    ----------
    role:
        One of :data:`crampwatch.roles.ROLES`.
    t0_s:
        Recording time of the first sample, in seconds from the start of the
        recording or monitoring run (the sample clock, never the wall clock).
    fs_hz:
        Sampling rate in Hz.
    samples:
        1-D float64 array in the role's units (µV for EMG, g for acceleration).
    seq:
        Block counter for this role, increasing by 1 per block; a jump means blocks
        were lost upstream. A jump of ``t0_s`` past the end of the previous block is a
        gap: the pipeline marks it, it never interpolates over it.
    leg:
        ``"left"``, ``"right"`` or ``None`` when unknown.
    """

    role: str
    t0_s: float
    fs_hz: float
    samples: np.ndarray = field(repr=False)
    seq: int = 0
    leg: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown channel role {self.role!r}; expected one of {ROLES}")
        if not self.fs_hz > 0:
            raise ValueError(f"fs_hz must be positive, got {self.fs_hz}")
        arr = np.asarray(self.samples, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError("samples must be 1-D")
        object.__setattr__(self, "samples", arr)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.samples.shape[0])

    @property
    def end_s(self) -> float:
        """Recording time just after the last sample (``t0_s + n / fs_hz``), s."""
        return self.t0_s + self.n / self.fs_hz
