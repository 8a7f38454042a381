"""The streaming signal pipeline: sample blocks in, feature frames out.

:class:`SignalPipeline` is what runs at night and offline alike (ARCHITECTURE: the
same streaming code, fed block by block). Roles arrive interleaved in blocks of any
size; a frame is emitted once every present role has data up to its end. Feeding a
signal in blocks of any sizes gives the same frames as feeding it at once.

Gaps: a block starting more than 1.5 samples after the end of the previous block of
its role leaves a gap, filled internally with zeros (not interpolated); frames
overlapping it carry ``gap = 1`` and EMG quality 0, and the resting-level tracker is
frozen. A role that starts after 0 s has a leading gap. Time stays aligned: the
frame clock is the recording clock.

Latency: with ``mains_hz=None`` the first frames wait until each EMG channel has 2 s
of samples (the 50/60 Hz decision, one for all EMG channels: the grid's; 10 s when the
hum is too faint to tell), then catch up; after that a frame leaves as soon as every
role covers it. Units: EMG columns ending in ``_uv`` are in the device's units (µV for
calibrated sensors); ``*_rel``, ``*_rel1s``, ``*_wl`` and ``calf_tib_ratio`` are
relative to the resting level and so unit-free, for devices that only give counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from crampwatch.blocks import SampleBlock
from crampwatch.errors import CrampwatchError
from crampwatch.roles import EMG_ROLES, REQUIRED_ROLES, ROLES
from crampwatch.signal.accel import Accelerometer
from crampwatch.signal.emg import EmgChannel
from crampwatch.signal.filters import vote_mains
from crampwatch.signal.frames import (
    ACC_FEATURES,
    EMG_FEATURES,
    FEATURE_NAMES,
    HOP_S,
    FeatureFrames,
)

__all__ = ["SignalPipeline", "extract_features"]

log = logging.getLogger(__name__)

_PREFIX = {"emg_calf": "calf", "emg_tibialis": "tib"}
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_N_EMG = len(EMG_FEATURES)
_ACC = "acc"  # the feature stream of the three accelerometer axes
_NO_FRAMES = FeatureFrames.empty()  # returned by most pushes: built once
# Work on at most 64 k samples of a role at a time: big blocks are cut so that the
# intermediate arrays stay in cache (speed only; results do not depend on it).
_CHUNK_SAMPLES = 65536


class SignalPipeline:
    """Streaming filters and per-hop features for one sensor set.

    Parameters
    ----------
    fs_hz:
        Role -> sampling rate (Hz) of the roles present: ``emg_calf``, ``acc_x``,
        ``acc_y``, ``acc_z`` required, ``emg_tibialis`` optional. EMG 200 Hz-2 kHz
        (>= 100 Hz accepted), accelerometer at least one sample per hop.
    hop_s:
        Frame length, s (default :data:`~crampwatch.signal.frames.HOP_S`, 0.1: 10
        frames/s).
    mains_hz:
        50 or 60 to fix the mains notch, 0 for none, None to detect it from the EMG
        channels' first 2 s, one frequency for all of them
        (:func:`~crampwatch.signal.filters.vote_mains`; frames start once it is
        decided).
    batch_s:
        Compute a role's features only once at least this much of it is buffered
        (and at :meth:`flush`). 0 (default): as soon as a hop is complete, for live
        use. Offline replays of small blocks (e.g. 1-s EDF records) run several times
        faster with ``batch_s=30``: each batch costs ~0.3 ms of fixed overhead per
        channel. The frames are the same either way, only emitted later.

    Attributes
    ----------
    feature_names:
        Column names of the frames, :data:`FEATURE_NAMES`.
    """

    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __init__(
        self,
        fs_hz: Mapping[str, float],
        *,
        hop_s: float = HOP_S,
        mains_hz: float | None = None,
        batch_s: float = 0.0,
    ) -> None:
        unknown = sorted(set(fs_hz) - set(ROLES))
        if unknown:
            raise CrampwatchError(f"unknown channel role {unknown[0]!r}; expected {ROLES}")
        missing = [r for r in REQUIRED_ROLES if r not in fs_hz]
        if missing:
            raise CrampwatchError(f"missing required channel role {missing[0]!r}")
        if not hop_s > 0:
            raise CrampwatchError(f"hop_s must be positive, got {hop_s}")
        if mains_hz not in (None, 0, 50, 60):
            raise CrampwatchError(f"mains_hz must be 50, 60, 0 or None, got {mains_hz}")
        self.hop_s = float(hop_s)
        self.fs_hz = {r: float(fs_hz[r]) for r in ROLES if r in fs_hz}
        for role, fs in self.fs_hz.items():
            if not fs * self.hop_s >= 1.0 - 1e-9:
                raise CrampwatchError(
                    f"{role}: sampling rate {fs} Hz gives less than one sample per "
                    f"{self.hop_s} s hop"
                )
            if role in EMG_ROLES and (fs < 100.0 or fs * self.hop_s < 16):
                raise CrampwatchError(
                    f"{role}: EMG sampling rate {fs} Hz is too low (>= 100 Hz and >= 16 "
                    f"samples per {self.hop_s} s hop needed)"
                )
        # the sensor set's channels share one mains frequency: the pipeline votes
        self._emg = {
            r: EmgChannel(self.fs_hz[r], self.hop_s, mains_hz, decide_mains=False)
            for r in EMG_ROLES
            if r in fs_hz
        }
        self._mains_undecided = mains_hz is None
        self._acc = Accelerometer(self.fs_hz, self.hop_s)
        self._buffers = {**{r: ch.buffer for r, ch in self._emg.items()}, **self._acc.buffers}
        # feature streams: one per EMG role, one for the three accelerometer axes
        self._streams: dict[str, EmgChannel | Accelerometer] = {**self._emg, _ACC: self._acc}
        self._queues: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
            s: [] for s in self._streams
        }
        self._done = {s: 0 for s in self._streams}  # hops computed per stream
        self._batch = {r: max(0, round(batch_s * fs)) for r, fs in self.fs_hz.items()}
        self._emitted = 0  # frames emitted
        self._finished = False

    @property
    def has_tibialis(self) -> bool:
        """Whether the optional ``emg_tibialis`` role is present."""
        return "emg_tibialis" in self._emg

    @property
    def mains_hz(self) -> dict[str, float | None]:
        """Mains notch in use per EMG role (Hz; 0 none; None while undecided)."""
        return {r: ch.mains_hz for r, ch in self._emg.items()}

    def push(self, block: SampleBlock) -> FeatureFrames:
        """Add one block; return the frames it completed (possibly none)."""
        if self._finished:
            raise RuntimeError("SignalPipeline.push after flush")
        role = block.role
        buffer = self._buffers.get(role)
        if buffer is None:
            raise CrampwatchError(f"block for channel role {role!r}, not configured")
        fs = self.fs_hz[role]
        if abs(block.fs_hz - fs) > 1e-6 * fs:
            raise CrampwatchError(
                f"{role}: block at {block.fs_hz} Hz, pipeline configured for {fs} Hz"
            )
        emg = self._emg.get(role)
        stream = role if emg is not None else _ACC
        x = block.samples
        step = _CHUNK_SAMPLES
        for i in range(0, max(x.size, 1), step):
            if emg is not None:
                emg.append(x[i : i + step], block.t0_s + i / fs)
                if self._mains_undecided:
                    self._vote_mains(final=False)
            else:
                self._acc.append(role, x[i : i + step], block.t0_s + i / fs)
            if self._batch_ready(stream):
                self._drain(stream)
        return self._emit()

    def flush(self) -> FeatureFrames:
        """End of recording: emit the remaining whole frames.

        Roles that stopped early are gap-filled up to the last whole hop of the longest
        role; a trailing partial hop is dropped.
        """
        if self._finished:
            return _NO_FRAMES
        if self._mains_undecided:
            self._vote_mains(final=True)
        for stream in self._streams:
            self._drain(stream)
        k_end = max(b.complete_hops for b in self._buffers.values())
        for b in self._buffers.values():
            b.fill_gap(b.bound(k_end))
        for stream in self._streams:
            self._drain(stream)
        self._finished = True
        return self._emit()

    def _vote_mains(self, final: bool) -> None:
        """Set every EMG channel's notch once the vote over them is in; the channels
        waiting with a batch buffered are drained then."""
        dets = [ch.mains_detector for ch in self._emg.values()]
        hz = vote_mains([d for d in dets if d is not None], final=final)
        if hz is None:
            return
        self._mains_undecided = False
        for role, ch in self._emg.items():
            ch.set_mains(hz)
            if not final and self._batch_ready(role):
                self._drain(role)

    def _batch_ready(self, stream: str) -> bool:
        """Whether every role of a stream has at least a batch buffered (see batch_s)."""
        roles = self._acc.buffers if stream == _ACC else (stream,)
        return all(self._buffers[r].buffered >= self._batch[r] for r in roles)

    def _drain(self, stream: str) -> None:
        src = self._streams[stream]
        while (res := src.pop_features(_CHUNK_SAMPLES)) is not None:
            self._queues[stream].append(res)
            self._done[stream] += res[1].shape[0]

    def _take(self, stream: str, m: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._queues[stream]
        rows = np.concatenate([a for a, _ in q]) if len(q) > 1 else q[0][0]
        gaps = np.concatenate([g for _, g in q]) if len(q) > 1 else q[0][1]
        self._queues[stream] = [(rows[m:], gaps[m:])] if rows.shape[0] > m else []
        return rows[:m], gaps[:m]

    def _emit(self) -> FeatureFrames:
        k_end = min(self._done.values())
        m = k_end - self._emitted
        if m <= 0:
            return _NO_FRAMES
        values = np.full((m, len(FEATURE_NAMES)), np.nan)
        gap = np.zeros(m, dtype=bool)
        rel1s = {}
        for role, prefix in _PREFIX.items():
            if role not in self._emg:
                continue
            rows, g = self._take(role, m)
            start = _COL[f"{prefix}_{EMG_FEATURES[0]}"]
            values[:, start : start + _N_EMG] = rows
            rel1s[prefix] = rows[:, EMG_FEATURES.index("rel1s")]
            gap |= g
        if "tib" in rel1s:
            with np.errstate(divide="ignore", invalid="ignore"):
                values[:, _COL["calf_tib_ratio"]] = rel1s["calf"] / rel1s["tib"]
        rows, g = self._take(_ACC, m)
        start = _COL[ACC_FEATURES[0]]
        values[:, start : start + len(ACC_FEATURES)] = rows
        gap |= g
        values[:, _COL["gap"]] = gap
        values[:, _COL["has_tib"]] = float(self.has_tibialis)
        t_s = (np.arange(self._emitted, k_end) + 1) * self.hop_s
        self._emitted = k_end
        return FeatureFrames(t_s, values, FEATURE_NAMES)


def extract_features(
    signals: Mapping[str, np.ndarray],
    fs_hz: Mapping[str, float],
    hop_s: float = HOP_S,
    *,
    mains_hz: float | None = None,
    block_s: float = 60.0,
) -> FeatureFrames:
    """Offline features of whole signals: runs :class:`SignalPipeline` on them.

    ``signals``: role -> 1-D array (µV for EMG, g for acceleration) starting at 0 s,
    sampled at ``fs_hz[role]``. The arrays are fed as interleaved ``block_s`` blocks;
    the result does not depend on ``block_s``.
    """
    pipe = SignalPipeline(fs_hz, hop_s=hop_s, mains_hz=mains_hz)
    arrays = {r: np.asarray(signals[r], dtype=np.float64) for r in pipe.fs_hz}
    duration = max(a.size / pipe.fs_hz[r] for r, a in arrays.items())
    out = []
    n_blocks = max(1, int(np.ceil(duration / block_s)))
    for b in range(n_blocks):
        for role, a in arrays.items():
            fs = pipe.fs_hz[role]
            i0, i1 = round(b * block_s * fs), round((b + 1) * block_s * fs)
            if i0 < a.size:
                out.append(pipe.push(SampleBlock(role, i0 / fs, fs, a[i0:i1])))
    out.append(pipe.flush())
    return FeatureFrames.concat(out)
