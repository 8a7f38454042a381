"""Running crampwatch as a person does: the installed console script, default options,
a fresh ``HOME`` (no ``CRAMPWATCH_*`` or ``XDG_DATA_HOME`` from the test runner)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["Background", "console_script", "night_with_a_cramp", "run_command", "user_env"]


def console_script(bin_dir: Path | None = None) -> str:
    """The ``crampwatch`` script next to the interpreter (of the venv running the tests,
    or of ``bin_dir``)."""
    return str((bin_dir or Path(sys.executable).parent) / "crampwatch")


def user_env(home: Path) -> dict[str, str]:
    """The environment of a person whose home is ``home``: crampwatch's files go to
    ``home/.local/share/crampwatch``, nothing points into the test's folders."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRAMPWATCH_", "PYTHON")) and k not in ("XDG_DATA_HOME", "VIRTUAL_ENV")
    }
    env["HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    return env


def run_command(
    args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """A command run to its end like a terminal command, its output kept as text."""
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


class Background:
    """A process started like a terminal command; its stdout and stderr are collected by
    threads, so every wait on them has a timeout."""

    def __init__(self, args: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            into.append(line)

    @property
    def out(self) -> str:
        return "".join(self._out)

    @property
    def err(self) -> str:
        return "".join(self._err)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM (as systemd or Ctrl-C would), then wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for reader in self._readers:
            reader.join(5)
        return self.proc.returncode


def night_with_a_cramp(script: str, folder: Path, env: dict[str, str]) -> tuple[Path, float]:
    """``crampwatch simulate`` half an hour (seed 1: one cramp) into ``folder``; returns
    the recording and the true onset of its cramp (s from the start)."""
    edf = folder / "night.edf"
    subprocess.run(
        [script, "simulate", "--hours", "0.5", "--seed", "1", "--output", str(edf)],
        check=True,
        capture_output=True,
        env=env,
        cwd=folder,
        timeout=180,
    )
    truth = json.loads(edf.with_suffix(".truth.json").read_text())["truth"]
    cramps = [t for t in truth if t["type"] == "cramp"]
    assert len(cramps) == 1, "seed 1 holds one cramp"
    return edf, float(cramps[0]["onset_s"])
