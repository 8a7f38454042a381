"""``StreamingDetector``: sample blocks in, events out — the code the live service runs.

It puts the causal :class:`crampwatch.signal.SignalPipeline` (0.1-s feature frames) in
front of a :class:`~crampwatch.detect.frame_detector.FrameDetector` (the frame
classifier, the bad-signal rules and the event state machines). Time is
the sample clock: ``detected_at_s`` of an event is the end time of the frame whose
arrival made the decision, which is what a live run would have seen, whatever the size
of the blocks fed in. :func:`detect_recording` replays a whole recording through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from crampwatch.blocks import SampleBlock
from crampwatch.detect.frame_detector import DetectorStats, FrameDetector, emission_order
from crampwatch.detect.model import CrampModel
from crampwatch.detect.timing import FRAME_S, REPLAY_BATCH_S
from crampwatch.events import Event, SignalIssueKind

__all__ = ["StreamingDetector", "detect_recording"]


class StreamingDetector:
    """Blocks of samples in, :class:`~crampwatch.events.Event` s out: the signal
    pipeline, then a :class:`~crampwatch.detect.frame_detector.FrameDetector` on its
    frames.

    Parameters
    ----------
    fs_hz:
        role -> sampling rate in Hz (EMG 200–2000 Hz, accelerometer 10–200 Hz);
        ``emg_tibialis`` is optional.
    mains_hz:
        50 or 60 if known (else the pipeline estimates it).
    batch_s:
        Let the signal pipeline gather this many seconds before computing (same frames,
        same ``detected_at_s``; events leave up to ``batch_s`` s later in wall-clock
        time). Saves the per-call overhead of 100-ms BLE blocks.
    device_id, leg, start_time, model, bilateral, emg_units_known:
        Passed to the :class:`~crampwatch.detect.frame_detector.FrameDetector`; see
        there.
    """

    def __init__(
        self,
        fs_hz: Mapping[str, float],
        *,
        device_id: str,
        leg: str | None = None,
        start_time: datetime | None = None,
        model: CrampModel | None = None,
        mains_hz: float | None = None,
        bilateral: bool = False,
        batch_s: float = 0.0,
        emg_units_known: bool = True,
    ) -> None:
        from crampwatch.signal import SignalPipeline

        self.pipeline = SignalPipeline(
            dict(fs_hz), hop_s=FRAME_S, mains_hz=mains_hz, batch_s=batch_s
        )
        self.frame_detector = FrameDetector(
            has_tib="emg_tibialis" in fs_hz,
            device_id=device_id,
            leg=leg,
            start_time=start_time,
            model=model,
            bilateral=bilateral,
            emg_units_known=emg_units_known,
        )

    @property
    def stats(self) -> DetectorStats:
        """Running counts (for the service's status and the review)."""
        return self.frame_detector.stats

    @property
    def model(self) -> CrampModel:
        return self.frame_detector.model

    def push(self, block: SampleBlock) -> list[Event]:
        """Feed one block of one channel; return the events decided by it (may be empty)."""
        return self.frame_detector.push(self.pipeline.push(block))

    def flush(self, end_s: float | None = None) -> list[Event]:
        """End of the recording/run: process the last frames and close open events."""
        events = self.frame_detector.push(self.pipeline.flush())
        events += self.frame_detector.flush(end_s)
        return sorted(events, key=emission_order)

    def notice_gap(
        self, start_s: float, end_s: float, reason: str = SignalIssueKind.GAP
    ) -> list[Event]:
        """Samples lost between ``start_s`` and ``end_s`` (s): see
        :meth:`~crampwatch.detect.frame_detector.FrameDetector.notice_gap`."""
        return self.frame_detector.notice_gap(start_s, end_s, reason)


def detect_recording(
    recording,
    *,
    device_id: str = "offline",
    block_s: float = 60.0,
    model: CrampModel | None = None,
    leg: str | None = None,
    mains_hz: float | None = None,
    progress: Callable[[float], None] | None = None,
    emg_units_known: bool | None = None,
    batch_s: float | None = None,
) -> list[Event]:
    """Replay ``recording`` block by block through a :class:`StreamingDetector`.

    Returns every emitted event in emission order (a cramp appears twice: its onset and
    its end update, same id). ``progress`` is called with the recording time (s) reached.
    ``emg_units_known=False``: the EMG is in unknown units (see :class:`StreamingDetector`);
    None (default) takes the recording's own flag (``Recording.emg_units_known``: False
    for EMG stored in counts). ``batch_s``: seconds the pipeline gathers per computation
    (default :data:`REPLAY_BATCH_S`; 0 computes as soon as a frame is complete, as live).
    """
    from crampwatch.recordings import iter_blocks

    det = StreamingDetector(
        recording.fs_hz,
        device_id=device_id,
        leg=leg,
        start_time=recording.start_time,
        model=model,
        mains_hz=mains_hz,
        emg_units_known=recording.emg_units_known if emg_units_known is None else emg_units_known,
        batch_s=REPLAY_BATCH_S if batch_s is None else batch_s,
    )
    events: list[Event] = []
    last = -1.0
    for block in iter_blocks(recording, block_s, leg=leg):
        events += det.push(block)
        if progress is not None and block.end_s > last:
            last = block.end_s
            progress(last)
    events += det.flush(recording.duration_s)
    return events
