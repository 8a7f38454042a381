"""MQTT benchmark: event → logger latency (p50/p99) and sustained events/s, through
mosquitto (when installed) and through the embedded amqtt broker, on loopback.

``emb-nofsync``: the embedded broker with an outbox that does not sync each write to
disk (see ``Outbox(fsync=False)``). Targets (issue 4): p99 ≤ 50 ms; far more events/s
than a night produces (a busy night is a few hundred events in 8 h).

    .venv/bin/python bench/bench_mqtt.py [--latency-n 200] [--burst-n 2000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from crampwatch.consumers.logger import EventLogger
from crampwatch.events import Event, event_id
from crampwatch.publish import BrokerConfig, EmbeddedBroker, EventPublisher
from crampwatch.publish.broker import free_port

# The restartable mosquitto of the integration tests (one definition of its config); its
# conftest imports from tests/support.
_TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(_TESTS / "integration"), str(_TESTS)]
from conftest import MOSQUITTO, Mosquitto  # noqa: E402


def _event(i: int) -> Event:
    onset = float(i)
    return Event(
        event_id("bench", "leg_movement", onset),
        "bench",
        "leg_movement",
        onset,
        onset + 1.0,
        onset + 2.0,
        0.8,
        periodic=True,
    )


def run(
    config: BrokerConfig, work: Path, latency_n: int, burst_n: int, fsync: bool = True
) -> dict[str, float]:
    stored: dict[str, float] = {}
    cond = threading.Condition()

    def on_stored(event: Event, result: str) -> None:
        with cond:
            stored.setdefault(event.id, time.perf_counter())
            cond.notify_all()

    logger = EventLogger(config, work / "events.db", on_stored=on_stored, publish_stats=False)
    logger.start()
    assert logger.wait_subscribed(10)
    pub = EventPublisher(config, "bench", work / "outbox.db", outbox_fsync=fsync)
    pub.start()
    assert pub.wait_connected(10)
    latencies = []
    for i in range(latency_n):  # one at a time: the latency a single cramp onset sees
        ev = _event(i)
        t0 = time.perf_counter()
        pub.publish(ev)
        with cond:
            if not cond.wait_for(lambda ev=ev: ev.id in stored, timeout=5):
                raise RuntimeError(f"event {i} not stored within 5 s")
        latencies.append(stored[ev.id] - t0)
    t0 = time.perf_counter()
    for i in range(latency_n, latency_n + burst_n):
        pub.publish(_event(i))
    with cond:
        ok = cond.wait_for(lambda: len(stored) >= latency_n + burst_n, timeout=120)
    elapsed = time.perf_counter() - t0
    pub.stop()
    logger.stop()
    if not ok:
        raise RuntimeError(f"burst incomplete: {len(stored) - latency_n}/{burst_n}")
    ms = np.array(latencies) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "events_per_s": burst_n / elapsed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-n", type=int, default=200)
    ap.add_argument("--burst-n", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = {}
        if Path(MOSQUITTO).exists() or shutil.which("mosquitto"):
            mosq = Mosquitto(work / "mosquitto", free_port())
            mosq.start()
            try:
                (work / "m").mkdir()
                results["mosquitto"] = run(mosq.config, work / "m", args.latency_n, args.burst_n)
            finally:
                mosq.stop()
        else:
            print("mosquitto not installed: skipping it")
        with EmbeddedBroker() as broker:
            (work / "e").mkdir()
            results["embedded"] = run(broker.config, work / "e", args.latency_n, args.burst_n)
            (work / "n").mkdir()
            results["emb-nofsync"] = run(
                broker.config, work / "n", args.latency_n, args.burst_n, fsync=False
            )
    print(f"{'broker':<12} {'p50 ms':>8} {'p99 ms':>8} {'events/s':>10}   (target p99 <= 50 ms)")
    for name, r in results.items():
        print(f"{name:<12} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['events_per_s']:10.0f}")
    worst = max(r["p99_ms"] for r in results.values())
    sys.exit(0 if worst <= 50.0 else 1)


if __name__ == "__main__":
    main()
