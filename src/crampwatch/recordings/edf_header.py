"""What crampwatch writes in an EDF signal header for each kind of channel: one table for
both writers (:func:`~crampwatch.recordings.write_edf` and
:mod:`~crampwatch.recordings.edfplus_stream`) and the PSG simulator's leg channels.

The physical dimension is :func:`crampwatch.roles.unit_label` (``uV``, ``g``, or
``counts`` for EMG of unknown scale), the label :data:`crampwatch.roles.DEFAULT_LABELS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from crampwatch.roles import UNITS

__all__ = ["SIGNAL_SPECS", "SignalSpec", "signal_spec"]


@dataclass(frozen=True)
class SignalSpec:
    """Header fields of one kind of channel."""

    physical_max: float  # physical range written: ±physical_max in the channel's unit
    transducer: str
    prefiltering: str = ""  # samples are stored as acquired; filters run on reading


# Keyed by unit (crampwatch.roles.UNITS). In 16 bits, EMG ±5000 µV gives steps of
# 0.15 µV, far below the few-µV resting EMG, and surface EMG stays well inside (a cramp
# reaches a few mV); acceleration ±8 g gives 0.24-mg steps, below the ~5 mg sensor
# noise, and a kick in bed stays inside.
SIGNAL_SPECS: dict[str, SignalSpec] = {
    "uV": SignalSpec(5000.0, "surface EMG electrodes"),
    "g": SignalSpec(8.0, "3-axis accelerometer"),
}


def signal_spec(role: str) -> SignalSpec:
    """The header fields for a channel role (``emg_calf``, ``acc_x`` …)."""
    return SIGNAL_SPECS[UNITS[role]]
