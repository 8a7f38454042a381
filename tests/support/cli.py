"""A crampwatch console command running in the background, for integration tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading


class Crampwatch:
    """``python -m crampwatch ARGS`` (in ``env``, None: this one) with its stdout
    collected by a thread, so that every wait on it has a timeout."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crampwatch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)

    @property
    def text(self) -> str:
        return "".join(self.out)

    def terminate(self) -> tuple[int, str]:
        """SIGTERM, wait; returns (exit status, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        self._reader.join(5)
        assert self.proc.stderr is not None
        return self.proc.returncode, self.proc.stderr.read()
