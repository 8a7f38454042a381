"""crampwatch.signal: streaming filters, quality and per-hop features (pure computation).

Sample blocks in (:class:`crampwatch.blocks.SampleBlock`), feature frames out
(:class:`FeatureFrames`, columns :data:`FEATURE_NAMES`); no files, sockets, Bluetooth
or wall clock.

- :mod:`~crampwatch.signal.pipeline`: :class:`SignalPipeline` (streaming) and
  :func:`extract_features` (whole arrays, same code);
- :mod:`~crampwatch.signal.emg`: per-EMG-channel filters, envelope, resting level,
  quality and features;
- :mod:`~crampwatch.signal.accel`: gravity, tilt and movement from the accelerometer;
- :mod:`~crampwatch.signal.filters`: rate-adapted IIR filters, 50/60 Hz detection;
- :mod:`~crampwatch.signal.hops`: the hop clock, gaps, trailing windows;
- :mod:`~crampwatch.signal.frames`: :class:`FeatureFrames` and the column names.
"""

from crampwatch.signal.frames import ACC_FEATURES, EMG_FEATURES, FEATURE_NAMES, FeatureFrames
from crampwatch.signal.pipeline import SignalPipeline, extract_features

__all__ = [
    "ACC_FEATURES",
    "EMG_FEATURES",
    "FEATURE_NAMES",
    "FeatureFrames",
    "SignalPipeline",
    "extract_features",
]
