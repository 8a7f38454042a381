"""Recordings: read EDF/EDF+/BDF into channel roles, write EDF+, replay as blocks.

- :func:`read_recording` — EDF, EDF+ and BDF; labels matched to roles by default
  patterns (see :mod:`crampwatch.recordings.channels`) or an explicit map; units
  converted to µV and g.
- :func:`write_edf` — EDF+ with the montage's labels, units and rates, annotations as TALs.
- :mod:`crampwatch.recordings.edfplus_stream` — EDF+C written record by record while a
  night runs (the service's recorder), annotations patched in at the end or after a crash.
- :func:`iter_blocks` — the recording as ``SampleBlock`` s, for offline detection and
  the live replay source; :func:`iter_channel_blocks` for channel keys (both legs).
- :mod:`crampwatch.recordings.hypnogram` — sleep stages from EDF+ annotations or a
  ``*-Hypnogram.edf`` beside the recording.
"""

from crampwatch.recordings.channels import DEFAULT_PATTERNS, parse_channel_options
from crampwatch.recordings.edf import read_recording, write_edf
from crampwatch.recordings.model import Annotation, Recording
from crampwatch.recordings.replay import iter_blocks, iter_channel_blocks

__all__ = [
    "DEFAULT_PATTERNS",
    "Annotation",
    "Recording",
    "iter_blocks",
    "iter_channel_blocks",
    "parse_channel_options",
    "read_recording",
    "write_edf",
]
