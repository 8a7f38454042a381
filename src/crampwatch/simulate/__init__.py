"""The night simulator: physiologically grounded synthetic recordings with ground truth.

- :func:`simulate_night` → :class:`SimulatedNight` (a :class:`~crampwatch.recordings.Recording`,
  its :class:`TruthEvent` s and the night's parameters);
- :func:`write_night` → EDF+ (truth as annotations) and ``<stem>.truth.json``;
- :func:`read_truth` ← the JSON or the EDF+ annotations;
- :class:`ScheduledEvent` places specific events instead of a random night.

Parameter ranges (train and shifted) and their sources: :mod:`crampwatch.simulate.params`;
the signal model: :mod:`crampwatch.simulate.synth`.
"""

from crampwatch.simulate.events import (
    SCHEDULE_TYPES,
    TRUTH_TYPES,
    ScheduledEvent,
    TruthEvent,
    wasm_periodic,
)
from crampwatch.simulate.night import (
    SimulatedNight,
    read_truth,
    simulate_night,
    truth_path_for,
    write_night,
)

__all__ = [
    "SCHEDULE_TYPES",
    "TRUTH_TYPES",
    "ScheduledEvent",
    "SimulatedNight",
    "TruthEvent",
    "read_truth",
    "simulate_night",
    "truth_path_for",
    "wasm_periodic",
    "write_night",
]
