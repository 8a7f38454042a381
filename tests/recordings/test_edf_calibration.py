"""A file whose scale is impossible, or that holds no data, is one error line: read as
it is it would be scored in raw counts (a shin motion of 200 g) and exit 0."""

from __future__ import annotations

import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from crampwatch.simulate import simulate_night, write_night

CRAMPWATCH = Path(sysconfig.get_path("scripts")) / "crampwatch"


def _patched(tmp_path: Path, case: str) -> Path:
    """A valid EDF+ of 30 s, then one header field of its first channel (EMG Calf)
    rewritten (EDF header: 256 bytes, then each field for all ns signals in turn)."""
    good = tmp_path / "good.edf"
    write_night(simulate_night(30 / 3600, 1, emg_fs_hz=200, acc_fs_hz=20), good)
    raw = bytearray(good.read_bytes())
    ns = int(raw[252:256])

    def field(per_signal_offset: int) -> slice:  # the 8-byte field of signal 0
        start = 256 + per_signal_offset * ns
        return slice(start, start + 8)

    phys_min, phys_max, dig_min, dig_max = field(104), field(112), field(120), field(128)
    if case == "physical min = max":
        raw[phys_max] = raw[phys_min]
    elif case == "physical max NaN":
        raw[phys_max] = b"nan".ljust(8)
    elif case == "digital min = max":
        raw[dig_max] = raw[dig_min]
    elif case == "no data records":
        raw = raw[: int(raw[184:192])]
        raw[236:244] = b"0".ljust(8)
    bad = tmp_path / "bad.edf"
    bad.write_bytes(bytes(raw))
    return bad


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("physical min = max", "impossible scale (physical -5000 to -5000"),
        ("physical max NaN", "impossible scale (physical -5000 to nan"),
        ("digital min = max", "impossible scale (physical -5000 to 5000, digital -32768 to -32768"),
        ("no data records", "no data records"),
    ],
)
@pytest.mark.parametrize("verb", ["detect", "run"])
def test_an_impossible_scale_or_an_empty_file_is_one_error_line(tmp_path, case, message, verb):
    bad = _patched(tmp_path, case)
    args = [str(bad)] if verb == "detect" else ["--replay", str(bad), "--speed", "0"]
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": "", "CRAMPWATCH_DATA": ""}
    proc = subprocess.run(
        [str(CRAMPWATCH), verb, *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"crampwatch: error: {bad}: ")
    assert message in proc.stderr
    assert proc.stdout == ""
