"""Benchmark: the overnight service over an accelerated 8-hour night, as a user runs it.

The measured process (``bench/service_child.py``) is ``crampwatch run --config FILE``
(command line, config, detection with the shipped model, the EDF+ recorder, the
durable outbox, paho publishing) in a process of its own, with:

- the broker in another process: mosquitto when installed, else the embedded amqtt
  broker started in a separate Python process — a user's broker is never inside the
  service, so its memory is not the service's;
- a source that loops a simulated 10-minute segment from disk in 100-ms blocks, as fast
  as the service takes them (live batching: the source reports no replay speed), so
  the night itself costs no memory, as with a BLE sensor;
- the environment the shipped systemd unit (``deploy/crampwatch@.service``) gives the
  service, read from its ``Environment=`` lines (``--no-unit-env``: without them, as
  ``crampwatch run`` typed in a terminal runs);
- pandas and pytest blocked from import: neither is in crampwatch's dependency closure
  (checked below from the installed metadata), but this venv has them (``bench_signal.py``
  and the tests), and scikit-learn imports pandas whenever it can (+31 MB) and pytest
  through ``sklearn.utils._testing``, which skops loads (+5 MB). See ``service_child.py``.

This process samples the child's ``/proc/<pid>/status`` (VmRSS, VmHWM) twice a second and
pairs the samples with the child's sample clock. Prints CPU seconds per hour of data
(target: <= 2 % of one core in real time, i.e. <= 72 s per hour), RSS across the night
(target: flat) and peak RSS of the whole process life, closing the EDF+ included
(target: <= 150 MB).

    python bench/bench_service.py [--hours 8]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# the restartable mosquitto of the integration tests (one definition of its config)
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests")]
from conftest import MOSQUITTO, Mosquitto  # noqa: E402
from crampwatch.publish.broker import LOOPBACK, free_port  # noqa: E402
from crampwatch.simulate import simulate_night  # noqa: E402

SEGMENT_S = 600.0
NOT_IN_A_USER_INSTALL = ("pandas", "pytest")
UNIT = ROOT / "deploy" / "crampwatch@.service"


def unit_environment(path: Path = UNIT) -> dict[str, str]:
    """The ``Environment=K=V`` settings of the systemd unit, its folders moved here.

    The data folder is the bench's own; the compiled-module cache is one kept between
    bench runs, as the unit's cache folder is kept between nights (the first night
    after an install compiles once).
    """
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("Environment="):
            key, _, value = line.removeprefix("Environment=").partition("=")
            if key == "PYTHONPYCACHEPREFIX":
                value = str(Path(tempfile.gettempdir()) / "crampwatch-bench-pycache")
            if key != "CRAMPWATCH_DATA":
                env[key] = value
    return env


def dependency_closure(dist: str) -> set[str]:
    """Normalised names of ``dist`` and everything it requires (no extras), installed."""
    seen: set[str] = set()
    todo = [dist]
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
    return seen


def write_segment(folder: Path) -> dict[str, float]:
    """A simulated 10-minute segment as raw float32 per role, for the child to loop."""
    rec = simulate_night(SEGMENT_S / 3600, 21).recording
    folder.mkdir(parents=True)
    for role, x in rec.signals.items():
        np.asarray(x, dtype="<f4").tofile(folder / f"{role}.f32")
    meta = {"fs_hz": rec.fs_hz, "duration_s": rec.duration_s}
    (folder / "meta.json").write_text(json.dumps(meta))
    return dict(rec.fs_hz)


_EMBEDDED = """
import json, sys, time
from crampwatch.publish.broker import EmbeddedBroker
with EmbeddedBroker() as b:
    c = b.config
    print(json.dumps([c.host, c.port, c.username, c.password]), flush=True)
    sys.stdin.read()  # until the parent closes stdin
"""


class Broker:
    """mosquitto, or the embedded broker in its own Python process."""

    def __init__(self, work: Path) -> None:
        self.mosquitto: Mosquitto | None = None
        self.proc: subprocess.Popen[str] | None = None
        if Path(MOSQUITTO).exists():
            self.mosquitto = Mosquitto(work / "mosquitto", free_port())
            self.mosquitto.start()
            self.url, self.name = self.mosquitto.url, "mosquitto"
        else:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _EMBEDDED],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            host, port, user, password = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
            self.url = f"mqtt://{user}:{password}@{host or LOOPBACK}:{port}?protocol=3.1.1"
            self.name = "embedded amqtt broker (own process)"

    def stop(self) -> None:
        if self.mosquitto is not None:
            self.mosquitto.stop()
        if self.proc is not None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(10)


def status_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid`` in MB; empty once it has exited."""
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument(
        "--no-unit-env",
        dest="unit_env",
        action="store_false",
        help="run the service without the systemd unit's Environment= settings",
    )
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="one more environment variable for the service (to measure a setting)",
    )
    args = ap.parse_args()
    extra_env = unit_environment() if args.unit_env else {}
    extra_env.update(kv.split("=", 1) for kv in args.env)
    env = {**os.environ, **extra_env}
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONOPTIMIZE"):
        if key not in extra_env:
            env.pop(key, None)  # only what a user's service gets
    closure = dependency_closure("crampwatch")
    # installed here by the dev/bench extras only, and imported by scikit-learn / skops
    # whenever importable (pandas +31 MB; pytest, via sklearn.utils._testing, +5 MB)
    blocked = [m for m in NOT_IN_A_USER_INSTALL if m not in closure]
    if blocked != list(NOT_IN_A_USER_INSTALL):
        needed = set(NOT_IN_A_USER_INSTALL) - set(blocked)
        sys.exit(f"now a dependency of crampwatch, do not block: {sorted(needed)}")
    load0 = f"{os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fs = write_segment(work / "segment")
        broker = Broker(work)
        try:
            cmd = [
                sys.executable,
                str(ROOT / "bench" / "service_child.py"),
                "--segment",
                str(work / "segment"),
                "--hours",
                str(args.hours),
                "--broker",
                broker.url,
                "--work",
                str(work),
                *(x for m in blocked for x in ("--block", m)),
            ]
            log_path = work / "service.log"  # the service's own log lines
            log_file = open(log_path, "w")  # noqa: SIM115
            child = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env
            )
            samples: list[tuple[float, float]] = []  # (wall s, VmRSS MB)
            peak = [0.0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    st = status_mb(child.pid)
                    if st:
                        samples.append((time.monotonic(), st["VmRSS"]))
                        peak[0] = max(peak[0], st["VmHWM"])
                    stop.wait(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            # (data s, wall s, VmRSS MB, child CPU s)
            marks: list[tuple[float, float, float, float]] = []
            start_rss = None
            msgs: dict[str, object] = {}
            wall0 = time.perf_counter()
            for line in child.stdout:  # type: ignore[union-attr]
                if not line.startswith("{"):  # the exit line of crampwatch run
                    msgs["summary"] = line.strip()
                    continue
                msg = json.loads(line)
                st = status_mb(child.pid)
                if "start" in msg:
                    start_rss, msgs["start"] = st.get("VmRSS"), msg["start"]
                    wall0, night0 = time.perf_counter(), time.monotonic()
                elif "t_s" in msg and st:
                    marks.append(
                        (float(msg["t_s"]), time.monotonic(), st["VmRSS"], float(msg["cpu_s"]))
                    )
                elif "done" in msg:
                    msgs.update(msg)
            child.wait()
            wall1 = time.perf_counter()
            stop.set()
            sampler.join()
            log_file.close()
            service_log = log_path.read_text()
        finally:
            broker.stop()
    if child.returncode != 0 or msgs.get("exit_code") != 0:
        sys.stderr.write(service_log)
        sys.exit(f"the service exited with {msgs.get('exit_code', child.returncode)}")
    unit_env = " ".join(f"{k}={v}" for k, v in extra_env.items()) or "none"
    hours = marks[-1][0] / 3600
    per_hour = (float(msgs["done"]) - float(msgs["start"])) / hours  # incl. closing the EDF+
    by_hour = [r for t, _, r, _ in marks if abs(t / 3600 - round(t / 3600)) < 1e-6]
    first, last = marks[0][2], marks[-1][2]
    night = [r for w, r in samples if night0 <= w <= marks[-1][1]] or [first, last]
    print(
        f"night: {hours:.1f} h of {', '.join(f'{r} @ {f:g} Hz' for r, f in fs.items())} in "
        f"100-ms blocks; service: {msgs['summary']}; broker: {broker.name}; blocked imports: "
        f"{', '.join(blocked) or 'none'} (loaded anyway: {msgs['blocked_loaded'] or 'none'}); "
        f"environment of {UNIT.name}: {unit_env}"
    )
    # CPU per segment: the same 10 minutes of signal each time, so the fastest one is the
    # cost with the least interference from other processes on this host
    cpu = [float(msgs["start"])] + [c for _, _, _, c in marks]
    seg_pct = [100 * (b - a) / SEGMENT_S for a, b in itertools.pairwise(cpu)]
    print(
        f"CPU: {per_hour:.1f} s per hour of data = {100 * per_hour / 3600:.2f} % of one core "
        f"in real time over the night (target <= 2 %); per 10-min segment "
        f"{min(seg_pct):.2f}..{max(seg_pct):.2f} %; wall {wall1 - wall0:.0f} s; "
        f"load average {load0} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        "RSS by hour of data (MB): "
        + " ".join(f"{r:.0f}" for r in by_hour)
        + f"  (at the first block {start_rss:.0f})"
    )
    print(
        f"RSS: {first:.0f} -> {last:.0f} MB from the first to the last segment "
        f"(growth {last - first:+.1f} MB; target flat), {min(night):.0f}..{max(night):.0f} MB "
        f"sampled during the night; peak (VmHWM, whole process incl. closing the EDF+) "
        f"{peak[0]:.0f} MB (target <= 150 MB)"
    )


if __name__ == "__main__":
    main()
