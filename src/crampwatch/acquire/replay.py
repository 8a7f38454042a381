"""Recordings as sensors: an EDF/BDF replay or a simulated night, streamed through the
same :class:`~crampwatch.acquire.base.Source` interface a BLE sensor uses.

``speed`` is how many times faster than real time blocks are released (1 = real time,
60 = one hour per minute, 0 = as fast as the pipeline consumes them). Pacing follows
the injected ``clock``/``sleep`` so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from crampwatch.acquire.base import Source, SourceNotice
from crampwatch.blocks import SampleBlock
from crampwatch.recordings import Recording, iter_blocks

__all__ = ["ReplaySource"]


class ReplaySource(Source):
    """Stream a :class:`~crampwatch.recordings.Recording` block by block.

    Parameters
    ----------
    recording:
        Signals in µV / g with their rates.
    device_id, leg:
        Identity of the emulated sensor set.
    speed:
        Times real time; 0 releases blocks without waiting.
    block_s:
        Block length in seconds (0.1 s ≈ a BLE sensor's notification batches).
    """

    def __init__(
        self,
        recording: Recording,
        *,
        device_id: str,
        leg: str | None = None,
        speed: float = 1.0,
        block_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.recording = recording
        self.emg_units_known = recording.emg_units_known
        self.device_id = device_id
        self.leg = leg
        self.speed = speed
        self.block_s = block_s
        self._clock = clock
        self._sleep = sleep
        self.stats: dict[str, int] = {"blocks": 0}

    @property
    def fs_hz(self) -> dict[str, float]:
        return dict(self.recording.fs_hz)

    async def stream(self) -> AsyncIterator[SampleBlock | SourceNotice]:
        yield SourceNotice("connected", 0.0, {"source": "replay"})
        started = self._clock()
        blocks = iter_blocks(self.recording, self.block_s, leg=self.leg)
        for i, block in enumerate(blocks):
            if self.speed > 0:
                due = started + block.end_s / self.speed
                delay = due - self._clock()
                if delay > 0:
                    await self._sleep(delay)
            elif i % 50 == 0:
                await asyncio.sleep(0)  # let the broker and consumers breathe
            self.stats["blocks"] += 1
            yield block
