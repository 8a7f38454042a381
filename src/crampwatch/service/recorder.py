"""The night recorder: EDF+ written as the samples arrive, events added when it ends.

Samples go straight into ``<night>.edf.part`` as EDF+C data records of 1 s
(:class:`~crampwatch.recordings.edfplus_stream.EdfPlusStreamWriter`); every event (and
every update of it) is appended to the journal ``<night>.events.jsonl``. ``finalize``
writes the latest version of each event as an EDF+ annotation into the bytes each data
record reserves for them, patches the record count into the header and renames the
file to ``<night>.edf`` (atomic: a reader never sees a half-finished EDF). Nothing
night-long is held in memory.

After a crash or SIGKILL, :func:`recover_recordings` does the same with what is on disk:
the complete data records (a partial last one is cut off) and the journal, so the next
start finds only complete EDF+ files and loses at most the last second of signal.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from crampwatch.blocks import SampleBlock
from crampwatch.events import Event, EventType
from crampwatch.recordings.edfplus_stream import EdfPlusStreamWriter, finish_edfplus, is_locked
from crampwatch.recordings.model import Annotation

__all__ = ["NightRecorder", "event_annotations", "recover_recordings", "sensor_resolution"]

log = logging.getLogger(__name__)

PART_SUFFIX = ".edf.part"
JOURNAL_SUFFIX = ".events.jsonl"


def event_annotations(events: list[Event]) -> list[Annotation]:
    """EDF+ annotations: the latest version per event id (``leg_movement periodic``, ...)."""
    latest: dict[str, Event] = {}
    for ev in events:
        latest[ev.id] = ev
    out = []
    for ev in sorted(latest.values(), key=lambda e: e.onset_s):
        text = ev.type + (" periodic" if ev.periodic else "")
        if ev.type == EventType.SIGNAL_ISSUE and ev.details.get("kind"):
            text += f" {ev.details['kind']}"
        duration = None if ev.end_s is None else max(0.0, ev.end_s - ev.onset_s)
        out.append(Annotation(onset_s=ev.onset_s, duration_s=duration, text=text))
    return out


def sensor_resolution(source: object) -> dict[str, float] | None:
    """Role -> the sensor's step (µV or g per count) from a BLE source's profile.

    With it the recording stores the sensor's counts exactly; replays and the simulator
    have no profile (None: the recorder's default ranges).
    """
    profile = getattr(source, "profile", None)
    emg = getattr(profile, "emg_uv_per_lsb", None)
    acc = getattr(profile, "acc_g_per_lsb", None)
    if not emg or not acc:
        return None
    return {
        "emg_calf": float(emg),
        "emg_tibialis": float(emg),
        "acc_x": float(acc),
        "acc_y": float(acc),
        "acc_z": float(acc),
    }


class NightRecorder:
    """Write one source's night as EDF+C while it runs; annotate it on :meth:`finalize`.

    Gaps (a block starting after the previous one ended) are zero-filled so the EDF
    keeps one continuous time axis; the gap itself is an annotated ``signal_issue``
    event. ``clipped`` counts samples outside the file's physical range, per role.
    """

    def __init__(
        self,
        folder: Path,
        stem: str,
        fs_hz: Mapping[str, float],
        start_time: datetime | None,
        *,
        resolution: Mapping[str, float] | None = None,
        emg_units_known: bool = True,
    ) -> None:
        self.edf_path = folder / f"{stem}.edf"
        self.part_path = folder / f"{stem}{PART_SUFFIX}"
        self.journal_path = folder / f"{stem}{JOURNAL_SUFFIX}"
        self._writer = EdfPlusStreamWriter(
            self.part_path,
            fs_hz,
            start_time,
            resolution=resolution,
            emg_units_known=emg_units_known,
        )
        self.journal_path.write_bytes(b"")  # a fresh night: no events yet

    @property
    def clipped(self) -> dict[str, int]:
        """Role -> samples clipped to the file's physical range so far."""
        return dict(self._writer.clipped)

    @property
    def recorded_s(self) -> float:
        """Seconds of signal in complete data records on disk."""
        return self._writer.duration_s

    def write(self, block: SampleBlock) -> None:
        """Add one block (zero-filling any gap before it)."""
        self._writer.write(block.role, block.t0_s, block.samples)

    def add_event(self, event: Event) -> None:
        """Journal an event (and its updates) for the annotations; flushed per event."""
        with open(self.journal_path, "a", encoding="utf-8") as f:
            f.write(event.to_json() + "\n")

    def finalize(self) -> Path | None:
        """Annotate, complete and rename the EDF+. Returns its path (None if empty)."""
        self._writer.close()
        clipped = {r: n for r, n in self._writer.clipped.items() if n}
        if clipped:
            log.warning("%s: samples clipped to the EDF range: %s", self.edf_path.name, clipped)
        return _finish(self.part_path, self.journal_path, self.edf_path)


def _read_journal(path: Path) -> list[Event]:
    events: list[Event] = []
    if not path.exists():
        return events
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                events.append(Event.from_dict(json.loads(line)))
            except (ValueError, KeyError):
                continue  # a half-written last line after a crash
    return events


def _finish(part: Path, journal: Path, edf_path: Path) -> Path | None:
    annotations = event_annotations(_read_journal(journal))
    try:
        n_records = finish_edfplus(part, annotations)
    except (OSError, ValueError) as exc:
        log.error("%s: cannot finish the recording (%s); left as it is", part, exc)
        return None
    if n_records == 0:
        log.info("recording %s shorter than one data record: not written", edf_path)
        part.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        return None
    part.replace(edf_path)  # atomic: a reader never sees a half-finished EDF
    journal.unlink(missing_ok=True)
    log.info("night recorded to %s (%d data records)", edf_path, n_records)
    return edf_path


def recover_recordings(folder: Path) -> list[Path]:
    """Finish recordings left by a crash (``*.edf.part``); returns the EDF files written.

    Files another running process still writes (it holds their lock) are left alone;
    journals whose recording was already finished are removed.
    """
    out: list[Path] = []
    if not folder.exists():
        return out
    for part in sorted(folder.glob(f"*{PART_SUFFIX}")):
        if is_locked(part):
            continue
        stem = part.name[: -len(PART_SUFFIX)]
        edf = _finish(part, folder / f"{stem}{JOURNAL_SUFFIX}", folder / f"{stem}.edf")
        if edf is not None:
            log.warning("recovered an unfinished recording: %s", edf)
            out.append(edf)
    for journal in folder.glob(f"*{JOURNAL_SUFFIX}"):
        stem = journal.name[: -len(JOURNAL_SUFFIX)]
        if not (folder / f"{stem}{PART_SUFFIX}").exists():
            with contextlib.suppress(OSError):
                journal.unlink()  # crashed between the rename and this cleanup
    return out
