"""Build the configured sources: BLE sensors, an EDF replay, or the simulated sensor."""

from __future__ import annotations

from datetime import UTC, datetime

from crampwatch.acquire.base import Source
from crampwatch.acquire.replay import ReplaySource
from crampwatch.errors import CrampwatchError
from crampwatch.service.config import ReplaySettings, ServiceConfig, SimulatorSettings

__all__ = ["build_sources", "replay_block_s"]


def replay_block_s(speed: float) -> float:
    """Block length for a replay: BLE-sized at real-time-like speeds, large when racing.

    Detection results do not depend on the block size (tested in ``tests/detect``), so
    fast replays use long blocks purely to save Python overhead.
    """
    if speed == 0:
        return 5.0
    return min(5.0, max(0.1, 0.1 * speed / 10))


def build_sources(cfg: ServiceConfig) -> tuple[list[Source], dict[str, datetime]]:
    """The sources of ``cfg`` and, for recordings, their wall-clock start times.

    Reading the recording, simulating the night or resolving a sensor profile happens
    here, before any broker is contacted, so a bad file or profile fails fast.
    """
    # the order of ServiceConfig.source_kind: a replay overrides sensors, sensors a simulator
    if cfg.replay is not None:
        return _replay_sources(cfg, cfg.replay)
    if cfg.sensors:
        return _ble_sources(cfg), {}
    if cfg.simulator is not None:
        return _simulator_sources(cfg, cfg.simulator)
    raise CrampwatchError(
        "no sensor configured: give --config FILE with a [[sensor]] (see configs/) or "
        "--replay REC; 'crampwatch demo' runs a simulated night"
    )


def _replay_sources(
    cfg: ServiceConfig, r: ReplaySettings
) -> tuple[list[Source], dict[str, datetime]]:
    from crampwatch.detect.legs import detection_mode
    from crampwatch.recordings import read_recording

    rec = read_recording(r.path, r.channels or None)
    mode = detection_mode(list(rec.signals))
    if not mode.cramp_alarm:  # the service runs the cramp detector only, for now
        raise CrampwatchError(f"{r.path}: {mode.line}; score it with 'crampwatch detect'")
    src = ReplaySource(
        rec, device_id=cfg.device_id, leg=r.leg, speed=r.speed, block_s=replay_block_s(r.speed)
    )
    starts = {cfg.device_id: rec.start_time} if rec.start_time else {}
    return [src], starts


def _simulator_sources(
    cfg: ServiceConfig, s: SimulatorSettings
) -> tuple[list[Source], dict[str, datetime]]:
    from crampwatch.simulate import simulate_night

    # a simulated night that started now (so it is tonight's in the review)
    start = datetime.now(UTC).replace(microsecond=0)
    night = simulate_night(
        s.hours, s.seed, emg_fs_hz=s.emg_fs_hz, acc_fs_hz=s.acc_fs_hz, start_time=start
    )
    src = ReplaySource(
        night.recording,
        device_id=cfg.device_id,
        leg=s.leg,
        speed=s.speed,
        block_s=replay_block_s(s.speed),
    )
    return [src], {cfg.device_id: start}


def _ble_sources(cfg: ServiceConfig) -> list[Source]:
    from crampwatch.acquire.ble import BleSensorSource
    from crampwatch.acquire.profiles import get_profile

    sources: list[Source] = []
    for sensor in cfg.sensors:
        profile = get_profile(sensor.profile)
        device_id = sensor.device_id or cfg.device_id
        sources.append(
            BleSensorSource(
                profile, sensor.address or sensor.name or "", device_id=device_id, leg=sensor.leg
            )
        )
    return sources
