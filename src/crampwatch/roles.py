"""Channel roles of the sensor montage (✦ contract, see docs/architecture.md).

| role | what | units |
|---|---|---|
| ``emg_calf`` | surface EMG over gastrocnemius (the cramp alarm needs it) | µV |
| ``emg_tibialis`` | surface EMG over tibialis anterior (the PSG leg channel) | µV |
| ``acc_x``/``acc_y``/``acc_z`` | 3-axis accelerometer on the shin (the cramp alarm needs it) | g |

What runs depends on what is there: leg movements need only one leg EMG; the cramp
alarm needs :data:`REQUIRED_ROLES`. A recording with both legs names its channels by
*channel key*: ``role.left`` / ``role.right`` (:func:`channel_key`).
"""

from __future__ import annotations

__all__ = [
    "ACC_ROLES",
    "DEFAULT_LABELS",
    "EMG_COUNTS_UNIT",
    "EMG_ROLES",
    "LEGS",
    "LEG_EMG_ROLES",
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "ROLES",
    "UNITS",
    "channel_key",
    "split_key",
    "unit_label",
]

EMG_ROLES: tuple[str, ...] = ("emg_calf", "emg_tibialis")
ACC_ROLES: tuple[str, ...] = ("acc_x", "acc_y", "acc_z")
ROLES: tuple[str, ...] = EMG_ROLES + ACC_ROLES
REQUIRED_ROLES: tuple[str, ...] = ("emg_calf", *ACC_ROLES)
OPTIONAL_ROLES: tuple[str, ...] = ("emg_tibialis",)
LEGS: tuple[str, ...] = ("left", "right")
# leg EMG for leg movements, preferred first: polysomnography scores the tibialis
LEG_EMG_ROLES: tuple[str, ...] = ("emg_tibialis", "emg_calf")


def channel_key(role: str, leg: str | None = None) -> str:
    """``role`` or ``role.leg`` (e.g. ``emg_tibialis.left``) for a two-leg recording."""
    return role if leg is None else f"{role}.{leg}"


def split_key(key: str) -> tuple[str, str | None]:
    """``"emg_tibialis.left"`` -> ``("emg_tibialis", "left")``; ``"acc_x"`` ->
    ``("acc_x", None)``."""
    role, _, leg = key.partition(".")
    return role, leg or None


UNITS: dict[str, str] = {
    "emg_calf": "uV",
    "emg_tibialis": "uV",
    "acc_x": "g",
    "acc_y": "g",
    "acc_z": "g",
}

# EDF unit of EMG whose scale is not known to be µV (device counts, a nominal scale)
EMG_COUNTS_UNIT = "counts"


def unit_label(role: str, emg_units_known: bool = True) -> str:
    """The EDF physical dimension written for ``role``: :data:`UNITS`, or
    ``counts`` for EMG whose scale is not known to be µV (a reader then scores it
    relative to its resting level)."""
    if role in EMG_ROLES and not emg_units_known:
        return EMG_COUNTS_UNIT
    return UNITS[role]


# EDF labels written by the simulator and recorder; also the default match patterns
# (case-insensitive, surrounding whitespace ignored).
DEFAULT_LABELS: dict[str, str] = {
    "emg_calf": "EMG Calf",
    "emg_tibialis": "EMG Tibialis",
    "acc_x": "Acc X",
    "acc_y": "Acc Y",
    "acc_z": "Acc Z",
}
