"""The model card: the shipped card renders again, byte for byte, from the shipped model
and the figures it reports (evaluation results are not stored in the model)."""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

from crampwatch.detect.card import write_model_card
from crampwatch.detect.metrics import METRICS
from crampwatch.detect.model import default_model


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first Markdown table after ``heading``."""
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        rows.append(_cells(ln))
    return rows


def _number(cell: str) -> Any:
    if cell == "n/a":
        return math.nan
    return int(cell) if re.fullmatch(r"-?\d+", cell) else float(cell)


def _event_metrics(text: str) -> dict[str, dict[str, Any]]:
    header, _, *rows = _table_after(text, "## Event-level metrics")
    names = header[2:]
    out: dict[str, dict[str, Any]] = {n: {} for n in names}
    by_label = {m.label: m.key for m in METRICS}
    for label, _target, *values in rows:
        for name, cell in zip(names, values, strict=True):
            if label == "false cramps caused by":
                pairs = [p.rsplit(" ", 1) for p in cell.split(", ")] if cell != "-" else []
                out[name]["false_alarm_causes"] = {k: int(v) for k, v in pairs}
            elif label == "seeds":
                out[name]["seeds"] = cell
            else:
                key = by_label[label]
                value = _number(cell)
                # counts are ints, every other figure a float (as summarize returns them)
                out[name][key] = value if key == "cramps" else float(value)
    return out


def _frame_metrics(text: str) -> dict[str, dict[str, Any]]:
    _header, _, *rows = _table_after(text, "## Frame classifier")
    return {
        c: {"precision": float(p), "recall": float(r), "f1": float(f), "frames": int(n)}
        for c, p, r, f, n in rows
    }


def test_shipped_card_renders_again_from_the_model_and_its_figures(tmp_path):
    shipped = (resources.files("crampwatch") / "models" / "MODEL_CARD.md").read_text()
    model = default_model()
    train_cmd = re.search(r"Reproduce: `([^`]*)`", shipped).group(1)
    eval_cmd = re.search(r"Command: `([^`]*)`", shipped).group(1)
    out = write_model_card(
        tmp_path / "MODEL_CARD.md",
        model,
        config={k: v for k, v in model.meta.items() if k != "training_frames"},
        frame_metrics=_frame_metrics(shipped),
        event_metrics=_event_metrics(shipped),
        train_command=train_cmd,
        eval_command=eval_cmd,
    )
    assert out.read_text() == shipped


def test_make_model_runs_the_command_the_card_names():
    """``make model`` reproduces the shipped card: its ``crampwatch train`` options,
    defaults filled in by the command itself, are the card's."""
    from crampwatch.detect.command import train

    def options(args: list[str]) -> dict[str, Any]:
        return train.make_context("train", args).params

    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    made = re.search(r"crampwatch train([^#\n]*)", makefile).group(1).split()
    shipped = (resources.files("crampwatch") / "models" / "MODEL_CARD.md").read_text()
    card = re.search(r"Reproduce: `crampwatch train([^`]*)`", shipped).group(1).split()
    assert options(made) == options(card)
