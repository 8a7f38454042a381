"""Sans-I/O packet decoders: notification bytes in, samples in µV / g out.

No Bleak import and no clock here: a decoder is fed the bytes of one notification (and
the characteristic it came on) and returns a :class:`DecodedPacket` or ``None``. A short,
long, garbled or unknown packet is counted in :class:`DecodeStats` and skipped; it never
raises, so one bad packet cannot end an eight-hour stream. Device quirks stay in the
device's module (bleak-style): ``reference`` (crampwatch reference sensor), ``ganglion``
(OpenBCI Ganglion), ``myo`` (Thalmic Myo).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from crampwatch.acquire.profiles import Profile

__all__ = ["DecodeStats", "DecodedPacket", "Decoder", "make_decoder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DecodedPacket:
    """Samples of one notification.

    Attributes
    ----------
    stream:
        Profile stream the packet belongs to (timing is tracked per stream).
    samples:
        Role -> 1-D float64 array in the role's units (µV for EMG, g for acceleration),
        at the profile's rate for that role. Roles absent from a packet are omitted.
    seq:
        Packet sequence counter as sent (modulo the stream's ``seq_modulo``), or ``None``.
    sensor_time_s:
        Sensor clock of the first sample of the packet, s (wrapping as the device's counter
        wraps; see :attr:`sensor_time_wrap_s`), or ``None`` when the device sends none.
    sensor_time_wrap_s:
        Period after which ``sensor_time_s`` wraps to 0, s.
    flags:
        Device status bits worth surfacing (e.g. ``{"lead_off": True}``).
    """

    stream: str
    samples: dict[str, np.ndarray]
    seq: int | None = None
    sensor_time_s: float | None = None
    sensor_time_wrap_s: float | None = None
    flags: dict[str, bool] = field(default_factory=dict)


@dataclass
class DecodeStats:
    """Running counters of one decoder (mutable on purpose: it is a counter)."""

    packets: int = 0
    bad_packets: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def bad(self, reason: str) -> None:
        """Count one skipped packet and why (``short``, ``long``, ``crc``, ...)."""
        self.bad_packets += 1
        self.reasons[reason] += 1
        logger.debug("skipped packet: %s", reason)


class Decoder(ABC):
    """Base of all decoders; subclasses implement :meth:`_decode`."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.stats = DecodeStats()

    def decode(self, packet: bytes, characteristic: str | None = None) -> DecodedPacket | None:
        """Decode one notification; ``None`` (and a counted reason) when it is unusable."""
        try:
            result = self._decode(bytes(packet), (characteristic or "").lower())
        except Exception:  # a decoder bug must not end the night: count it, keep going
            logger.exception("decoder %s failed on %s", type(self).__name__, bytes(packet).hex())
            self.stats.bad("decoder_error")
            return None
        if result is not None:
            self.stats.packets += 1
        return result

    def reset(self) -> None:  # noqa: B027 - optional hook, stateless decoders keep it
        """Forget per-connection state (called after every (re)connection)."""

    @abstractmethod
    def _decode(self, packet: bytes, characteristic: str) -> DecodedPacket | None: ...


def make_decoder(profile: Profile) -> Decoder:
    """A fresh decoder for ``profile`` (one per sensor: decoders keep state)."""
    from crampwatch.acquire.decoders import ganglion, myo, reference

    registry: dict[str, type[Decoder]] = {
        "crampwatch_ref_v1": reference.ReferenceDecoder,
        "openbci_ganglion": ganglion.GanglionDecoder,
        "thalmic_myo": myo.MyoDecoder,
    }
    try:
        cls = registry[profile.decoder]
    except KeyError:
        from crampwatch.errors import CrampwatchError

        raise CrampwatchError(
            f"{profile.path}: decoder {profile.decoder!r} is unknown; known: {sorted(registry)}"
        ) from None
    return cls(profile)
