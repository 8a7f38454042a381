import os
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


def _thread_env_after_loading(verb: str) -> str:
    code = (
        "import os, click\n"
        "from crampwatch.cli import cli\n"
        f"cli.get_command(click.Context(cli), {verb!r})\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout.strip()


def test_streaming_verbs_run_numpy_single_threaded_training_does_not():
    assert _thread_env_after_loading("detect") == "1 1"
    assert _thread_env_after_loading("train") == "None None"
