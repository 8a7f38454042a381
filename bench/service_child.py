"""The measured process of ``bench_service.py``: ``crampwatch run``, fed by a looping
sensor. Not a benchmark on its own (the parent starts it and samples its RSS).

It calls the command line itself (``crampwatch.cli.main(["run", "--config", ...])``:
click, the config file, logging, the broker check, the publisher with its outbox, the
recorder, detection with the shipped model) with one thing replaced: the source that
``build_sources`` would make from the config is a recorded 10-minute segment (raw
float32 files on disk) looped for the night, read 100 ms at a time with ``np.fromfile``
so the night costs no memory in this process (as a BLE sensor's notifications do not).

pandas and pytest are blocked from import here (``--block NAME``): neither is in
crampwatch's dependency closure (``bench_service.py`` checks that before starting this),
so a user's install does not have them, but this development venv does (neurokit2 for
``bench_signal.py``, the tests) and scikit-learn imports them whenever importable
(pandas +31 MB; pytest via ``sklearn.utils._testing``, which skops loads). Blocking them
makes this process import what it would in a production venv without building one;
scikit-learn treats both as optional.

Writes JSON lines to stdout: ``{"start": ...}`` once the first block is in, ``{"t_s":
..., "cpu_s": ...}`` per looped segment (the sample clock and CPU seconds so far; the
parent pairs them with the RSS it reads), ``{"done": ...}`` at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


class _Blocked:
    """A meta-path finder that makes ``import NAME`` fail as if NAME were not installed."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if any(name == n or name.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)


def _say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segment", type=Path, required=True)
    ap.add_argument("--hours", type=float, required=True)
    ap.add_argument("--broker", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--block", action="append", default=[])
    args = ap.parse_args()
    if args.block:
        sys.meta_path.insert(0, _Blocked(args.block))

    import asyncio

    import numpy as np

    from crampwatch.acquire.base import Source, SourceNotice
    from crampwatch.blocks import SampleBlock
    from crampwatch.service import app

    meta = json.loads((args.segment / "meta.json").read_text())
    fs = {role: float(v) for role, v in meta["fs_hz"].items()}
    seg_s = float(meta["duration_s"])

    class LoopedSegment(Source):
        """The segment back to back for ``hours``, in 100-ms blocks (the sample clock
        continues), as fast as the service takes them."""

        device_id = "bench"
        leg = "left"

        def __init__(self) -> None:
            self.stats: dict[str, int] = {}

        @property
        def fs_hz(self) -> dict[str, float]:
            return dict(fs)

        async def stream(self):
            yield SourceNotice("connected", 0.0, {})
            block_s = 0.1
            per_seg = round(seg_s / block_s)
            loops = int(args.hours * 3600 / seg_s)
            files = {r: open(args.segment / f"{r}.f32", "rb") for r in fs}  # noqa: SIM115
            try:
                for k in range(loops):
                    for r in files.values():
                        r.seek(0)
                    for i in range(per_seg):
                        t0 = k * seg_s + i * block_s
                        for role, f in files.items():
                            n = round(block_s * fs[role])
                            x = np.fromfile(f, dtype="<f4", count=n)
                            yield SampleBlock(role, t0, fs[role], x, k * per_seg + i, self.leg)
                        if k == 0 and i == 0:
                            _say(start=time.process_time())
                        if i % 50 == 0:
                            await asyncio.sleep(0)  # let the outbox thread and paho breathe
                    _say(t_s=(k + 1) * seg_s, cpu_s=time.process_time())
            finally:
                for f in files.values():
                    f.close()

    config = args.work / "bench.toml"
    config.write_text(
        "[service]\n"
        'device_id = "bench"\n'
        f'outbox = "{args.work / "outbox.sqlite"}"\n'
        "no_data_timeout_s = 3600\n"
        f'[broker]\nurl = "{args.broker}"\n'
        f'[recording]\nfolder = "{args.work / "recordings"}"\n'
        # what build_sources would read; the looping segment replaces it below
        "[simulator]\nhours = 8\n"
    )
    app.build_sources = lambda cfg: ([LoopedSegment()], {})
    from crampwatch.cli import main as crampwatch

    try:
        crampwatch(["run", "--config", str(config)])
        code = 0
    except SystemExit as exc:
        code = exc.code
    recordings = sorted(str(p) for p in (args.work / "recordings").glob("*.edf"))
    _say(
        done=time.process_time(),
        exit_code=code,
        recordings=recordings,
        blocked_loaded=sorted(m for m in args.block if m in sys.modules),
    )


if __name__ == "__main__":
    main()
