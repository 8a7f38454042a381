"""The hypnogram: sleep stages from EDF+ annotations or a hypnogram file beside the recording.

Stage annotations are recognised in the usual spellings (case-insensitive):
``Sleep stage W/1/2/3/4/R`` (Sleep-EDF, R&K: stages 3 and 4 are N3), ``Sleep stage N1``,
``N1``/``N2``/``N3``, ``W``/``Wake``, ``R``/``REM``, ``Stage 2`` …; an annotation
without a duration lasts one 30-s epoch. Other annotations (``Sleep stage ?``,
``Movement time``, lights, events) are ignored: that time counts as neither sleep nor
wake.

A hypnogram file (the Sleep-EDF convention: ``SC4001E0-PSG.edf`` with
``SC4001EC-Hypnogram.edf``, an EDF+ holding only annotations) is found beside the
recording: ``<base>-Hypnogram.edf`` for ``<base>-PSG.edf`` or ``<stem>-Hypnogram.edf``,
else the one ``*-Hypnogram.edf`` whose name shares the recording's name up to its last
character before the ``-``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from crampwatch.errors import CrampwatchError
from crampwatch.recordings.model import Annotation

__all__ = [
    "EPOCH_S",
    "SLEEP_STAGES",
    "Hypnogram",
    "find_hypnogram_file",
    "hypnogram_for",
    "parse_stage",
]

EPOCH_S = 30.0
SLEEP_STAGES = ("N1", "N2", "N3", "R")

_STAGE = re.compile(
    r"(?:sleep[ _]?stage|stage)?[ _:]*"
    r"(?P<s>w|wake|n?1|n?2|n?3|n?4|r|rem)",
    re.IGNORECASE,
)
_MAP = {"w": "W", "wake": "W", "r": "R", "rem": "R", "4": "N3", "n4": "N3"}


def parse_stage(text: str) -> str | None:
    """``"Sleep stage 2"`` -> ``"N2"``, ``"REM"`` -> ``"R"``, ``"Sleep stage W"`` ->
    ``"W"``; None for anything that is not a scored stage."""
    m = _STAGE.fullmatch(text.strip())
    if m is None:
        return None
    s = m.group("s").lower()
    return _MAP.get(s, "N" + s[-1])


@dataclass(frozen=True)
class Hypnogram:
    """Scored stages as intervals: ``onset_s``, ``end_s`` (s from the recording start)
    and ``stage`` (``W``, ``N1``, ``N2``, ``N3``, ``R``), sorted by onset."""

    onset_s: np.ndarray
    end_s: np.ndarray
    stage: tuple[str, ...]
    source: str = "annotations"
    sleep_stages: tuple[str, ...] = SLEEP_STAGES

    @staticmethod
    def from_annotations(
        annotations: Iterable[Annotation], source: str = "annotations"
    ) -> Hypnogram | None:
        """The stages among ``annotations``, or None when there are none."""
        rows = []
        for a in annotations:
            stage = parse_stage(a.text)
            if stage is not None:
                dur = a.duration_s if a.duration_s and a.duration_s > 0 else EPOCH_S
                rows.append((a.onset_s, a.onset_s + dur, stage))
        if not rows:
            return None
        rows.sort()
        return Hypnogram(
            np.array([r[0] for r in rows]),
            np.array([r[1] for r in rows]),
            tuple(r[2] for r in rows),
            source,
        )

    def stage_at(self, t_s: np.ndarray) -> np.ndarray:
        """Stage at each time (``""`` where none is scored)."""
        t = np.asarray(t_s, dtype=np.float64)
        i = np.searchsorted(self.onset_s, t, side="right") - 1
        ok = (i >= 0) & (t < self.end_s[np.maximum(i, 0)])
        stages = np.array(self.stage, dtype=object)
        return np.where(ok, stages[np.maximum(i, 0)], "")

    def hours(self, stages: Iterable[str], until_s: float = np.inf) -> float:
        """Hours scored as any of ``stages`` (within the first ``until_s`` s)."""
        want = set(stages)
        keep = np.array([s in want for s in self.stage], dtype=bool)
        dur = np.minimum(self.end_s, until_s) - np.minimum(self.onset_s, until_s)
        return float(np.sum(np.maximum(dur, 0.0)[keep])) / 3600.0

    def sleep_hours(self, until_s: float = np.inf) -> float:
        """Total sleep time (N1, N2, N3, R), hours."""
        return self.hours(self.sleep_stages, until_s)

    def wake_hours(self, until_s: float = np.inf) -> float:
        """Time scored wake, hours."""
        return self.hours(("W",), until_s)


def find_hypnogram_file(path: Path) -> Path | None:
    """The hypnogram file beside recording ``path`` (Sleep-EDF convention), or None."""
    folder, stem = path.parent, path.stem
    base = stem[:-4] if stem.lower().endswith("-psg") else stem
    for name in (f"{base}-Hypnogram.edf", f"{stem}-Hypnogram.edf"):
        cand = folder / name
        if cand.is_file() and cand != path:
            return cand
    # Sleep-EDF: SC4001E0-PSG.edf goes with SC4001EC-Hypnogram.edf (the scorer's letter)
    if len(base) > 1:
        hits = [p for p in folder.glob(f"{base[:-1]}?-Hypnogram.edf") if p != path]
        if len(hits) == 1:
            return hits[0]
    return None


def _file_annotations(path: Path) -> tuple[list[Annotation], datetime | None]:
    import edfio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edf = edfio.read_edf(path, header_encoding="latin-1")
            anns = edf.annotations
    except Exception as exc:  # edfio raises plain ValueError/IndexError on bad files
        raise CrampwatchError(f"{path}: unreadable hypnogram file ({exc})") from None
    try:
        start = edf.startdatetime.replace(tzinfo=UTC)
    except Exception:  # anonymised or malformed start: assume the recording's
        start = None
    out = [
        Annotation(float(a.onset), None if a.duration is None else float(a.duration), a.text)
        for a in anns
    ]
    return out, start


def hypnogram_for(
    annotations: Iterable[Annotation],
    path: Path | None = None,
    start_time: datetime | None = None,
) -> Hypnogram | None:
    """Stages from the recording's own annotations, else from a hypnogram file beside
    ``path`` (its onsets moved to the recording's clock when both files give a start
    time, ``start_time`` being the recording's); None when there is neither."""
    hyp = Hypnogram.from_annotations(annotations)
    if hyp is not None or path is None:
        return hyp
    other = find_hypnogram_file(Path(path))
    if other is None:
        return None
    anns, hyp_start = _file_annotations(other)
    if hyp_start is not None and start_time is not None:
        shift_s = (hyp_start - start_time).total_seconds()
        anns = [Annotation(a.onset_s + shift_s, a.duration_s, a.text) for a in anns]
    return Hypnogram.from_annotations(anns, source=other.name)
