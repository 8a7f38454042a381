"""Is the shin upright (the sleeper standing or sitting up)? Learned from the night itself.

The accelerometer is strapped to the shin at an unknown rotation, so no sensor axis can
be assumed to run along the shin. But lying in bed, on the back, the side or the front,
the shin is roughly horizontal: the gravity directions of the lying postures all lie on
one great circle, perpendicular to the shin's long axis. Standing or sitting on the edge
of the bed puts gravity *along* that axis. So the long axis is the direction the lying
gravity vectors avoid: the eigenvector of their scatter matrix with the smallest
eigenvalue, once the night has shown two lying postures that differ enough to span the
circle (one posture alone leaves the axis unknown).

Only frames that look like lying asleep feed the estimate: shank still, calf relaxed, and
the gravity direction where it was ``settle_s`` s before (a posture held, not a
transition). Quiet standing keeps the calf working (postural activity) and a trip out
of bed is short and moving, so standing barely enters it; sleep postures are held for
many minutes.
The estimate is refreshed every ``update_s`` s of recording time (at fixed frame
counts, so any block size gives the same answer) and is used only when the gravity set
is clearly planar; until then nothing is flagged: an unknown axis never holds an alarm
back.

Limits: time upright with a relaxed calf and a still shank (sitting on the edge of the
bed) looks like one more lying posture; after enough of it, the first minutes in a
lying posture not seen before that night can come out "upright". Lying on the back with
the knees drawn up tilts the shin off the circle: the set is then less planar and the
axis may stay unknown. A sensor re-strapped at another angle mid-night is a new
frame: its old postures mislead the estimate until the new ones outweigh them.
"""

from __future__ import annotations

import numpy as np

from crampwatch.detect.features import period_ends
from crampwatch.detect.timing import FRAME_S

__all__ = ["UprightDetector"]

# the 6 distinct entries of the symmetric 3x3 scatter matrix u u^T
_IJ = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
_I = [i for i, _ in _IJ]
_J = [j for _, j in _IJ]


class UprightDetector:
    """Streaming upright flags from the gravity vector (0.1-s frames).

    Parameters
    ----------
    frame_s:
        Frame length, s.
    update_s:
        How often the long-axis estimate is refreshed, s of recording time.
    settle_s:
        A frame feeds the estimate only if the gravity direction was within
        ``settle_deg`` of it this long before, s.
    settle_deg:
        See ``settle_s``, degrees.
    min_span:
        The lying gravity directions must span the circle: the middle eigenvalue of
        their (unit-vector, time-averaged) scatter matrix at least this (two postures at
        right angles, the shorter held for a share ``w`` of the lying time, give ``w``).
    max_flatness:
        ... and the smallest eigenvalue at most this fraction of the middle one (the set
        is planar: lying postures, not a mix with time spent upright).
    upright_cos:
        A frame is upright when its gravity direction is within ``arccos(upright_cos)``
        of the long axis (0.87: within about 30°, the shin tilted over 60° from the
        horizontal: standing, sitting with the feet down; lying postures are near 90°
        from the axis, and lying on the back with the knees drawn up tilts the shin
        by 30-55°).
    """

    def __init__(
        self,
        frame_s: float = FRAME_S,
        *,
        update_s: float = 10.0,
        settle_s: float = 60.0,
        settle_deg: float = 15.0,
        min_span: float = 0.05,
        max_flatness: float = 0.2,
        upright_cos: float = 0.87,
    ) -> None:
        self.update_frames = max(1, round(update_s / frame_s))
        self.settle_frames = max(1, round(settle_s / frame_s))
        self._settle_cos = float(np.cos(np.radians(settle_deg)))
        # unit gravity of the last `settle_frames` frames (NaN: unusable or not yet seen)
        self._tail = np.full((self.settle_frames, 3), np.nan)
        self.min_span = min_span
        self.max_flatness = max_flatness
        self.upright_cos = upright_cos
        self._scatter = np.zeros(6)  # running sums of u u^T entries over lying frames
        self._count = 0.0
        self._frames_seen = 0
        self._axis: np.ndarray | None = None  # unit long axis, None while unknown
        # per frame of the last push: the axis was known, so a False flag means lying
        self.known = np.zeros(0, bool)

    @property
    def axis(self) -> np.ndarray | None:
        """The current long-axis estimate (unit vector in sensor axes) or None."""
        return self._axis

    def push(self, grav_g: np.ndarray, lying: np.ndarray) -> np.ndarray:
        """Upright flags for frames with gravity ``grav_g`` ``(n, 3)`` (g) and ``lying``
        ``(n,)`` (bool: the frame looks like lying asleep — still shank, relaxed calf).

        Each frame is judged with the axis estimated at the last refresh before it.
        """
        n = grav_g.shape[0]
        out = np.zeros(n, bool)
        self.known = np.zeros(n, bool)
        if n == 0:
            return out
        g = np.asarray(grav_g, float)
        norm = np.sqrt(np.einsum("ij,ij->i", g, g))
        # a gravity reading far from 1 g is a moving sensor, not a posture (NaN: no)
        usable = np.abs(norm - 1.0) < 0.2
        u = np.where(usable[:, None], g / np.where(usable, norm, 1.0)[:, None], np.nan)
        feed = usable & np.asarray(lying, bool) & self._held(u)
        # the entries of u u^T of the fed frames, 0 elsewhere; running sums continued
        # from the previous block's (the same additions in the same order whatever the
        # block size)
        terms = np.where(feed[:, None], u[:, _I] * u[:, _J], 0.0)
        cum = np.cumsum(np.vstack([self._scatter, terms]), axis=0)[1:]
        cnt = self._count + np.cumsum(feed)
        at = period_ends(self._frames_seen, n, self.update_frames)  # refresh frames
        self._frames_seen += n
        self._scatter, self._count = cum[-1].copy(), float(cnt[-1])
        start = 0
        for a in at:  # a few per block (one per 10 s of frames)
            self._flag(u[start : a + 1], out[start : a + 1])
            self.known[start : a + 1] = self._axis is not None
            self._axis = self._estimate(cum[a], cnt[a])
            start = a + 1
        self._flag(u[start:], out[start:])
        self.known[start:] = self._axis is not None
        return out

    def _held(self, u: np.ndarray) -> np.ndarray:
        """Frames whose gravity direction ``u`` (unit rows, NaN: unusable) is within
        ``settle_deg`` of the direction ``settle_frames`` frames before."""
        hist = np.concatenate([self._tail, u])
        before, self._tail = hist[: u.shape[0]], hist[-self.settle_frames :]
        with np.errstate(invalid="ignore"):
            return np.einsum("ij,ij->i", u, before) >= self._settle_cos  # NaN: False

    def _flag(self, u: np.ndarray, out: np.ndarray) -> None:
        """Write into ``out`` whether each unit gravity row of ``u`` lies within
        ``arccos(upright_cos)`` of the current axis (nothing while it is unknown)."""
        if self._axis is None or u.shape[0] == 0:
            return
        with np.errstate(invalid="ignore"):
            out[:] = np.abs(u @ self._axis) >= self.upright_cos  # NaN (unusable): False

    def _estimate(self, sums: np.ndarray, count: float) -> np.ndarray | None:
        """The long axis from the scatter sums over ``count`` lying frames, or None
        while the lying directions do not clearly span one plane."""
        if count <= 0:
            return None
        m = np.empty((3, 3))
        for k, (i, j) in enumerate(_IJ):
            m[i, j] = m[j, i] = sums[k] / count
        vals, vecs = np.linalg.eigh(m)  # ascending
        if vals[1] < self.min_span or vals[0] > self.max_flatness * vals[1]:
            return None
        return vecs[:, 0]
