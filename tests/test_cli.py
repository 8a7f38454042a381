import os
import subprocess
import sys

import pytest

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


@pytest.fixture
def logging_restored():
    """configure_logging changes the process's root logger: put it back afterwards."""
    import logging

    from crampwatch.cli import QUIET_LIBRARIES

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    saved_levels = {n: logging.getLogger(n).level for n in QUIET_LIBRARIES}
    yield
    root.handlers[:], root.level = saved
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


def test_default_logging_is_plain_warnings_and_quiet_libraries(capsys, logging_restored):
    import logging

    from crampwatch.cli import QUIET_LIBRARIES, configure_logging

    configure_logging(False)
    logging.getLogger("crampwatch.service.runner").info("developer detail")
    logging.getLogger("crampwatch.service.runner").warning("sensor lost")
    logging.getLogger("amqtt.broker").error("No data from (client @=127.0.0.1:1)")
    logging.getLogger("transitions.core").warning("Finished processing state")
    assert capsys.readouterr().err == "warning: sensor lost\n"

    configure_logging(True)
    logging.getLogger("amqtt.broker").debug("connection from 127.0.0.1")
    assert "DEBUG amqtt.broker: connection from 127.0.0.1" in capsys.readouterr().err
    assert all(logging.getLogger(n).level == logging.NOTSET for n in QUIET_LIBRARIES)


def test_the_people_facing_verbs_take_verbose_after_the_verb():
    from click.testing import CliRunner

    for verb in ("run", "demo", "alarm", "logger"):
        result = CliRunner().invoke(cli, [verb, "--help"])
        assert "--verbose" in result.output, verb
