"""What the alarm tells a sleeper woken by a cramp: the product's own words.

The steps follow the usual first aid for a calf cramp: stretch the cramping calf by
straightening the knee and bringing the foot up toward the shin, load the leg by
standing on it, massage, then warmth, and advice on when a doctor should look at it.
Medicines are deliberately not suggested: crampwatch is not a medical device.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AFTERCARE",
    "DISCLAIMER",
    "STRETCH_PROMPTS",
    "WAKE_HEADLINE",
    "Prompt",
    "monitoring_ended",
    "monitoring_resumed",
    "monitoring_stopped",
    "prompt_steps",
    "tightening_notice",
]


@dataclass(frozen=True)
class Prompt:
    """One step shown on the alarm screen."""

    title: str
    text: str


WAKE_HEADLINE = "Leg cramp starting: stretch your calf now"

STRETCH_PROMPTS: tuple[Prompt, ...] = (
    Prompt(
        "Straighten your knee, pull your foot up",
        "Sit up and straighten the cramping leg. Pull your toes and the front of your foot "
        "up toward your shin (a towel or your hand around the ball of the foot helps) "
        "and hold the stretch while you breathe out slowly.",
    ),
    Prompt(
        "Stand on the leg",
        "If you can stand safely, get up and put your weight on the cramping leg with the "
        "heel flat on the floor. Hold on to the bed or a wall.",
    ),
    Prompt(
        "Massage the calf",
        "Knead the hard part of the calf with both hands, working up from the ankle, "
        "until the muscle lets go.",
    ),
)

AFTERCARE: tuple[Prompt, ...] = (
    Prompt(
        "Warmth afterwards",
        "Once the cramp has eased, warm the calf with a warm shower, a warm towel or a "
        "hot-water bottle. A sore calf for a while afterwards is common.",
    ),
    Prompt(
        "When to see a doctor",
        "See a doctor if cramps come often or keep spoiling your sleep, if they are very "
        "severe or long, or if the leg also shows swelling, redness, warmth, numbness or "
        "weakness. Ask before taking any medicine for cramps.",
    ),
)

DISCLAIMER = (
    "crampwatch is not a medical device: it can wake you and suggest stretches, "
    "it cannot diagnose or treat anything."
)


def monitoring_stopped(device_id: str) -> str:
    """The sensor or the service was lost (the service's last will, or no data)."""
    return (
        f"Monitoring stopped for {device_id}: crampwatch is no longer receiving from this "
        "leg sensor. You are not being watched until it reconnects."
    )


def monitoring_ended(device_id: str) -> str:
    """The service ended normally (stopped in the morning, or its replay finished)."""
    return f"Monitoring ended for {device_id}: the service was stopped normally."


def monitoring_resumed(device_id: str) -> str:
    return f"Monitoring resumed for {device_id}: the leg sensor is back."


def tightening_notice(device_id: str, leg: str | None) -> str:
    """A ``cramp_warning``, shown only when asked for: it never rings."""
    where = f"{leg} calf" if leg else "calf"
    return (
        f"Calf tightening ({where}, {device_id}): no alarm for this. If it turns into a "
        "cramp, crampwatch will wake you."
    )


def prompt_steps() -> tuple[Prompt, ...]:
    """All steps in the order the alarm shows them (stretch, then aftercare)."""
    return STRETCH_PROMPTS + AFTERCARE
