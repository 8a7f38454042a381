"""The shipped detection model: a scikit-learn classifier saved with skops, loaded safely.

A model file is a skops archive of a plain dict::

    {"format": 1, "estimator": <fitted classifier>, "features": [...],
     "classes": [...], "thresholds": {...}, "meta": {...}}

Loading never uses pickle: :func:`load_model` lists the archive's untrusted types with
``skops.io.get_untrusted_types`` and refuses the file unless every one of them is in
:data:`ALLOWED_TYPES`; only then is ``skops.io.load(..., trusted=ALLOWED_TYPES)`` called.
A file that references ``os.system``, ``builtins.eval`` or any custom class is refused with
a :class:`~crampwatch.errors.CrampwatchError` naming the offending types, before anything
from it is constructed.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from crampwatch.detect.trackers import CrampParams
from crampwatch.errors import CrampwatchError

__all__ = [
    "ALLOWED_TYPES",
    "CLASSES",
    "DEFAULT_THRESHOLDS",
    "MODEL_ENV",
    "MODEL_FORMAT",
    "CrampModel",
    "cramp_params",
    "default_model",
    "default_model_path",
    "load_model",
    "packaged_model_dir",
    "save_model",
]

log = logging.getLogger(__name__)

MODEL_ENV = "CRAMPWATCH_MODEL"
MODEL_FORMAT = 1
MODEL_FILENAME = "crampwatch-detector.skops"

# Frame classes, in the order of the classifier's output columns.
CLASSES: tuple[str, ...] = ("rest", "cramp", "leg_movement", "movement", "artefact")

# Types skops does not trust by default but that a HistGradientBoostingClassifier needs.
# Everything else skops would call untrusted is refused (numpy arrays, builtins containers
# and scikit-learn estimators are trusted by skops itself).
ALLOWED_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
)

# Cramp alarm rule (CrampParams); the trained model file carries its own, chosen on a
# validation split; these are the fallback values: the rule's defaults for the cramp
# probability needed (p_on) on k_frames consecutive frames, and to keep a cramp (p_off).
DEFAULT_THRESHOLDS: dict[str, float] = {
    k: getattr(CrampParams, k) for k in ("p_on", "k_frames", "p_off")
}


@cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _single_thread():
    """Context manager limiting OpenMP to one thread (for the classifier's predict)."""
    return _controller().limit(limits=1, user_api="openmp")


@dataclass(frozen=True)
class CrampModel:
    """A fitted frame classifier with its feature list, classes and alarm thresholds.

    ``predict_proba(X)`` takes rows of :attr:`features` (NaN allowed: the classifier
    handles missing values natively) and returns one column per class of :data:`CLASSES`.
    """

    estimator: Any
    features: tuple[str, ...]
    classes: tuple[str, ...] = CLASSES
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    meta: Mapping[str, Any] = field(default_factory=dict)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes)); columns in :attr:`classes` order."""
        X = np.asarray(X, dtype=np.float64)
        out = np.zeros((X.shape[0], len(self.classes)))
        if X.shape[0] == 0:
            return out
        # one thread: the batches are small (a block's active frames), and OpenMP
        # threads spinning beside the service's other work cost far more than they save
        with _single_thread():
            proba = self.estimator.predict_proba(X)
        # the estimator may have seen only some classes: map its columns to ours
        for j, label in enumerate(self.estimator.classes_):
            out[:, int(label)] = proba[:, j]
        return out


def cramp_params(model: CrampModel) -> CrampParams:
    """The cramp alarm rule with ``model``'s thresholds (those that name a
    :class:`~crampwatch.detect.trackers.CrampParams` field; the rest keep its defaults)."""
    names = {f.name for f in fields(CrampParams)}
    kw: dict[str, Any] = {}
    for k, v in model.thresholds.items():
        if k in names:
            kw[k] = int(v) if k == "k_frames" else float(v)
    return CrampParams(**kw)


def packaged_model_dir() -> Path:
    """The package's ``crampwatch/models/`` folder: the shipped model and its card travel
    with every install (wheel, pipx, editable), not only with a source checkout."""
    # a plain folder in every install crampwatch supports (not run from a zip archive)
    return Path(str(files("crampwatch") / "models"))


def default_model_path() -> Path:
    """``$CRAMPWATCH_MODEL`` or the model shipped in the package (``crampwatch/models/``)."""
    if env := os.environ.get(MODEL_ENV):
        return Path(env)
    return packaged_model_dir() / MODEL_FILENAME


def save_model(model: CrampModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` as a skops archive (never pickle) and return the path."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(
        {
            "format": MODEL_FORMAT,
            "estimator": model.estimator,
            "features": list(model.features),
            "classes": list(model.classes),
            "thresholds": {k: float(v) for k, v in model.thresholds.items()},
            "meta": dict(model.meta),
        },
        path,
        # deflated: the tree arrays shrink to about a third (the repository keeps models
        # small); loading is unchanged
        compression=zipfile.ZIP_DEFLATED,
        compresslevel=9,
    )
    return path


def load_model(
    path: str | os.PathLike[str], *, allowed: Sequence[str] = ALLOWED_TYPES
) -> CrampModel:
    """Load a model archive after checking its untrusted types against ``allowed``.

    Raises :class:`CrampwatchError` if the file is missing, unreadable, references any
    type outside the allow-list, or is not a crampwatch model.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise CrampwatchError(f"model file not found: {path} (set {MODEL_ENV} or run 'train')")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt zip, not a skops file, ...
        raise CrampwatchError(f"cannot read model file {path}: {exc}") from exc
    refused = sorted(set(untrusted) - set(allowed))
    if refused:
        raise CrampwatchError(
            f"refusing model file {path}: it contains types outside the allow-list: "
            + ", ".join(refused)
        )
    try:
        obj = sio.load(path, trusted=[t for t in untrusted if t in allowed])
    except Exception as exc:
        raise CrampwatchError(f"cannot load model file {path}: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise CrampwatchError(f"{path} is not a crampwatch model (format {MODEL_FORMAT})")
    try:
        model = CrampModel(
            estimator=obj["estimator"],
            features=tuple(obj["features"]),
            classes=tuple(obj["classes"]),
            thresholds=dict(obj["thresholds"]),
            meta=dict(obj.get("meta") or {}),
        )
    except KeyError as exc:
        raise CrampwatchError(f"model file {path} lacks key {exc}") from exc
    _check_features(model, path)
    return model


def _check_features(model: CrampModel, path: str | os.PathLike[str]) -> None:
    """Refuse (one line) a model that needs inputs this version no longer computes, e.g.
    one trained before a feature was redefined: failing at load time beats failing at
    the first active frame of a night."""
    from crampwatch.detect.features import MODEL_FEATURES

    missing = [f for f in model.features if f not in MODEL_FEATURES]
    if missing:
        raise CrampwatchError(
            f"model file {path} was trained on features this version does not compute "
            f"({', '.join(missing[:4])}{', …' if len(missing) > 4 else ''}); retrain it with "
            "'crampwatch train'"
        )


@cache
def _cached_default(path: str) -> CrampModel:
    return load_model(path)


def default_model() -> CrampModel:
    """The shipped model (cached per path)."""
    return _cached_default(str(default_model_path()))
