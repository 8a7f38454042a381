"""Run a :class:`~crampwatch.acquire.base.Source` against emulated sensors and compare
what it produced with what the sensors sent."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from crampwatch.acquire.base import Source, SourceNotice
from crampwatch.blocks import SampleBlock

__all__ = ["Collected", "received_samples", "run_source"]


@dataclass
class Collected:
    """Everything a source yielded, in order."""

    blocks: dict[str, list[SampleBlock]] = field(default_factory=lambda: defaultdict(list))
    notices: list[SourceNotice] = field(default_factory=list)
    error: BaseException | None = None

    def kinds(self, kind: str) -> list[SourceNotice]:
        return [n for n in self.notices if n.kind == kind]


def received_samples(blocks: list[SampleBlock]) -> tuple[np.ndarray, np.ndarray]:
    """(sample indices round(t0_s * fs) + i, values) of every block, in order; asserts
    that no index was produced twice."""
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    index = np.concatenate(
        [round(b.t0_s * b.fs_hz) + np.arange(b.n, dtype=np.int64) for b in blocks]
    )
    values = np.concatenate([b.samples for b in blocks])
    assert len(np.unique(index)) == len(index), f"{blocks[0].role}: a sample came out twice"
    return index, values


async def run_source(
    source: Source,
    until: Callable[[Collected], bool | Awaitable[bool]],
    *,
    timeout_s: float = 60.0,
) -> Collected:
    """Consume ``source.stream()`` until ``until(collected)`` is true (checked after each
    item and every 50 ms), then cancel it. A timeout fails the test (hang detector)."""
    collected = Collected()

    async def consume() -> None:
        try:
            async for item in source.stream():
                if isinstance(item, SampleBlock):
                    collected.blocks[item.role].append(item)
                else:
                    collected.notices.append(item)
        except Exception as exc:  # surfaced to the test through collected.error
            collected.error = exc

    task = asyncio.create_task(consume())
    try:
        async with asyncio.timeout(timeout_s):
            while not task.done():
                result = until(collected)
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    break
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return collected
