"""Alarm outputs: terminal view, sound file, availability."""

from __future__ import annotations

import io
import wave

from crampwatch.consumers.alarm import AlarmAction, CallbackOutput
from crampwatch.consumers.outputs import SoundOutput, TerminalOutput, beep_wav
from crampwatch.consumers.prompts import WAKE_HEADLINE, prompt_steps


def test_terminal_rings_with_bell_and_shows_the_step() -> None:
    out = io.StringIO()
    term = TerminalOutput(out)
    term.handle(AlarmAction("ring", "d", "e1", level=1, leg="left"))
    step = prompt_steps()[1]
    term.handle(AlarmAction("prompt", "d", "e1", step=1, steps=5, prompt=step, leg="left"))
    text = out.getvalue()
    assert text.startswith("\a") and WAKE_HEADLINE in text and "left leg" in text
    assert f"Step 2 of 5: {step.title}" in text
    assert "\x1b[2J" not in text  # not a terminal: no screen clearing codes


def test_terminal_notice_is_gentle() -> None:
    out = io.StringIO()
    TerminalOutput(out).handle(AlarmAction("notice", "d", text="Monitoring stopped: x"))
    assert "Monitoring stopped" in out.getvalue() and "\a" not in out.getvalue()


def test_beep_wav_is_a_one_second_16_bit_file(tmp_path) -> None:
    path = beep_wav(tmp_path / "b.wav", fs_hz=8000)
    with wave.open(str(path)) as w:
        assert (w.getsampwidth(), w.getframerate()) == (2, 8000)
        assert 0.9 <= w.getnframes() / 8000 <= 1.1


def test_sound_without_a_player_does_nothing(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)
    sound = SoundOutput()
    assert not sound.available
    sound.handle(AlarmAction("ring", "d", "e1", level=1))  # must not raise


def test_callback_output_forwards_actions() -> None:
    got: list[str] = []
    CallbackOutput(lambda a: got.append(a.kind)).handle(AlarmAction("ring", "d"))
    assert got == ["ring"]
