"""The detector's clock: one source for the feature-frame hop and the replay batch.

Everything in :mod:`crampwatch.detect` works on the 0.1-s frames of the signal pipeline
(:class:`crampwatch.signal.SignalPipeline`, default ``hop_s`` =
:data:`crampwatch.signal.frames.HOP_S`): the model was trained on them,
and the rules' durations (in s) become frame counts by dividing by :data:`FRAME_S`.
"""

from __future__ import annotations

from crampwatch.signal.frames import HOP_S

__all__ = ["FRAME_S", "REPLAY_BATCH_S"]

FRAME_S = HOP_S  # s per feature frame (10 frames/s): the signal pipeline's default hop
# An offline replay computes in 5-min batches whatever its block size: the per-call cost
# of the pipeline and the trackers (~1 ms) would otherwise dominate with small blocks
# (1-s EDF records, 5-s replay blocks). Same frames, same events, same detected_at_s.
REPLAY_BATCH_S = 300.0
