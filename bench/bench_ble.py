"""Benchmark of BLE acquisition (issue 5).

1. Decode throughput per profile: packets/s and samples/s through the sans-I/O decoders
   (decoder + block assembler), on packets built by the peripheral-side encoders.
2. Notification -> SampleBlock latency through the emulated link: bumble peripheral ->
   LocalLink -> bumble central -> Bleak backend -> BleakClient -> BleSensorSource, in
   real time (reference sensor, 50 packets/s, one block per packet).

Run: ``.venv/bin/python bench/bench_ble.py`` (about half a minute).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from crampwatch.acquire.assembler import BlockAssembler
from crampwatch.acquire.decoders import make_decoder
from crampwatch.acquire.profiles import get_profile
from crampwatch.blocks import SampleBlock
from support.encoders import (
    encode_ganglion_compressed,
    encode_ganglion_raw,
    encode_myo_emg,
    encode_myo_imu,
    encode_reference,
)

N_PACKETS = 20_000


def _packets(name: str, rng: np.random.Generator) -> list[tuple[bytes, str]]:
    profile = get_profile(name)
    if name == "crampwatch-ref":
        uuid = profile.notify_uuids[0]
        return [
            (
                encode_reference(
                    k, 20_000 * k, rng.integers(-999, 999, (20, 2)), rng.integers(-99, 99, (2, 3))
                ),
                uuid,
            )
            for k in range(N_PACKETS)
        ]
    if name == "openbci-ganglion":
        uuid = profile.notify_uuids[0]
        out, last = [(encode_ganglion_raw(np.zeros(4, int)), uuid)], np.zeros(4, int)
        for k in range(N_PACKETS):
            deltas = 2 * rng.integers(-500, 500, (2, 4))
            deltas[deltas < 0] += 1  # sign in the LSB: even >= 0, odd < 0
            samples = np.vstack([last - deltas[0], last - deltas[0] - deltas[1]])
            out.append((encode_ganglion_compressed(k % 100 + 1, last, samples, 5), uuid))
            last = samples[1]
        return out
    emg = profile.stream("emg").characteristics
    imu = profile.stream("imu").characteristics[0]
    out = []
    for k in range(N_PACKETS):
        out.append((encode_myo_emg(rng.integers(-128, 127, (2, 8))), emg[k % 4]))
        if k % 2:
            out.append((encode_myo_imu(rng.integers(-2048, 2048, 3)), imu))
    return out


def bench_decode() -> None:
    print(f"{'profile':<18}{'packets/s':>12}{'samples/s':>14}{'x real time':>14}")
    for name in ("crampwatch-ref", "openbci-ganglion", "thalmic-myo"):
        profile = get_profile(name)
        packets = _packets(name, np.random.default_rng(0))
        decoder, assembler = make_decoder(profile), BlockAssembler(profile, block_s=0.1)
        n_samples = 0
        start = time.perf_counter()
        for i, (data, uuid) in enumerate(packets):
            packet = decoder.decode(data, uuid)
            for item in assembler.push(packet, i * 0.001):
                if isinstance(item, SampleBlock):
                    n_samples += item.n
        elapsed = time.perf_counter() - start
        assert decoder.stats.bad_packets == 0
        sensor_s = N_PACKETS * profile.streams[0].packet_s  # EMG packets span the run
        print(
            f"{name:<18}{len(packets) / elapsed:>12,.0f}{n_samples / elapsed:>14,.0f}"
            f"{sensor_s / elapsed:>14,.0f}"
        )


async def _latency(seconds: float) -> list[float]:
    from crampwatch.acquire.ble import BleSensorSource
    from support.ble_world import BleWorld
    from support.sensors import SimClock, make_sensor

    latencies: list[float] = []
    async with BleWorld() as world:
        clock = SimClock(1.0)
        sensor = await make_sensor(
            "crampwatch-ref", world, name="CrampRef", clock=clock, seconds=seconds
        ).start()
        source = BleSensorSource(
            sensor.profile,
            sensor.address,
            device_id="bench",
            backend=world.client_backend(),
            scanner_backend=world.scanner_backend(),
            clock=clock.now,
            block_s=0.0,
            scan_timeout_s=1.0,
        )
        loop = asyncio.get_running_loop()
        first: int | None = None

        async def consume() -> None:
            nonlocal first
            async for item in source.stream():
                if isinstance(item, SampleBlock) and item.role == "emg_calf":
                    now = loop.time()
                    if first is None:
                        first = min(sensor.sent_at)
                    k = first + round(item.t0_s * item.fs_hz) // 20
                    latencies.append(now - sensor.sent_at[k])

        task = asyncio.create_task(consume())
        await sensor.done.wait()
        await asyncio.sleep(0.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return latencies


def bench_latency(seconds: float = 10.0) -> None:
    lat = np.asarray(asyncio.run(_latency(seconds))) * 1000
    print(
        f"notification -> SampleBlock latency (reference sensor, {len(lat)} packets, real time): "
        f"median {statistics.median(lat):.2f} ms, p95 {np.percentile(lat, 95):.2f} ms, "
        f"max {lat.max():.2f} ms"
    )


if __name__ == "__main__":
    bench_decode()
    bench_latency()
