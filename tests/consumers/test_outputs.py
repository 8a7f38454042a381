"""Alarm outputs: terminal view, sound file, availability."""

from __future__ import annotations

import io
import tempfile
import time
import wave

import numpy as np

from crampwatch.consumers.alarm import AlarmAction, CallbackOutput
from crampwatch.consumers.outputs import SoundOutput, TerminalOutput, beep_wav, find_player
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


def fake_player(folder, name: str, *, works: bool, log=None) -> None:
    """A stand-in sound player: copies the WAV it is given to ``log`` (if set) and exits
    0, or fails like a player without a sound device."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    # copy, then rename: a reader never sees half a file
    body = f'/bin/cp "$1" "{log}.$$.tmp" && /bin/mv "{log}.$$.tmp" "{log}.$$.wav"\n'
    body = body if log else ""
    if works:
        script.write_text(f"#!/bin/sh\n{body}exit 0\n")
    else:
        script.write_text("#!/bin/sh\necho 'Connection failure: Connection refused' >&2\nexit 1\n")
    script.chmod(0o755)


def test_the_first_working_player_in_the_fallback_order_is_used(tmp_path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_player(bin_dir, "pw-play", works=False)  # installed, but no PipeWire running
    fake_player(bin_dir, "paplay", works=True)
    fake_player(bin_dir, "aplay", works=True)
    monkeypatch.setenv("PATH", str(bin_dir))
    check = find_player()
    assert check.ok and check.player == str(bin_dir / "paplay")
    assert check.tried == ("pw-play: Connection failure: Connection refused",)
    assert check.line() == "sound: alarm tone through paplay"


def test_no_working_player_is_said_in_one_prominent_line(tmp_path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_player(bin_dir, "aplay", works=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    check = find_player()
    line = check.line()
    assert not check.ok and line.startswith("NO SOUND:") and "\n" not in line
    assert "pw-play: not installed" in line and "aplay: Connection failure" in line
    assert "alsa-utils" in line  # what to install


def test_a_ring_plays_the_generated_tone_until_silenced(tmp_path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_player(bin_dir, "aplay", works=True, log=tmp_path / "played")
    monkeypatch.setenv("PATH", str(bin_dir))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    sound = SoundOutput(find_player().player)

    def peaks() -> list[int]:
        out = []
        for path in tmp_path.glob("played.*.wav"):
            with wave.open(str(path)) as w:
                frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            out.append(int(np.abs(frames).max()) if frames.size else 0)
        return out

    assert peaks() == [0]  # the start-up check played only silence
    sound.handle(AlarmAction("ring", "d", "e1", level=1))
    deadline = time.monotonic() + 10
    while len(peaks()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    sound.handle(AlarmAction("silence", "d", "e1", text="ack"))
    assert max(peaks()) > 5000  # the generated tone went to the player
    assert sound._thread is not None
    sound._thread.join(timeout=10)
    assert not sound._thread.is_alive()
    assert list(scratch.iterdir()) == []  # the tone's files went with the silence
