"""EDF+C written as the night goes: one data record at a time, annotations at the end.

Layout of a file written here (EDF+ spec, Kemp & Olivan 2003, sections 2.1 and 2.2):

- the header is written first with the number of data records ``-1`` (the spec's value
  for "still being recorded") and patched by :func:`finish_edfplus`;
- data records of ``record_s`` seconds (1 s for integer rates), 16-bit samples, one per
  record as soon as every channel has its samples, so the file grows during the night
  and a crash loses at most the record being assembled;
- the last signal is ``EDF Annotations`` with :data:`ANNOTATION_BYTES` reserved per
  record. Each record starts with its time-keeping TAL (``+<start>\\x14\\x14\\x00``,
  spec 2.2.4), written with the samples and never moved; the rest of the slot is zero
  bytes until :func:`finish_edfplus` writes the events' TALs into it. Events are known
  only after their samples are on disk (a cramp's end, a movement's periodicity), so
  their TALs are patched in place at the end: each into the record holding its onset,
  or the nearest later (else earlier) record with room; the spec ties a TAL's onset to
  the file start, not to the record that holds it.

Ranges are fixed up front, so no second pass is needed. With the sensor's resolution
(``resolution``: µV or g per count, from its profile) the digital range is
-32768..32767 and the step the smallest power-of-two multiple of that resolution whose
range covers the role's ±``physical_max`` (:mod:`~crampwatch.recordings.edf_header`):
an int16 sensor's counts are stored as they are (reference sensor ±8192 µV and ±8 g,
Myo ±128 counts and ±16 g; the 24-bit Ganglion ±7843 µV in 0.24-µV steps). Without it
(replays, simulator) the range is ±``physical_max`` over digital ±32767 (0.15 µV and
0.24 mg steps, the range of :func:`~crampwatch.recordings.write_edf`). Samples outside
are clipped, as a saturated amplifier would, and counted.

A channel that falls more than ``max_lag_s`` behind the others (it stopped delivering)
is zero-filled up to that lag, so memory stays bounded; its later samples for the
filled stretch are dropped like any overlap.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from crampwatch.recordings.edf_header import signal_spec
from crampwatch.recordings.model import Annotation
from crampwatch.roles import DEFAULT_LABELS, ROLES, unit_label

try:  # advisory lock: recovery must not finish a file another process still writes
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ANNOTATION_BYTES",
    "EdfPlusStreamWriter",
    "finish_edfplus",
    "is_locked",
]

log = logging.getLogger(__name__)

# Bytes of the "EDF Annotations" signal per data record: the time-keeping TAL
# (<= 10 bytes for a night) plus two or three event TALs of ~45 bytes.
ANNOTATION_BYTES = 128
DIGITAL_MIN, DIGITAL_MAX = -32768, 32767
_N_RECORDS_OFFSET = 236  # byte offset of "number of data records" in the header
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _fmt_number(value: float, width: int = 8) -> str:
    """Shortest decimal (no exponent) of ``value`` that fits ``width`` characters."""
    text = np.format_float_positional(value, unique=True, trim="-")
    digits = 6
    while len(text) > width and digits >= 0:
        text = np.format_float_positional(round(value, digits), unique=True, trim="-")
        digits -= 1
    if len(text) > width:
        raise ValueError(f"{value} does not fit an EDF header field of {width} characters")
    return text


def _fmt_time_s(value: float, *, sign: bool) -> str:
    """Seconds in a TAL: positional notation, at most µs precision (spec 2.2.2)."""
    return np.format_float_positional(round(value, 6), unique=True, trim="-", sign=sign)


def record_duration_s(rates: Iterable[float]) -> float:
    """Shortest data-record duration (whole seconds, or 1 s) holding whole samples."""
    from fractions import Fraction

    dens = [Fraction(r).limit_denominator(1000).denominator for r in rates]
    return float(math.lcm(*dens)) if dens else 1.0


@dataclass(frozen=True)
class _Channel:
    """One ordinary signal: its header values and how a float becomes a digital value."""

    role: str
    fs_hz: float
    samples_per_record: int
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int

    @property
    def step(self) -> float:
        """Physical units per digital step (µV or g), as a reader computes it."""
        return (self.physical_max - self.physical_min) / (self.digital_max - self.digital_min)


def _channel(role: str, fs_hz: float, record_s: float, resolution: float | None) -> _Channel:
    spr = round(fs_hz * record_s)
    if spr < 1 or abs(spr - fs_hz * record_s) > 1e-6:
        raise ValueError(f"{role}: {fs_hz} Hz is not a whole number of samples per record")
    need = signal_spec(role).physical_max
    if not (resolution and resolution > 0):
        # symmetric, so that 0 (a zero-filled gap) is digital 0 exactly
        return _Channel(role, fs_hz, spr, -need, need, -DIGITAL_MAX, DIGITAL_MAX)
    step = resolution * 2 ** max(0, math.ceil(math.log2(need / (32768 * resolution))))
    # the header holds 8 characters: the values read back define the step (for the
    # supported sensors within 1/1000 of a count; the digital values are the counts)
    pmin = float(_fmt_number(DIGITAL_MIN * step))
    pmax = float(_fmt_number(DIGITAL_MAX * step))
    return _Channel(role, fs_hz, spr, pmin, pmax, DIGITAL_MIN, DIGITAL_MAX)


def _header(
    channels: list[_Channel],
    record_s: float,
    start_time: datetime | None,
    ann_samples: int,
    emg_units_known: bool = True,
) -> bytes:
    """The EDF+ header record (256 bytes + 256 per signal), number of records -1.
    EMG is labelled ``counts`` unless ``emg_units_known`` (see :func:`unit_label`)."""
    if start_time is not None and start_time.tzinfo is not None:
        start_time = start_time.astimezone(UTC).replace(tzinfo=None)
    if start_time is None:
        # anonymised/unknown start (spec 2.1.3): 1 Jan 1985 and "Startdate X"
        date, clock, startdate = "01.01.85", "00.00.00", "X"
    else:
        date = start_time.strftime("%d.%m.%y")
        clock = start_time.strftime("%H.%M.%S")
        startdate = f"{start_time.day:02d}-{_MONTHS[start_time.month - 1]}-{start_time.year}"
    ns = len(channels) + 1

    def field(value: str, width: int) -> bytes:
        raw = value.encode("ascii")
        if len(raw) > width:
            raise ValueError(f"EDF header value {value!r} longer than {width}")
        return raw.ljust(width, b" ")

    head = b"".join(
        [
            field("0", 8),
            field("X X X X", 80),  # patient: code, sex, birthdate, name unknown
            field(f"Startdate {startdate} X X crampwatch", 80),
            field(date, 8),
            field(clock, 8),
            field(str(256 * (ns + 1)), 8),
            field("EDF+C", 44),
            field("-1", 8),  # still recording: patched by finish_edfplus
            field(_fmt_number(record_s), 8),
            field(str(ns), 4),
        ]
    )
    ann = "EDF Annotations"
    cols: list[list[bytes]] = [
        [field(DEFAULT_LABELS[c.role], 16) for c in channels] + [field(ann, 16)],
        [field(signal_spec(c.role).transducer, 80) for c in channels] + [field("", 80)],
        [field(unit_label(c.role, emg_units_known), 8) for c in channels] + [field("", 8)],
        [field(_fmt_number(c.physical_min), 8) for c in channels] + [field("-1", 8)],
        [field(_fmt_number(c.physical_max), 8) for c in channels] + [field("1", 8)],
        [field(str(c.digital_min), 8) for c in channels] + [field(str(DIGITAL_MIN), 8)],
        [field(str(c.digital_max), 8) for c in channels] + [field(str(DIGITAL_MAX), 8)],
        [field(signal_spec(c.role).prefiltering, 80) for c in channels] + [field("", 80)],
        [field(str(c.samples_per_record), 8) for c in channels] + [field(str(ann_samples), 8)],
        [field("", 32) for _ in channels] + [field("", 32)],
    ]
    return head + b"".join(b"".join(col) for col in cols)


def _timekeeping_tal(record: int, record_s: float) -> bytes:
    """``+<record start>\\x14\\x14\\x00``: where a data record starts (spec 2.2.4)."""
    return f"{_fmt_time_s(record * record_s, sign=True)}\x14\x14\x00".encode()


def _tal(ann: Annotation, capacity: int) -> bytes:
    """One annotation as a TAL; text cut so the TAL fits ``capacity`` bytes."""
    timing = _fmt_time_s(ann.onset_s, sign=True)
    if ann.duration_s is not None:
        timing += "\x15" + _fmt_time_s(max(0.0, ann.duration_s), sign=False)
    text = "".join(ch for ch in ann.text if ch not in "\x00\x14\x15")
    room = capacity - len(timing.encode()) - 3
    raw = text.encode()[: max(0, room)].decode("utf-8", errors="ignore").encode()
    return timing.encode() + b"\x14" + raw + b"\x14\x00"


class _Lane:
    """Digital samples of one channel waiting for their data record.

    Chunks are int16 arrays or an int (that many zeros, kept lazy so an hour-long gap
    costs nothing until its records are written).
    """

    def __init__(self) -> None:
        self.chunks: deque[np.ndarray | int] = deque()
        self.queued = 0  # samples waiting
        self.end = 0  # sample index one past the last one received (written or queued)

    def push(self, chunk: np.ndarray | int) -> None:
        n = chunk if isinstance(chunk, int) else len(chunk)
        if n <= 0:
            return
        self.chunks.append(chunk)
        self.queued += n
        self.end += n

    def take(self, n: int) -> np.ndarray:
        parts = []
        need = n
        while need:
            chunk = self.chunks[0]
            size = chunk if isinstance(chunk, int) else len(chunk)
            k = min(size, need)
            parts.append(np.zeros(k, np.int16) if isinstance(chunk, int) else chunk[:k])
            if k == size:
                self.chunks.popleft()
            else:
                self.chunks[0] = size - k if isinstance(chunk, int) else chunk[k:]
            need -= k
        self.queued -= n
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class EdfPlusStreamWriter:
    """Append samples by channel role; whole EDF+C data records go to disk at once.

    Parameters
    ----------
    path:
        The file (created or truncated; the recorder uses ``<night>.edf.part``).
    fs_hz:
        Role -> sampling rate, Hz.
    start_time:
        Wall-clock start (UTC, to the second) or None when unknown.
    resolution:
        Role -> the sensor's step (µV or g per count), when known, so its counts are
        stored exactly; see the module docstring.
    max_lag_s:
        Seconds a channel may fall behind the most advanced one before it is zero-filled.

    :meth:`close` leaves the header's record count at -1; :func:`finish_edfplus` turns
    the file into a complete EDF+ with annotations (also after a crash).
    """

    def __init__(
        self,
        path: Path,
        fs_hz: Mapping[str, float],
        start_time: datetime | None,
        *,
        resolution: Mapping[str, float] | None = None,
        max_lag_s: float = 30.0,
        emg_units_known: bool = True,
    ) -> None:
        roles = [r for r in ROLES if r in fs_hz]
        if not roles:
            raise ValueError("nothing to record: no channel with a known role")
        self.path = Path(path)
        self.record_s = record_duration_s(fs_hz[r] for r in roles)
        res = resolution or {}
        self.channels = [_channel(r, float(fs_hz[r]), self.record_s, res.get(r)) for r in roles]
        self._by_role = {c.role: c for c in self.channels}
        self._lanes = {c.role: _Lane() for c in self.channels}
        self.max_lag_s = max_lag_s
        self.n_records = 0
        self.clipped: dict[str, int] = dict.fromkeys(roles, 0)
        self.filled_s: dict[str, float] = dict.fromkeys(roles, 0.0)
        self._stalled: set[str] = set()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # unbuffered: each data record is one write() that a SIGKILL cannot split
        # from the Python side; the kernel keeps it even if the process dies.
        self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115
        if fcntl is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        # EMG of a nominal scale is labelled counts, so that a reader scores it
        # relative to its resting level, as the live run did
        self._file.write(
            _header(
                self.channels, self.record_s, start_time, ANNOTATION_BYTES // 2, emg_units_known
            )
        )

    @property
    def duration_s(self) -> float:
        """Seconds of signal in complete data records on disk."""
        return self.n_records * self.record_s

    def write(self, role: str, t0_s: float, samples: np.ndarray) -> None:
        """Add samples of ``role`` starting at ``t0_s`` (s, sample clock).

        A start after the channel's last sample is a gap, zero-filled so the time axis
        stays continuous; samples before it (an overlap after a reconnect) are dropped,
        keeping the first copy. Unknown roles are ignored.
        """
        ch = self._by_role.get(role)
        if ch is None:
            return
        lane = self._lanes[role]
        start = round(t0_s * ch.fs_hz)
        x = np.asarray(samples, dtype=np.float64)
        if start > lane.end:
            self.filled_s[role] += (start - lane.end) / ch.fs_hz
            lane.push(start - lane.end)
        elif start < lane.end:
            x = x[lane.end - start :]
        if len(x):
            lane.push(self._digital(ch, x))
            self._stalled.discard(role)
        self._drain()

    def _digital(self, ch: _Channel, x: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(x)
        if bad.any():
            x = np.where(bad, 0.0, x)
        out = (x < ch.physical_min) | (x > ch.physical_max)
        n_out = int(np.count_nonzero(out)) + int(np.count_nonzero(bad))
        if n_out:
            self.clipped[ch.role] += n_out
        d = np.rint((x - ch.physical_min) / ch.step + ch.digital_min)
        return np.clip(d, ch.digital_min, ch.digital_max).astype("<i2")

    def _drain(self) -> None:
        lanes = self._lanes
        while True:
            while all(lanes[c.role].queued >= c.samples_per_record for c in self.channels):
                self._write_record()
            # a channel that stopped delivering must not hold the others in memory
            ahead_s = max(lanes[c.role].end / c.fs_hz for c in self.channels)
            behind = [
                c for c in self.channels if lanes[c.role].end / c.fs_hz < ahead_s - self.max_lag_s
            ]
            if not behind:
                return
            for c in behind:
                missing = round((ahead_s - self.max_lag_s) * c.fs_hz) - lanes[c.role].end
                if c.role not in self._stalled:  # once per silence, not per block
                    self._stalled.add(c.role)
                    log.warning(
                        "%s: %s more than %.0f s behind the other channels: zero-filled",
                        self.path.name,
                        c.role,
                        self.max_lag_s,
                    )
                self.filled_s[c.role] += missing / c.fs_hz
                lanes[c.role].push(missing)

    def _write_record(self) -> None:
        parts = [self._lanes[c.role].take(c.samples_per_record).tobytes() for c in self.channels]
        parts.append(_timekeeping_tal(self.n_records, self.record_s).ljust(ANNOTATION_BYTES, b"\0"))
        self._file.write(b"".join(parts))
        self.n_records += 1

    def close(self) -> None:
        """Close the file; samples short of a whole data record are dropped."""
        if not self._file.closed:
            self._file.close()


@dataclass(frozen=True)
class _Layout:
    header_bytes: int
    record_bytes: int
    record_s: float
    ann_offset: int  # within a data record
    ann_bytes: int


class _TruncatedHeader(ValueError):
    """The process died while writing the header: nothing was recorded."""


def _layout(f) -> _Layout:
    f.seek(0)
    head = f.read(256)
    if len(head) < 256:
        raise _TruncatedHeader("header cut off")
    if head[:8] != b"0       ":
        raise ValueError("not an EDF file")
    header_bytes = int(head[184:192])
    record_s = float(head[244:252])
    ns = int(head[252:256])
    sig = f.read(256 * ns)
    if len(sig) < 256 * ns:
        raise _TruncatedHeader("header cut off")
    labels = [sig[16 * i : 16 * i + 16].decode("ascii").strip() for i in range(ns)]
    base = 216 * ns  # label 16 + transducer 80 + dimension 8 + 4 ranges x 8 + prefilter 80
    spr = [int(sig[base + 8 * i : base + 8 * i + 8]) for i in range(ns)]
    if labels[-1] != "EDF Annotations":
        raise ValueError("no EDF Annotations signal last")
    return _Layout(header_bytes, 2 * sum(spr), record_s, 2 * sum(spr[:-1]), 2 * spr[-1])


def is_locked(path: Path) -> bool:
    """True while a writer (this or another process) still has ``path`` open."""
    if fcntl is None:  # pragma: no cover
        return False
    with open(path, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def finish_edfplus(path: Path, annotations: Iterable[Annotation]) -> int:
    """Make a file of :class:`EdfPlusStreamWriter` a complete EDF+; return its records.

    The number of data records comes from the file size (a partial last record, from
    a crash mid-write, is cut off), the header's -1 is replaced by it and the
    annotations with an onset inside the recording are written into the reserved
    bytes. Idempotent: running it again (after a crash during it) gives the same file.
    Only the slots that receive annotations are read or written: memory stays small.
    """
    with open(path, "r+b") as f:
        try:
            lay = _layout(f)
        except _TruncatedHeader:
            return 0
        size = os.fstat(f.fileno()).st_size
        n = max(0, (size - lay.header_bytes) // lay.record_bytes)
        f.truncate(lay.header_bytes + n * lay.record_bytes)
        duration_s = n * lay.record_s
        slots: dict[int, bytearray] = {}
        dropped = 0
        for ann in sorted(annotations, key=lambda a: (a.onset_s, a.text)):
            if not 0 <= ann.onset_s < duration_s:
                continue  # refers to samples that never reached a complete record
            tal = _tal(ann, lay.ann_bytes - 12)
            home = min(n - 1, int(ann.onset_s // lay.record_s))
            for k in _nearest_first(home, n):
                slot = slots.get(k)
                if slot is None:
                    slot = slots[k] = bytearray(_timekeeping_tal(k, lay.record_s))
                if len(slot) + len(tal) <= lay.ann_bytes:
                    slot += tal  # TALs follow each other, each ending in \x14\x00
                    break
            else:
                dropped += 1
        for k, slot in slots.items():
            f.seek(lay.header_bytes + k * lay.record_bytes + lay.ann_offset)
            f.write(bytes(slot).ljust(lay.ann_bytes, b"\x00"))
        f.seek(_N_RECORDS_OFFSET)
        f.write(str(n).ljust(8).encode("ascii"))
        f.flush()
        with contextlib.suppress(OSError):
            os.fsync(f.fileno())
    if dropped:
        log.warning("%s: %d annotations found no room and were left out", path, dropped)
    return n


def _nearest_first(home: int, n: int) -> Iterable[int]:
    """Record ``home``, then later ones, then earlier ones (nearest first)."""
    yield from range(home, n)
    yield from range(home - 1, -1, -1)
