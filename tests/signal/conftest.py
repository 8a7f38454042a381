"""Fixtures of the signal-pipeline tests."""

from __future__ import annotations

import numpy as np
import pytest
from signal_synth import night


@pytest.fixture
def small_night() -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """20 s of resting EMG (1 kHz, calf + tibialis) and a still shin (50 Hz)."""
    return night(20.0)
