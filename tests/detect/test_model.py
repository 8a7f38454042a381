"""Model files: skops round trip, allow-list enforcement, crafted malicious files refused."""

from __future__ import annotations

import os

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier

from crampwatch.detect.features import MODEL_FEATURES
from crampwatch.detect.model import (
    CLASSES,
    MODEL_ENV,
    MODEL_FILENAME,
    CrampModel,
    default_model_path,
    load_model,
    packaged_model_dir,
    save_model,
)
from crampwatch.errors import CrampwatchError


class Exploit:
    """A custom class whose restoration would run code (here: write a marker file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state):
        with open(state["marker"], "w") as fh:
            fh.write("pwned")
        self.__dict__.update(state)


FEATURES = MODEL_FEATURES[:3]


def _tiny_model(features: tuple[str, ...] = FEATURES) -> CrampModel:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[::5, 1] = np.nan
    y = rng.integers(0, len(CLASSES), 200)
    est = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    return CrampModel(est, features, thresholds={"p_on": 0.7, "k_frames": 4})


def test_round_trip_keeps_predictions_and_thresholds(tmp_path):
    model = _tiny_model()
    path = save_model(model, tmp_path / "m.skops")
    loaded = load_model(path)
    X = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.features == FEATURES
    assert loaded.thresholds["p_on"] == 0.7
    assert loaded.classes == CLASSES


def test_model_needing_features_no_longer_computed_is_refused(tmp_path):
    # e.g. trained before shin motion became relative to its resting level
    old = _tiny_model(("calf_lrel", "acc_motion_g", "motion_max3s"))
    path = save_model(old, tmp_path / "old.skops")
    with pytest.raises(CrampwatchError, match=r"acc_motion_g, motion_max3s\); retrain"):
        load_model(path)


def test_file_referencing_os_system_is_refused(tmp_path):
    path = tmp_path / "evil.skops"
    sio.dump({"format": 1, "estimator": os.system, "features": []}, path)
    with pytest.raises(CrampwatchError, match=r"allow-list.*system"):
        load_model(path)


def test_custom_class_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.skops"
    sio.dump({"format": 1, "estimator": Exploit(str(marker)), "features": []}, path)
    # sanity: the payload really would run if loaded without the allow-list check
    assert not marker.exists()
    with pytest.raises(CrampwatchError, match="Exploit"):
        load_model(path)
    assert not marker.exists()


def test_builtins_eval_is_refused(tmp_path):
    path = tmp_path / "evil.skops"
    sio.dump({"format": 1, "estimator": eval, "features": []}, path)
    with pytest.raises(CrampwatchError, match="eval"):
        load_model(path)


def test_not_a_model_and_missing_file(tmp_path):
    with pytest.raises(CrampwatchError, match="not found"):
        load_model(tmp_path / "nope.skops")
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(CrampwatchError, match=r"junk\.skops"):
        load_model(junk)
    other = tmp_path / "other.skops"
    sio.dump({"hello": 1}, other)
    with pytest.raises(CrampwatchError, match="not a crampwatch model"):
        load_model(other)


def test_model_path_override(monkeypatch, tmp_path):
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "x.skops"))
    assert default_model_path() == tmp_path / "x.skops"
    monkeypatch.delenv(MODEL_ENV)
    assert default_model_path() == packaged_model_dir() / MODEL_FILENAME
    assert default_model_path().is_file()  # the package carries its model
    assert default_model_path().stat().st_size <= 5e6  # and stays small enough to ship
