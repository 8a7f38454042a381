"""The night recorder: raw samples to disk as they arrive, EDF+ when the night ends.

EDF needs the whole header (number of records) up front, so writing EDF+ sample by
sample is not crash-safe. Instead each role is appended to a raw float32 spool file
(``<night>.spool/<role>.f32``) and flushed per block; ``finalize`` turns the spool
into ``<night>.edf`` with the detected events as EDF+ annotations and removes it. After
a crash or SIGKILL, :func:`recover_spools` finalizes whatever spool was left, so the
next start finds only complete EDF+ files (the events of that night are in the store).
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np

from crampwatch.blocks import SampleBlock
from crampwatch.events import Event
from crampwatch.recordings import Annotation, Recording, write_edf

__all__ = ["NightRecorder", "event_annotations", "recover_spools"]

log = logging.getLogger(__name__)


def event_annotations(events: list[Event]) -> list[Annotation]:
    """EDF+ annotations: the latest version per event id (``leg_movement periodic``, ...)."""
    latest: dict[str, Event] = {}
    for ev in events:
        latest[ev.id] = ev
    out = []
    for ev in sorted(latest.values(), key=lambda e: e.onset_s):
        text = ev.type + (" periodic" if ev.periodic else "")
        if ev.type == "signal_issue" and ev.details.get("kind"):
            text += f" {ev.details['kind']}"
        duration = None if ev.end_s is None else max(0.0, ev.end_s - ev.onset_s)
        out.append(Annotation(onset_s=ev.onset_s, duration_s=duration, text=text))
    return out


class NightRecorder:
    """Append blocks to a spool; write EDF+ on :meth:`finalize`.

    Gaps (a block starting after the previous one ended) are filled with zeros in the
    spool so the EDF keeps one continuous time axis; the gap itself is an annotated
    ``signal_issue`` event.
    """

    def __init__(
        self, folder: Path, stem: str, fs_hz: dict[str, float], start_time: datetime | None
    ) -> None:
        self.edf_path = folder / f"{stem}.edf"
        self.spool = folder / f"{stem}.spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self._fs = dict(fs_hz)
        self._written = dict.fromkeys(fs_hz, 0)
        self._files = {role: open(self.spool / f"{role}.f32", "ab") for role in fs_hz}  # noqa: SIM115
        meta = {"fs_hz": self._fs, "start_time": start_time.isoformat() if start_time else None}
        (self.spool / "meta.json").write_text(json.dumps(meta))
        self._events_path = self.spool / "events.jsonl"
        self._events: list[Event] = []

    def write(self, block: SampleBlock) -> None:
        """Append one block (zero-filling any gap before it)."""
        f = self._files.get(block.role)
        if f is None:
            return
        start = round(block.t0_s * self._fs[block.role])
        missing = start - self._written[block.role]
        if missing > 0:
            f.write(np.zeros(missing, dtype=np.float32).tobytes())
        elif missing < 0:  # overlap after a reconnect: keep the first copy
            block_samples = block.samples[-missing:]
            start -= missing
        data = block.samples if missing >= 0 else block_samples
        f.write(data.astype(np.float32).tobytes())
        f.flush()
        self._written[block.role] = start + len(data)

    def add_event(self, event: Event) -> None:
        """Remember an event (and its updates) for the annotations."""
        self._events.append(event)
        with open(self._events_path, "a", encoding="utf-8") as f:
            f.write(event.to_json() + "\n")

    def finalize(self) -> Path | None:
        """Write the EDF+ and remove the spool. Returns the EDF path (None if empty)."""
        for f in self._files.values():
            f.close()
        return _finalize_spool(self.spool, self.edf_path)


def _finalize_spool(spool: Path, edf_path: Path) -> Path | None:
    meta = json.loads((spool / "meta.json").read_text())
    fs = {k: float(v) for k, v in meta["fs_hz"].items()}
    signals = {}
    for role in fs:
        p = spool / f"{role}.f32"
        raw = np.fromfile(p, dtype=np.float32) if p.exists() else np.zeros(0, np.float32)
        signals[role] = raw
    duration_s = min((len(s) / fs[r] for r, s in signals.items()), default=0.0)
    if duration_s < 1.0:
        log.info("recording %s shorter than 1 s: not written", edf_path)
        shutil.rmtree(spool, ignore_errors=True)
        return None
    # every channel cut to the same whole-second duration (EDF data records)
    duration_s = float(int(duration_s))
    signals = {r: s[: round(duration_s * fs[r])] for r, s in signals.items()}
    events: list[Event] = []
    ev_path = spool / "events.jsonl"
    if ev_path.exists():
        for line in ev_path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(Event.from_dict(json.loads(line)))
            except (ValueError, KeyError):
                continue  # a half-written last line after a crash
    start = meta.get("start_time")
    rec = Recording(
        signals=signals,
        fs_hz=fs,
        start_time=datetime.fromisoformat(start) if start else None,
        annotations=(),
        labels={},
        path=None,
    )
    tmp = edf_path.with_suffix(".edf.part")
    write_edf(tmp, rec, [a for a in event_annotations(events) if a.onset_s < duration_s])
    tmp.replace(edf_path)  # atomic: a reader never sees a half-written EDF
    shutil.rmtree(spool, ignore_errors=True)
    log.info("night recorded to %s (%.0f s)", edf_path, duration_s)
    return edf_path


def recover_spools(folder: Path) -> list[Path]:
    """Finalize spools left by a crash; returns the EDF files written."""
    out = []
    if not folder.exists():
        return out
    for spool in sorted(folder.glob("*.spool")):
        if not (spool / "meta.json").exists():
            shutil.rmtree(spool, ignore_errors=True)
            continue
        edf = _finalize_spool(spool, spool.with_suffix(".edf"))
        if edf is not None:
            log.warning("recovered an unfinished recording: %s", edf)
            out.append(edf)
    return out
