"""Alarm outputs: where an :class:`~crampwatch.consumers.alarm.AlarmAction` goes.

- :class:`TerminalOutput`: a full-screen terminal view (redrawn on each step) and the
  terminal bell; plain lines when the stream is not a terminal.
- :class:`SoundOutput`: a beeping tone through ``paplay`` (PulseAudio/PipeWire) or
  ``aplay`` (ALSA), repeated until silenced, only where one of them is installed.
- :class:`NotifySendOutput`: desktop notifications through ``notify-send`` where present.
- :class:`CallbackOutput`: any function (a push service, a smart light, a test).

Outputs are called in the alarm's lock and must return quickly.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import wave
from pathlib import Path
from typing import TextIO

import numpy as np

from crampwatch.consumers.alarm import AlarmAction, AlarmOutput, CallbackOutput
from crampwatch.consumers.prompts import DISCLAIMER, WAKE_HEADLINE

__all__ = [
    "CallbackOutput",
    "NotifySendOutput",
    "SoundOutput",
    "TerminalOutput",
    "beep_wav",
    "default_outputs",
]

log = logging.getLogger(__name__)

KEY_HELP = "[a] or [space]: I'm awake   [n]: not a cramp   [q]: quit"


class TerminalOutput:
    """Full-screen alarm view and bell on ``stream`` (default: stdout)."""

    def __init__(self, stream: TextIO | None = None, *, bell: bool = True, width: int = 72) -> None:
        self.stream = stream or sys.stdout
        self.bell = bell
        self.width = width
        self._fullscreen = bool(getattr(self.stream, "isatty", lambda: False)())
        self._status = ""

    def handle(self, action: AlarmAction) -> None:
        if action.kind == "ring":
            # The first prompt follows at once and draws the screen: just the bell here.
            self._status = f"ALARM: {WAKE_HEADLINE}"
            self._write("", bells=1)
        elif action.kind == "escalate":
            self._status = f"ALARM (level {action.level}): {WAKE_HEADLINE}"
            self._write(f"\n*** {self._status} ***\n", bells=action.level)
        elif action.kind == "prompt":
            self._write(self._frame(action, self._status))
        elif action.kind == "silence":
            reason = {
                "ack": "acknowledged",
                "not_a_cramp": "marked as not a cramp",
                "ended": "the cramp is over",
            }.get(action.text, action.text)
            self._status = f"Alarm off: {reason}."
            self._write(f"\n{self._status}\n")
        elif action.kind == "notice":
            self._write(f"\n{action.text}\n")

    def _frame(self, action: AlarmAction, status: str) -> str:
        lines = []
        if self._fullscreen:
            lines.append("\x1b[2J\x1b[H")  # clear the screen, cursor home
        leg = f" ({action.leg} leg)" if action.leg else ""
        lines += ["=" * self.width, f"  {status}{leg}".rstrip(), "=" * self.width, ""]
        if action.prompt is not None:
            lines.append(f"Step {action.step + 1} of {action.steps}: {action.prompt.title}")
            lines += textwrap.wrap(action.prompt.text, self.width)
            lines.append("")
        lines += [KEY_HELP, "", *textwrap.wrap(DISCLAIMER, self.width)]
        return "\n".join(lines) + "\n"

    def _write(self, text: str, bells: int = 0) -> None:
        if self.bell and bells:
            text = "\a" * bells + text
        self.stream.write(text)
        self.stream.flush()


def beep_wav(
    path: Path, *, freq_hz: float = 880.0, volume: float = 0.5, fs_hz: int = 22050
) -> Path:
    """Write a 1 s alarm WAV (three 0.2 s beeps of ``freq_hz`` at ``fs_hz``, 16 bit)."""
    t = np.arange(int(0.2 * fs_hz)) / fs_hz
    beep = np.sin(2 * np.pi * freq_hz * t) * np.hanning(t.size) ** 0.1
    gap = np.zeros(int(0.13 * fs_hz))
    signal = np.concatenate([beep, gap, beep, gap, beep, gap])
    pcm = (np.clip(signal * volume, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(fs_hz)
        w.writeframes(pcm.tobytes())
    return path


class SoundOutput:
    """Repeats a beep through ``paplay``/``aplay`` from ``ring`` until ``silence``.

    :attr:`available` is False (and nothing happens) where neither player exists.
    """

    def __init__(self, player: str | None = None) -> None:
        self.player = player or shutil.which("paplay") or shutil.which("aplay")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._level = 1
        self._dir = tempfile.mkdtemp(prefix="crampwatch-sound-")

    @property
    def available(self) -> bool:
        return self.player is not None

    def handle(self, action: AlarmAction) -> None:
        if not self.available:
            return
        if action.kind in ("ring", "escalate"):
            self._level = max(1, action.level)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, daemon=True)
                self._thread.start()
        elif action.kind == "silence":
            self._stop.set()
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.terminate()

    def _loop(self) -> None:
        while not self._stop.is_set():
            volume = min(1.0, 0.35 * self._level)
            wav = beep_wav(Path(self._dir) / f"beep{self._level}.wav", volume=volume)
            try:
                self._proc = subprocess.Popen(
                    [str(self.player), str(wav)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                self._proc.wait()
            except OSError as exc:
                log.warning("cannot play sound with %s: %s", self.player, exc)
                return
            if self._proc.returncode not in (0, -15):
                log.warning("%s failed (exit %s): no sound", self.player, self._proc.returncode)
                return


class NotifySendOutput:
    """Desktop notifications via ``notify-send`` (critical for a cramp, low for notices)."""

    def __init__(self) -> None:
        self.command = shutil.which("notify-send")

    @property
    def available(self) -> bool:
        return self.command is not None

    def handle(self, action: AlarmAction) -> None:
        if not self.command:
            return
        if action.kind == "ring":
            args = ["-u", "critical", "crampwatch", WAKE_HEADLINE]
        elif action.kind == "notice":
            args = ["-u", "low", "crampwatch", action.text]
        else:
            return
        try:
            subprocess.Popen(
                [self.command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError as exc:
            log.warning("notify-send failed: %s", exc)


def default_outputs(*, sound: bool = True, stream: TextIO | None = None) -> list[AlarmOutput]:
    """Terminal view and bell, plus sound and desktop notification where available."""
    outputs: list[AlarmOutput] = [TerminalOutput(stream)]
    if sound and SoundOutput().available:
        outputs.append(SoundOutput())
    if NotifySendOutput().available:
        outputs.append(NotifySendOutput())
    return outputs
