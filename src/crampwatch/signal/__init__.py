"""crampwatch.signal: streaming filters, quality and per-hop features (pure computation).

Sample blocks in (:class:`crampwatch.blocks.SampleBlock`), feature frames out
(:class:`FeatureFrames`); no files, sockets, Bluetooth or wall clock.
"""

from crampwatch.signal.frames import FEATURE_NAMES, FeatureFrames
from crampwatch.signal.pipeline import SignalPipeline, extract_features

__all__ = ["FEATURE_NAMES", "FeatureFrames", "SignalPipeline", "extract_features"]
