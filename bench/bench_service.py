"""Benchmark: the overnight service over an accelerated 8-hour night.

A source that loops a simulated 10-minute segment (so the night itself costs no memory)
streams 100-ms blocks as fast as the service takes them, through detection, the night
recorder and the durable outbox to the embedded MQTT broker — the code path of
``crampwatch run``. Prints CPU seconds per hour of data (target: <= 2 % of one core in
real time, i.e. <= 72 s per hour), peak RSS and RSS growth across the night (target:
flat, <= 150 MB). The EDF+ written at the end is timed separately.

    python bench/bench_service.py [--hours 8]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from crampwatch.acquire.base import Source, SourceNotice  # noqa: E402
from crampwatch.blocks import SampleBlock  # noqa: E402
from crampwatch.publish import EmbeddedBroker, EventPublisher  # noqa: E402
from crampwatch.recordings import iter_blocks  # noqa: E402
from crampwatch.service.runner import Service  # noqa: E402
from crampwatch.simulate import simulate_night  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class LoopedNight(Source):
    """A simulated segment replayed back to back for ``hours`` (sample clock continues)."""

    def __init__(self, hours: float, block_s: float = 0.1) -> None:
        self.segment = simulate_night(1 / 6, 21).recording
        self.hours = hours
        self.block_s = block_s
        self.device_id = "bench"
        self.leg = "left"
        self.stats = {}
        self.rss: list[tuple[float, float]] = []

    @property
    def fs_hz(self) -> dict[str, float]:
        return dict(self.segment.fs_hz)

    async def stream(self):
        yield SourceNotice("connected", 0.0, {})
        seg_s = self.segment.duration_s
        loops = int(self.hours * 3600 / seg_s)
        for k in range(loops):
            offset = k * seg_s
            for i, b in enumerate(iter_blocks(self.segment, self.block_s, leg=self.leg)):
                yield SampleBlock(b.role, b.t0_s + offset, b.fs_hz, b.samples, b.seq, b.leg)
                if i % 200 == 0:
                    await asyncio.sleep(0)
            self.rss.append((offset + seg_s, rss_mb()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=8.0)
    args = ap.parse_args()
    source = LoopedNight(args.hours)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        publisher = EventPublisher(broker.config, "bench", Path(tmp) / "outbox.sqlite")
        publisher.start()
        recorded: list[float] = []
        service = Service(
            [source],
            publisher.publish,
            recordings_dir=Path(tmp),
            no_data_timeout_s=3600,
            on_recording=lambda *_: recorded.append(time.process_time()),
        )
        rss0 = rss_mb()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = asyncio.run(service.run())
        cpu1, wall1 = time.process_time(), time.perf_counter()
        publisher.wait_drained(30)
        publisher.stop()
    hours = result.recorded_s / 3600
    per_hour = (cpu1 - cpu0) / hours  # includes writing the EDF+ at the end
    during = [r for _, r in source.rss]
    growth = during[-1] - during[0] if len(during) > 1 else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"night: {hours:.1f} h of 2 EMG @ 1 kHz + acc @ 100 Hz in 100-ms blocks, "
        f"{len({e.id for e in result.events})} events"
    )
    print(
        f"CPU: {per_hour:.1f} s per hour of data = {100 * per_hour / 3600:.2f} % of one core "
        f"in real time (target <= 2 %); wall {wall1 - wall0:.0f} s"
    )
    print(
        f"RSS: {rss0:.0f} MB at start, {during[0]:.0f} -> {during[-1]:.0f} MB across the "
        f"night (growth {growth:+.0f} MB; target flat), peak {peak:.0f} MB incl. the EDF "
        "write (target <= 150 MB during the night)"
    )


if __name__ == "__main__":
    main()
