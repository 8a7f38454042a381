"""Channel labels -> roles, and physical units -> the roles' units (µV, g).

Default label patterns (case-insensitive, whole label, runs of spaces/``_``/``-``/``.``
treated as one separator; an optional side suffix ``L``/``R``/``left``/``right``/``Lt``/
``Rt`` is allowed after each):

- ``emg_calf``: ``EMG Calf``, ``Calf``, ``EMG Gastroc``, ``Gastrocnemius L``,
  ``Gastroc-R``, ``Soleus``, ``EMG GM``;
- ``emg_tibialis``: ``EMG Tibialis``, ``Tibialis Anterior``, ``EMG Tib``, ``Tib L``,
  ``TA``, and the PSG leg channels ``LAT``/``RAT`` (also ``LAT1-LAT2``, ``L-AT``,
  ``Leg L``, ``Leg/R``);
- ``acc_x``/``acc_y``/``acc_z``: ``Acc X``, ``AccX``, ``Accel X``, ``ACC_X``,
  ``Accelerometer X``, ``Acceleration-X``, ``X Acc``.

A role that several labels match (e.g. ``LAT`` and ``RAT`` in a two-leg PSG) is an
error that asks for ``--channel ROLE=LABEL``: guessing a leg would be worse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from crampwatch.errors import CrampwatchError
from crampwatch.roles import ACC_ROLES, EMG_ROLES, REQUIRED_ROLES, ROLES

__all__ = [
    "DEFAULT_PATTERNS",
    "emg_units_calibrated",
    "match_roles",
    "normalise_label",
    "parse_channel_options",
    "unit_scale",
]

_SIDE = r"(?: (?:l|r|left|right|lt|rt|links|rechts))?"
_ACC = r"(?:acc|accel|accelerometer|acceleration)"

DEFAULT_PATTERNS: dict[str, re.Pattern[str]] = {
    "emg_calf": re.compile(
        rf"(?:emg )?(?:calf|gastroc|gastrocnemius|gastrocnemius (?:medialis|lateralis)"
        rf"|gast|gm|gl|soleus|sol|triceps surae){_SIDE}(?: emg)?"
    ),
    "emg_tibialis": re.compile(
        rf"(?:emg )?(?:tibialis(?: anterior| ant)?|tib(?: ant)?|ta){_SIDE}(?: emg)?"
        r"|(?:emg )?[lr] ?at(?: ?[12])?(?: ?[lr] ?at(?: ?[12])?)?"
        r"|(?:emg )?leg ?[lr]"
    ),
    **{
        role: re.compile(rf"(?:{_ACC} ?{axis}|{axis} ?{_ACC}){_SIDE}")
        for role, axis in zip(ACC_ROLES, "xyz", strict=True)
    },
}

# physical dimension (normalised: lower case, no spaces) -> factor to the role's unit
_EMG_UNITS = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
# EMG "units" that are not a voltage but raw ADC counts or an arbitrary scale (EDF
# writers leave the field empty or write one of these): read as they are, scored
# relative to the resting level.
_EMG_COUNT_UNITS = frozenset(
    {"", "-", "counts", "count", "cnt", "adu", "adc", "au", "a.u.", "a.u", "arb", "arb.u."}
    | {"arbitrary", "raw", "lsb", "digital", "units", "unit", "n/a", "none"}
)
_ACC_UNITS = {
    "g": 1.0,
    "mg": 1e-3,
    "m/s^2": 1 / 9.80665,
    "m/s2": 1 / 9.80665,
    "m/s²": 1 / 9.80665,
    "m/s/s": 1 / 9.80665,
    "ms^-2": 1 / 9.80665,
    "ms-2": 1 / 9.80665,
}


def normalise_label(label: str) -> str:
    """Lower case; runs of whitespace, ``_``, ``-``, ``.``, ``/`` become one space."""
    return re.sub(r"[\s_\-./:]+", " ", label.strip().lower()).strip()


def parse_channel_options(values: Sequence[str]) -> dict[str, str]:
    """``["emg_calf=Gastroc L", ...]`` (repeated ``--channel``) -> ``{role: label}``."""
    mapping: dict[str, str] = {}
    for value in values:
        role, sep, label = value.partition("=")
        role, label = role.strip(), label.strip()
        if not sep or not role or not label:
            raise CrampwatchError(f"--channel {value!r}: expected ROLE=LABEL, e.g. emg_calf=LAT")
        if role not in ROLES:
            raise CrampwatchError(
                f"--channel {value!r}: unknown role {role!r}; roles are {', '.join(ROLES)}"
            )
        if role in mapping and mapping[role] != label:
            raise CrampwatchError(f"--channel: role {role!r} given twice")
        mapping[role] = label
    return mapping


def match_roles(
    labels: Sequence[str], channel_map: Mapping[str, str] | None = None, *, source: str = ""
) -> dict[str, int]:
    """Role -> index into ``labels``; explicit ``channel_map`` entries win.

    Raises :class:`CrampwatchError` for an unknown role or unmatched label in the map,
    an ambiguous default match, or a missing required role.
    """
    where = f"{source}: " if source else ""
    norm = [normalise_label(x) for x in labels]
    available = ", ".join(repr(x.strip()) for x in labels) or "none"
    found: dict[str, int] = {}
    for role, label in (channel_map or {}).items():
        if role not in ROLES:
            raise CrampwatchError(f"{where}unknown role {role!r}; roles are {', '.join(ROLES)}")
        want = normalise_label(label)
        hits = [i for i, x in enumerate(norm) if x == want]
        if not hits:
            raise CrampwatchError(
                f"{where}no channel labelled {label!r} for {role}; the file has {available}"
            )
        found[role] = hits[0]
    taken = set(found.values())
    for role in ROLES:
        if role in found:
            continue
        hits = [
            i for i, x in enumerate(norm) if i not in taken and DEFAULT_PATTERNS[role].fullmatch(x)
        ]
        if len(hits) > 1:
            names = ", ".join(repr(labels[i].strip()) for i in hits)
            raise CrampwatchError(
                f"{where}several channels could be {role} ({names}); "
                f"choose one with --channel {role}=LABEL"
            )
        if hits:
            found[role] = hits[0]
            taken.add(hits[0])
    missing = [r for r in REQUIRED_ROLES if r not in found]
    if missing:
        raise CrampwatchError(
            f"{where}no channel for {', '.join(missing)}; the file has {available}; "
            f"map one with --channel ROLE=LABEL"
        )
    return found


def emg_units_calibrated(dimension: str) -> bool:
    """Whether an EMG channel's unit label names a voltage (µV, mV, ...), as opposed to
    device counts or an empty/arbitrary label (``counts``, ``adu``, ``a.u.``, ``""``)."""
    return _unit_key(dimension) in _EMG_UNITS


def unit_scale(role: str, dimension: str, *, source: str = "") -> float:
    """Factor that turns values in ``dimension`` into the role's unit (µV or g).

    EMG in counts or without a unit (:data:`_EMG_COUNT_UNITS`) is kept as it is (factor
    1): detection then has to score it relative to its resting level
    (:func:`emg_units_calibrated` tells the caller). Any other unit is an error.
    """
    key = _unit_key(dimension)
    table = _EMG_UNITS if role in EMG_ROLES else _ACC_UNITS
    if key in table:
        return table[key]
    if role in EMG_ROLES and key in _EMG_COUNT_UNITS:
        return 1.0
    where = f"{source}: " if source else ""
    want = "µV, uV, mV, V or counts" if role in EMG_ROLES else "g, mg or m/s^2"
    raise CrampwatchError(f"{where}{role} has unit {dimension.strip()!r}; expected {want}")


def _unit_key(dimension: str) -> str:
    return dimension.strip().lower().replace(" ", "")
