"""Alarm outputs: where an :class:`~crampwatch.consumers.alarm.AlarmAction` goes.

- :class:`TerminalOutput`: a full-screen terminal view (redrawn on each step) and the
  terminal bell; plain lines when the stream is not a terminal.
- :class:`SoundOutput`: a generated beeping tone (a WAV written with the standard
  library) played through the first sound player that works on this computer, in
  this order: ``pw-play`` (PipeWire), ``paplay`` (PulseAudio, also PipeWire's
  pulse server), ``aplay`` (ALSA); repeated until silenced. Each is tried at start by
  playing a moment of silence, so a player that is installed but has no device to play
  on is skipped. Without any, :func:`find_player` says so and the terminal bell
  is the last resort.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from crampwatch.consumers.alarm import AlarmAction, AlarmOutput, CallbackOutput
from crampwatch.consumers.prompts import DISCLAIMER, WAKE_HEADLINE

__all__ = [
    "PLAYERS",
    "CallbackOutput",
    "NotifySendOutput",
    "SoundCheck",
    "SoundOutput",
    "TerminalOutput",
    "beep_wav",
    "default_outputs",
    "find_player",
    "silence_wav",
]

log = logging.getLogger(__name__)

KEY_HELP = "[a] or [space]: I'm awake   [n]: not a cramp   [q]: quit"

# Sound players in the order tried, with what provides them on Debian/Raspberry Pi OS.
PLAYERS: tuple[tuple[str, str], ...] = (
    ("pw-play", "PipeWire (pipewire-bin)"),
    ("paplay", "PulseAudio (pulseaudio-utils)"),
    ("aplay", "ALSA (alsa-utils)"),
)
# A player that cannot open a sound device fails within this time; one that hangs is
# no use for an alarm either.
_PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SoundCheck:
    """Which player rings (None: none works) and what was tried, in words."""

    player: str | None
    tried: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.player is not None

    @property
    def detail(self) -> str:
        """What was tried before the player that works (or all that failed)."""
        return "; ".join(self.tried)

    def line(self) -> str:
        """One line for the alarm's start: the sound it will make, or a prominent
        warning that it cannot make any."""
        if self.player is not None:
            return f"sound: alarm tone through {Path(self.player).name}"
        tried = "; ".join(self.tried) or "no player installed"
        return (
            "NO SOUND: no working sound output found (" + tried + "); only the terminal bell "
            "will ring. Install pipewire-bin, pulseaudio-utils or alsa-utils and check a "
            "speaker is connected."
        )


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
        where = [f"{action.leg} leg"] if action.leg else []
        leg = f" ({', '.join([*where, action.device_id])})" if action.device_id else ""
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


def silence_wav(path: Path, *, fs_hz: int = 22050) -> Path:
    """A 50-ms silent WAV: what a player is tested with at start (no noise at bedtime)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(fs_hz)
        w.writeframes(b"\x00\x00" * int(0.05 * fs_hz))
    return path


def find_player(candidates: Sequence[str] | None = None) -> SoundCheck:
    """The first player of ``candidates`` (default :data:`PLAYERS`) that plays a moment
    of silence without error, and what was tried."""
    names = list(candidates) if candidates is not None else [name for name, _ in PLAYERS]
    tried: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crampwatch-probe-") as tmp:
        wav = silence_wav(Path(tmp) / "silence.wav")
        for name in names:
            path = shutil.which(name)
            if path is None:
                tried.append(f"{name}: not installed")
                continue
            try:
                done = subprocess.run(
                    [path, str(wav)], capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                tried.append(f"{name}: {type(exc).__name__}")
                continue
            if done.returncode == 0:
                return SoundCheck(path, tuple(tried))
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            tried.append(f"{name}: {why[-1][:60] if why else f'exit {done.returncode}'}")
    return SoundCheck(None, tuple(tried))


class SoundOutput:
    """Repeats a beep through a sound player from ``ring`` until ``silence``.

    ``player``: the program to use (default: the first of :data:`PLAYERS` installed;
    :func:`find_player` also checks that it plays). :attr:`available` is False (and
    nothing happens) without one.
    """

    def __init__(self, player: str | None = None) -> None:
        self.player = player or next((p for name, _ in PLAYERS if (p := shutil.which(name))), None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._level = 1

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
        # the tone's folder lives only while it plays: nothing is left in /tmp
        with tempfile.TemporaryDirectory(prefix="crampwatch-sound-") as folder:
            self._play_until_silenced(Path(folder))

    def _play_until_silenced(self, folder: Path) -> None:
        while not self._stop.is_set():
            volume = min(1.0, 0.35 * self._level)
            wav = beep_wav(folder / f"beep{self._level}.wav", volume=volume)
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


def default_outputs(
    *, sound: bool = True, stream: TextIO | None = None, check: SoundCheck | None = None
) -> list[AlarmOutput]:
    """Terminal view and bell, plus sound (the player ``check`` found; with ``sound`` and
    no check, the first installed) and desktop notification where available."""
    outputs: list[AlarmOutput] = [TerminalOutput(stream)]
    if sound:
        player = check.player if check is not None else SoundOutput().player
        if player is not None:
            outputs.append(SoundOutput(player))
    if NotifySendOutput().available:
        outputs.append(NotifySendOutput())
    return outputs
