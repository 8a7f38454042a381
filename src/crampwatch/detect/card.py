"""The model card (``crampwatch/models/MODEL_CARD.md``): what the shipped model was trained on
and how well it does. The text is the template ``detect/templates/MODEL_CARD.md.jinja``;
this module hands it the model, its alarm parameters and the figures."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crampwatch.detect.features import MODEL_FEATURES
from crampwatch.detect.metrics import METRICS, format_causes, format_value
from crampwatch.detect.model import CrampModel, cramp_params
from crampwatch.templates import template_env

__all__ = ["write_model_card"]


def _g(value: float) -> str:
    """A number as the card shows a parameter: ``2``, ``0.35``, ``1e-06``."""
    return f"{value:g}"


# Markdown: nothing is escaped (the values are the model's and the command line's)
_ENV = template_env("crampwatch.detect", autoescape=False)
_ENV.filters.update(g=_g, value=format_value, causes=format_causes)


def write_model_card(
    path: str | Path,
    model: CrampModel,
    *,
    config: Mapping[str, Any],
    frame_metrics: Mapping[str, Mapping[str, float]],
    event_metrics: Mapping[str, Mapping[str, Any]],
    train_command: str,
    eval_command: str,
) -> Path:
    """Write the model card (Markdown) next to the model and return its path."""
    path = Path(path)
    thr = dict(model.thresholds)
    p = cramp_params(model)
    text = _ENV.get_template("MODEL_CARD.md.jinja").render(
        model=model,
        p=p,
        thresholds=thr,
        config=config,
        features=MODEL_FEATURES,
        frame_metrics=frame_metrics,
        event_metrics=event_metrics,
        metrics=METRICS,
        nan=math.nan,
        train_command=train_command,
        eval_command=eval_command,
    )
    path.write_text(text)
    return path
