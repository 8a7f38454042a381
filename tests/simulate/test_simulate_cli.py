"""``crampwatch simulate`` on the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyedflib
import pytest

from crampwatch.cli import main
from crampwatch.simulate import read_truth


def test_simulate_writes_edf_and_truth(tmp_path: Path, capsys):
    out = tmp_path / "night.edf"
    main(
        [
            "simulate",
            "--hours",
            "0.02",
            "--seed",
            "5",
            "--output",
            str(out),
            "--emg-rate",
            "250",
            "--acc-rate",
            "25",
            "--mains",
            "60",
            "--variant",
            "shifted",
        ]
    )
    assert "wrote" in capsys.readouterr().out
    with pyedflib.EdfReader(str(out)) as f:
        assert f.getSignalLabels() == ["EMG Calf", "EMG Tibialis", "Acc X", "Acc Y", "Acc Z"]
        assert [f.getSampleFrequency(i) for i in range(5)] == [250, 250, 25, 25, 25]
        assert f.getPhysicalDimension(0) == "uV" and f.getPhysicalDimension(4) == "g"
    assert (tmp_path / "night.truth.json").exists()
    read_truth(tmp_path / "night.truth.json")


def test_simulate_no_tibialis(tmp_path: Path):
    out = tmp_path / "n.edf"
    main(["simulate", "--hours", "0.01", "--output", str(out), "--no-tibialis"])
    with pyedflib.EdfReader(str(out)) as f:
        assert "EMG Tibialis" not in f.getSignalLabels()


def test_simulate_bad_rate_is_one_line_exit_2(tmp_path: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crampwatch",
            "simulate",
            "--output",
            str(tmp_path / "x.edf"),
            "--emg-rate",
            "100",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--emg-rate" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.edf").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--acc-rate", "500"], "--acc-rate"),
        (["--hours", "0"], "hours"),
        (["--hours", "-1"], "hours"),
    ],
)
def test_simulate_bad_options_in_process(tmp_path: Path, capsys, args, needle):
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--output", str(tmp_path / "x.edf"), *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "x.edf").exists()
