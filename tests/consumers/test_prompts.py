"""The stretch prompts say what the product promises, and never name quinine."""

from __future__ import annotations

from pathlib import Path

import crampwatch.consumers
from crampwatch.consumers.prompts import DISCLAIMER, prompt_steps


def _all_text() -> str:
    return " ".join(f"{p.title} {p.text}" for p in prompt_steps()).lower()


def test_steps_in_order_stretch_stand_massage_warmth_doctor() -> None:
    titles = [p.title.lower() for p in prompt_steps()]
    order = ["knee", "stand", "massage", "warmth", "doctor"]
    positions = [next(i for i, t in enumerate(titles) if word in t) for word in order]
    assert positions == sorted(positions)


def test_stretch_pulls_the_foot_toward_the_shin() -> None:
    first = prompt_steps()[0].text.lower()
    assert "straighten" in first and "toes" in first and "shin" in first


def test_doctor_advice_names_the_warning_signs() -> None:
    text = _all_text()
    for sign in ("often", "severe", "swelling", "redness", "weakness"):
        assert sign in text


def test_not_a_medical_device() -> None:
    assert "not a medical device" in DISCLAIMER


def test_quinine_appears_nowhere_in_what_the_alarm_can_show() -> None:
    root = Path(crampwatch.consumers.__file__).parent
    hits = [p for p in root.rglob("*.py") if "quinine" in p.read_text().lower()]
    assert hits == []
