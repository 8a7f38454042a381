"""The package carries what it needs: a wheel built from this checkout, installed into a
fresh virtual environment without the dev/bench extras, replays a simulated night from a
folder outside the checkout (``crampwatch run`` and ``crampwatch detect``), finds its
cramp and shows it in the report page (templates are package data). Nothing of the
checkout is on the path: only what the wheel holds is there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.user import console_script, night_with_a_cramp, run_command, user_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# what a wheel is built from (a copy: the build leaves build/ and *.egg-info behind)
SOURCES = ("pyproject.toml", "README.md", "src", "firmware_interfaces")


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with only the wheel and its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, tree / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy2(src, tree / name)
    _pip("wheel", "--no-deps", "-w", str(work / "dist"), str(tree))
    (wheel,) = (work / "dist").glob("crampwatch-*.whl")
    venv = work / "venv"
    # no pip inside the new venv: this interpreter's pip installs into it (quicker)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _pip("--python", str(venv / "bin" / "python"), "install", str(wheel))
    return venv / "bin"


def test_the_wheel_alone_replays_a_night_and_finds_the_cramp(installed: Path, tmp_path) -> None:
    env = user_env(tmp_path / "home")
    cw = console_script(installed)
    where = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import crampwatch, importlib.util as u; "
            "print(crampwatch.__file__); print(u.find_spec('pytest') is None)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(installed.parent)), "imported from the fresh venv"
    assert where[1] == "True", "the dev extras are not installed"

    night, onset_s = night_with_a_cramp(cw, tmp_path, env)
    detect = subprocess.run(
        [cw, "detect", str(night)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert detect.returncode == 0, detect.stderr
    events = [json.loads(line) for line in detect.stdout.splitlines()]
    onsets = {e["onset_s"] for e in events if e["type"] == "cramp"}
    assert len(onsets) == 1 and abs(onsets.pop() - onset_s) < 30.0

    run = run_command([cw, "run", "--replay", str(night), "--speed", "0"], env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "1 cramp" in run.stdout

    # the report page and the model card are templates that travel as package data
    page = tmp_path / "report.html"
    review = subprocess.run(
        [cw, "review", "--last", "--html", str(page)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert review.returncode == 0, review.stderr
    assert 'data-cramps="1"' in page.read_text() and "What helps" in page.read_text()
    card = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "from crampwatch.detect.card import write_model_card as w; "
            "from crampwatch.detect.model import default_model as m; "
            "print(w('card.md', m(), config={}, frame_metrics={}, event_metrics={}, "
            "train_command='t', eval_command='e').read_text())",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert card.stdout.startswith("# crampwatch detector — model card"), card.stderr

    # the sensor profiles travel with the package too (a BLE config needs them)
    devices = subprocess.run([cw, "devices"], capture_output=True, text=True, env=env)
    assert "crampwatch-ref" in devices.stdout, devices.stderr
