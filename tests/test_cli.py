import subprocess
import sys

from crampwatch.cli import VERBS, cli


def test_every_contract_verb_is_registered():
    for verb in (
        "run",
        "demo",
        "simulate",
        "detect",
        "evaluate",
        "train",
        "scan",
        "devices",
        "alarm",
        "logger",
        "review",
    ):
        assert verb in VERBS


def test_unknown_verb_is_a_one_line_error():
    proc = subprocess.run(
        [sys.executable, "-m", "crampwatch", "no-such-verb"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "no-such-verb" in proc.stderr


def test_help_lists_verbs():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "simulate" in result.output and "review" in result.output
