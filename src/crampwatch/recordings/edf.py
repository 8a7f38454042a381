"""Read EDF, EDF+ and BDF into a :class:`Recording`; write EDF+ (edfio does the format).

The writer's choices (``write_edf``):

- labels from :data:`crampwatch.roles.DEFAULT_LABELS` (whatever the source file called
  them), physical dimension ``uV`` / ``g``;
- 16-bit EDF, physical range and transducer from
  :data:`~crampwatch.recordings.edf_header.SIGNAL_SPECS` (±5000 µV for EMG, ±8 g for
  acceleration); values outside are clipped, as a saturated amplifier would;
- a data-record duration that makes every rate an integer number of samples per
  record (1 s for integer rates); channels are padded with their last value to a whole
  number of records, so a written file can be a fraction of a record longer;
- annotations as EDF+ TALs (an EDF+C file).

Times: EDF stores a local wall-clock start without zone, to the second; crampwatch writes
UTC (sub-second part dropped) and reads it back as UTC.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crampwatch.errors import CrampwatchError
from crampwatch.recordings.channels import emg_units_calibrated, match_roles, unit_scale
from crampwatch.recordings.edf_header import signal_spec
from crampwatch.recordings.edfplus_stream import record_duration_s as _record_duration_s
from crampwatch.recordings.model import Annotation, Recording
from crampwatch.roles import DEFAULT_LABELS, EMG_ROLES, ROLES, split_key, unit_label

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import edfio

__all__ = ["read_recording", "write_edf"]

_BDF_MAGIC = b"\xffBIOSEMI"


def _open(path: Path) -> edfio.Edf | edfio.Bdf:
    import edfio  # here, not at the top: the overnight service never loads it (~4 MB)

    try:
        with path.open("rb") as f:
            head = f.read(256)
    except FileNotFoundError:
        raise CrampwatchError(f"{path}: no such file") from None
    except OSError as exc:
        raise CrampwatchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    is_bdf = head[:8] == _BDF_MAGIC
    if len(head) < 256 or not (is_bdf or head[:8] == b"0       "):
        raise CrampwatchError(f"{path}: not an EDF or BDF file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        edf: edfio.Edf | edfio.Bdf
        try:
            if is_bdf:
                edf = edfio.read_bdf(path, header_encoding="latin-1")
            else:
                edf = edfio.read_edf(path, lazy_load_data=False, header_encoding="latin-1")
        except Exception as exc:  # edfio raises plain ValueError/IndexError on bad headers
            raise CrampwatchError(f"{path}: unreadable EDF/BDF header or data ({exc})") from None
    for w in caught:
        text = str(w.message)
        # edfio only warns about a cut-off last record or a record count that does not
        # match the file: both mean a damaged file, and a night with a silent hole is
        # worse than an error. A count of -1 is legal (recording still in progress).
        if "Incomplete data record" in text or (
            "header indicates" in text and "-1 data records" not in text
        ):
            raise CrampwatchError(f"{path}: damaged or truncated file ({text})")
    return edf


def _key_order(key: str) -> tuple[int, str]:
    """Channel keys in :data:`ROLES` order, a role's legs together."""
    return ROLES.index(split_key(key)[0]), key


def _start_time(edf: edfio.Edf | edfio.Bdf) -> datetime | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = edf.startdatetime
    except Exception:  # anonymised ("Startdate X") or malformed date
        return None
    return start.replace(tzinfo=UTC)


def _check_calibration(path: Path, sig: edfio.EdfSignal | edfio.BdfSignal) -> None:
    """An impossible scale (physical or digital range empty, not a number) is an error:
    edfio would return raw counts, scored as µV or g (a shin motion of 200 g)."""
    try:
        values = (sig.physical_min, sig.physical_max, sig.digital_min, sig.digital_max)
    except Exception as exc:  # an unparsable number in the header
        raise CrampwatchError(f"{path}: channel {sig.label!r} has no valid scale ({exc})") from None
    pmin, pmax, dmin, dmax = (float(v) for v in values)
    if not all(map(math.isfinite, (pmin, pmax, dmin, dmax))) or pmin == pmax or dmin == dmax:
        raise CrampwatchError(
            f"{path}: channel {sig.label.strip()!r} has an impossible scale (physical "
            f"{pmin:g} to {pmax:g}, digital {dmin:g} to {dmax:g})"
        )


def read_recording(path: str | Path, channel_map: Mapping[str, str] | None = None) -> Recording:
    """Read an EDF, EDF+ or BDF file; channels are matched to roles by label.

    ``channel_map`` (role -> label, case-insensitive) wins over the default patterns
    (see :mod:`crampwatch.recordings.channels`). Signals come back as float64 in µV
    (EMG) and g (acceleration), whatever the file's units. Any problem is a
    :class:`CrampwatchError` with a one-line message naming the file. EMG in counts or
    without a unit is read as it is and flagged (``emg_units_known=False``).
    """
    path = Path(path)
    edf = _open(path)
    if edf.num_data_records == 0:
        raise CrampwatchError(f"{path}: no data records (an empty recording)")
    signals = edf.signals
    labels = [s.label for s in signals]
    roles = match_roles(labels, channel_map, source=str(path))
    out: dict[str, np.ndarray] = {}
    fs: dict[str, float] = {}
    names: dict[str, str] = {}
    uncalibrated: list[str] = []
    for key in sorted(roles, key=_key_order):
        role = split_key(key)[0]
        sig = signals[roles[key]]
        _check_calibration(path, sig)
        scale = unit_scale(role, sig.physical_dimension, source=str(path))
        if role in EMG_ROLES and not emg_units_calibrated(sig.physical_dimension):
            uncalibrated.append(f"{sig.label.strip()!r} ({sig.physical_dimension.strip()!r})")
        try:
            data = np.asarray(sig.data, dtype=np.float64)
        except Exception as exc:
            raise CrampwatchError(f"{path}: cannot read channel {sig.label!r} ({exc})") from None
        if scale != 1.0:
            data = data * scale
        if not sig.sampling_frequency > 0:
            raise CrampwatchError(f"{path}: channel {sig.label!r} has no sampling rate")
        if not data.size:
            raise CrampwatchError(f"{path}: channel {sig.label!r} has no samples")
        out[key] = data
        fs[key] = float(sig.sampling_frequency)
        names[key] = sig.label.strip()
    gaps: tuple[tuple[float, float], ...] = ()
    onsets = _record_onsets(edf, path)
    if onsets is not None:
        out, gaps = _on_timeline(out, fs, onsets, float(edf.data_record_duration))
    try:
        annotations = tuple(
            Annotation(float(a.onset), None if a.duration is None else float(a.duration), a.text)
            for a in edf.annotations
        )
    except Exception as exc:
        raise CrampwatchError(f"{path}: unreadable EDF+ annotations ({exc})") from None
    if uncalibrated:
        log.warning(
            "%s: EMG %s not in a voltage unit; leg movements are scored relative to the "
            "resting level",
            path,
            ", ".join(uncalibrated),
        )
    return Recording(
        signals=out,
        fs_hz=fs,
        start_time=_start_time(edf),
        annotations=annotations,
        labels=names,
        path=path,
        emg_units_known=not uncalibrated,
        gaps=gaps,
    )


def _record_onsets(edf: edfio.Edf | edfio.Bdf, path: Path) -> np.ndarray | None:
    """Onsets (s) of the data records of an EDF+D file with gaps; None when continuous."""
    try:
        if edf.is_continuous:
            return None
        tk = edf._timekeeping_signal  # edfio has no public per-record onsets
        raw = tk.digital.view(np.uint8).reshape(edf.num_data_records, -1)
        return np.array(
            [float(bytes(r).split(b"\x14", 1)[0].decode("ascii")) for r in raw], dtype=np.float64
        )
    except Exception as exc:  # a malformed timekeeping TAL
        raise CrampwatchError(f"{path}: unreadable EDF+D record times ({exc})") from None


def _on_timeline(
    signals: dict[str, np.ndarray], fs: dict[str, float], onsets: np.ndarray, record_s: float
) -> tuple[dict[str, np.ndarray], tuple[tuple[float, float], ...]]:
    """Place each data record at its onset (EDF+D): the gaps between records are zero
    in the arrays and listed as ``(start_s, end_s)`` (replay leaves them out)."""
    onsets = onsets - onsets[0]
    ends = onsets + record_s
    gaps = tuple(
        (float(e), float(o)) for e, o in zip(ends[:-1], onsets[1:], strict=True) if o > e + 1e-6
    )
    out = {}
    for key, x in signals.items():
        spr = round(record_s * fs[key])
        total = round(float(ends[-1]) * fs[key])
        y = np.zeros(total)
        for k, o in enumerate(onsets):
            i0 = round(o * fs[key])
            y[i0 : i0 + spr] = x[k * spr : (k + 1) * spr]
        out[key] = y
    return out, gaps


def write_edf(
    path: str | Path, recording: Recording, annotations: Iterable[Annotation] = ()
) -> Path:
    """Write ``recording`` as EDF+ (with its annotations plus ``annotations``); return path.

    EMG is written in µV, or labelled ``counts`` when ``recording.emg_units_known`` is
    False, so that reading it back keeps that flag."""
    import edfio

    path = Path(path)
    roles = [r for r in ROLES if r in recording.signals]
    if not roles:
        raise CrampwatchError(f"{path}: nothing to write (no channel with a known role)")
    record_s = _record_duration_s(recording.fs_hz[r] for r in roles)
    n_records = max(1, math.ceil(recording.duration_s / record_s - 1e-9))
    edf_signals = []
    for role in roles:
        fs = recording.fs_hz[role]
        n = round(n_records * record_s * fs)
        x = np.asarray(recording.signals[role], dtype=np.float64)
        if len(x) < n:
            fill = x[-1] if len(x) else 0.0
            x = np.concatenate([x, np.full(n - len(x), fill)])
        spec = signal_spec(role)
        lim = spec.physical_max
        if role in EMG_ROLES and not recording.emg_units_known and x.size:
            # device counts have no physiological range: keep all of them
            lim = max(lim, float(np.ceil(np.nanmax(np.abs(x)))))
        x = np.clip(x[:n], -lim, lim)
        edf_signals.append(
            edfio.EdfSignal(
                x,
                sampling_frequency=fs,
                label=DEFAULT_LABELS[role],
                transducer_type=spec.transducer,
                physical_dimension=unit_label(role, recording.emg_units_known),
                physical_range=(-lim, lim),
                prefiltering=spec.prefiltering,
            )
        )
    all_ann = sorted((*recording.annotations, *annotations), key=lambda a: (a.onset_s, a.text))
    start = recording.start_time
    if start is not None and start.tzinfo is not None:
        start = start.astimezone(UTC).replace(tzinfo=None)
    edf = edfio.Edf(
        edf_signals,
        recording=edfio.Recording(
            startdate=None if start is None else start.date(), equipment_code="crampwatch"
        ),
        starttime=None if start is None else start.time().replace(microsecond=0),
        data_record_duration=record_s,
        annotations=[edfio.EdfAnnotation(float(a.onset_s), a.duration_s, a.text) for a in all_ann],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        edf.write(path)
    except OSError as exc:
        raise CrampwatchError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
