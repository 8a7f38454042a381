"""The small abstract base every source of samples implements (BLE sensor, EDF replay,
simulated sensor), bleak-style: one base, one folder/module per kind of source.

A source's :meth:`Source.stream` yields :class:`~crampwatch.blocks.SampleBlock` per role
(``t0_s`` on the sensor sample clock, counted from the first sample of the run and
continued across reconnections, so that lost data shows as a jump in ``t0_s``) and
:class:`SourceNotice` for everything else. The service turns gap / disconnect notices into
``signal_issue`` events; sources never build events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from crampwatch.blocks import SampleBlock

__all__ = ["NOTICE_KINDS", "Source", "SourceNotice"]

NOTICE_KINDS = ("connected", "disconnected", "gap", "battery", "bad_packet", "error")


@dataclass(frozen=True)
class SourceNotice:
    """Something the pipeline should know that is not samples.

    Attributes
    ----------
    kind:
        One of :data:`NOTICE_KINDS`.
    t_s:
        Sample-clock time it refers to, s (the gap start, the last sample before a
        disconnection ...), or ``None`` before the first sample.
    detail:
        Kind-specific fields, e.g. a gap: ``start_s``, ``end_s``, ``reason``
        (``"sequence"`` | ``"reconnect"``), ``lost_packets``; battery: ``percent``;
        bad_packet: ``count``, ``total``, ``reasons``; error: ``message``.
    """

    kind: str
    t_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"unknown notice kind {self.kind!r}; expected one of {NOTICE_KINDS}")


class Source(ABC):
    """A stream of samples from one sensor set (one leg)."""

    device_id: str
    leg: str | None
    stats: dict[str, int]
    # False when the device's EMG scale is nominal only (e.g. the Myo's int8 counts):
    # detection then scores leg movements relative to the resting level, not in µV.
    emg_units_known: bool = True

    @property
    @abstractmethod
    def fs_hz(self) -> dict[str, float]:
        """Sampling rate per channel role, Hz (some devices only know it after connect)."""

    @abstractmethod
    def stream(self) -> AsyncIterator[SampleBlock | SourceNotice]:
        """Blocks and notices until cancelled or the source ends."""
