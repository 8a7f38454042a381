"""Channel labels -> channel keys (roles, per leg), and physical units -> µV, g.

Default label patterns (case-insensitive, whole label, runs of spaces/``_``/``-``/``.``
treated as one separator; a side ``L``/``R``/``left``/``right``/``Lt``/``Rt`` may come
after, and for most, before the muscle):

- ``emg_calf``: ``EMG Calf``, ``Calf``, ``EMG Gastroc``, ``Gastrocnemius L``,
  ``Gastroc-R``, ``GAS-R``, ``Soleus``, ``SO``, ``EMG GM``, ``LG``/``MG`` (lateral/
  medial gastrocnemius), ``EMG LG``;
- ``emg_tibialis``: ``EMG Tibialis``, ``Tibialis Anterior``, ``EMG Tib``, ``Tib L``,
  ``EMG Tib L``, ``TA``, ``TA-L``, and the PSG leg channels ``LAT``/``RAT`` (also
  ``LAT1-LAT2``, ``L-AT``), ``Leg L``/``Leg R``, ``Leg/R``, ``LLEG``/``RLEG``, and
  ``Leg``/``Leg 1``/``Leg 2`` (no side: two of them ask for ``--channel``);
- ``acc_x``/``acc_y``/``acc_z``: ``Acc X``, ``AccX``, ``Accel X``, ``ACC_X``,
  ``Accelerometer X``, ``Acceleration-X``, ``X Acc``.

Two channels of one role, one on each side (``LAT`` and ``RAT``, ``Leg L`` and
``Leg R``), are the two legs: channel keys ``emg_tibialis.left`` and
``emg_tibialis.right`` (see :func:`crampwatch.roles.channel_key`). Any other several
matches of a role (two calf channels ``LG`` and ``MG``, two unsided ``Leg``) is an
error naming the candidates and asking for ``--channel``: guessing would be worse.

``--channel`` (repeatable) maps a key to a label: ``ROLE=LABEL`` or, for one leg of a
two-leg recording, ``ROLE.left=LABEL`` / ``ROLE.right=LABEL`` (e.g.
``--channel emg_tibialis.left="Leg 1" --channel emg_tibialis.right="Leg 2"``). A role
mapped explicitly is not matched by default patterns.

Every role is optional, but a recording needs at least one leg EMG, and the
accelerometer has all three axes or none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from crampwatch.errors import CrampwatchError
from crampwatch.roles import ACC_ROLES, EMG_ROLES, LEGS, ROLES, channel_key, split_key

__all__ = [
    "DEFAULT_PATTERNS",
    "emg_units_calibrated",
    "label_side",
    "match_roles",
    "normalise_label",
    "parse_channel_options",
    "unit_scale",
]

_SIDE = r"(?: (?:l|r|left|right|lt|rt|links|rechts))?"
_PRE = r"(?:(?:l|r|left|right) )?"  # a side before the muscle: "Left tibialis"
_ACC = r"(?:acc|accel|accelerometer|acceleration)"

DEFAULT_PATTERNS: dict[str, re.Pattern[str]] = {
    "emg_calf": re.compile(
        rf"(?:emg )?{_PRE}(?:calf|gastroc|gastrocnemius|gastrocnemius (?:medialis|lateralis)"
        rf"|gast|gas|gm|gl|lg|mg|soleus|sol|so|triceps surae){_SIDE}(?: emg)?"
    ),
    "emg_tibialis": re.compile(
        rf"(?:emg )?{_PRE}(?:tibialis(?: anterior| ant)?|tib(?: ant)?|ta){_SIDE}(?: emg)?"
        r"|(?:emg )?[lr] ?at(?: ?[12])?(?: ?[lr] ?at(?: ?[12])?)?"
        r"|(?:emg )?[lr] ?leg(?: ?[12])?(?: ?[lr] ?leg(?: ?[12])?)?"
        r"|(?:emg )?leg ?[lr]"
        r"|(?:emg )?legs? ?[12]?"  # "Leg 1"/"Leg 2": PSG leg channels, side unknown
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

_SIDE_WORDS = {"l": "left", "left": "left", "lt": "left", "links": "left"} | {
    "r": "right",
    "right": "right",
    "rt": "right",
    "rechts": "right",
}
# "LAT1-LAT2", "L-AT", "RLEG": the side glued to the front of a PSG leg channel
_GLUED_SIDE = re.compile(r"([lr]) ?(?:at|leg)\b|([lr]) ?(?:at|leg) ?[12]")


def normalise_label(label: str) -> str:
    """Lower case; runs of whitespace, ``_``, ``-``, ``.``, ``/`` become one space."""
    return re.sub(r"[\s_\-./:]+", " ", label.strip().lower()).strip()


def label_side(label: str) -> str | None:
    """``"left"``/``"right"`` when a label names its side (``Leg L``, ``RAT``,
    ``Gastroc-R``, ``Left tibialis``), else None."""
    words = [w for w in normalise_label(label).split() if w != "emg"]
    if not words:
        return None
    for w in (words[-1], words[0]):
        if w in _SIDE_WORDS:
            return _SIDE_WORDS[w]
    m = _GLUED_SIDE.match(" ".join(words))
    if m:
        return "left" if (m.group(1) or m.group(2)) == "l" else "right"
    return None


def parse_channel_options(values: Sequence[str]) -> dict[str, str]:
    """``["emg_calf=Gastroc L", "emg_tibialis.left=Leg 1", ...]`` (repeated
    ``--channel``) -> ``{channel key: label}``."""
    mapping: dict[str, str] = {}
    for value in values:
        key, sep, label = value.partition("=")
        key, label = key.strip(), label.strip()
        if not sep or not key or not label:
            raise CrampwatchError(
                f"--channel {value!r}: expected ROLE=LABEL or ROLE.left=LABEL, e.g. "
                "emg_tibialis.left='Leg L'"
            )
        _check_key(key, f"--channel {value!r}: ")
        if key in mapping and mapping[key] != label:
            raise CrampwatchError(f"--channel: {key!r} given twice")
        mapping[key] = label
    return mapping


def _check_key(key: str, where: str) -> None:
    role, leg = split_key(key)
    if role not in ROLES:
        raise CrampwatchError(f"{where}unknown role {role!r}; roles are {', '.join(ROLES)}")
    if leg is not None and leg not in LEGS:
        raise CrampwatchError(f"{where}unknown leg {leg!r} in {key!r}; legs are left, right")


def match_roles(
    labels: Sequence[str], channel_map: Mapping[str, str] | None = None, *, source: str = ""
) -> dict[str, int]:
    """Channel key (``role`` or ``role.left``/``role.right``) -> index into ``labels``;
    explicit ``channel_map`` entries win.

    Raises :class:`CrampwatchError` for an unknown key or unmatched label in the map, an
    ambiguous default match, no leg EMG at all, or an incomplete accelerometer.
    """
    where = f"{source}: " if source else ""
    norm = [normalise_label(x) for x in labels]
    available = ", ".join(repr(x.strip()) for x in labels) or "none"
    found: dict[str, int] = {}
    for key, label in (channel_map or {}).items():
        _check_key(key, where)
        want = normalise_label(label)
        hits = [i for i, x in enumerate(norm) if x == want]
        if not hits:
            raise CrampwatchError(
                f"{where}no channel labelled {label!r} for {key}; the file has {available}"
            )
        found[key] = hits[0]
    mapped_roles = {split_key(k)[0] for k in found}
    taken = set(found.values())
    for role in ROLES:
        if role in mapped_roles:
            continue
        hits = [
            i for i, x in enumerate(norm) if i not in taken and DEFAULT_PATTERNS[role].fullmatch(x)
        ]
        sides = [label_side(labels[i]) for i in hits]
        if len(hits) == 1:
            found[role] = hits[0]
        elif len(hits) == 2 and role in EMG_ROLES and sorted(map(str, sides)) == list(LEGS):
            for i, side in zip(hits, sides, strict=True):
                found[channel_key(role, side)] = i
        elif hits:
            names = ", ".join(repr(labels[i].strip()) for i in hits)
            raise CrampwatchError(
                f"{where}several channels could be {role} ({names}); choose with "
                f"--channel {role}=LABEL (or {role}.left=LABEL and {role}.right=LABEL)"
            )
        taken.update(hits)
    roles = {split_key(k)[0] for k in found}
    if not roles & set(EMG_ROLES):
        raise CrampwatchError(
            f"{where}no leg EMG channel (emg_tibialis or emg_calf); the file has {available}; "
            f"map one with --channel emg_tibialis=LABEL (two legs: emg_tibialis.left=LABEL "
            f"and emg_tibialis.right=LABEL)"
        )
    acc = [r for r in ACC_ROLES if r in roles]
    if acc and len(acc) < len(ACC_ROLES):
        missing = ", ".join(r for r in ACC_ROLES if r not in roles)
        raise CrampwatchError(
            f"{where}accelerometer incomplete: no channel for {missing}; the file has "
            f"{available}; map it with --channel ROLE=LABEL"
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
