"""The service loop with the real detector: silence watchdog, stop, recordings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from crampwatch.acquire.base import Source, SourceNotice
from crampwatch.acquire.replay import ReplaySource
from crampwatch.service.runner import Service
from crampwatch.simulate import simulate_night


class PausingSource(Source):
    """Replays a short night and goes silent for ``pause_s`` wall seconds half-way."""

    def __init__(self, pause_s: float) -> None:
        self.inner = ReplaySource(
            simulate_night(60 / 3600, 2, emg_fs_hz=500, acc_fs_hz=50).recording,
            device_id="t",
            speed=0,
            block_s=1.0,
        )
        self.device_id, self.leg, self.stats = "t", None, {}
        self.pause_s = pause_s

    @property
    def fs_hz(self):
        return self.inner.fs_hz

    async def stream(self):
        async for item in self.inner.stream():
            if not isinstance(item, SourceNotice) and item.t0_s == 30.0 and item.role == "acc_z":
                await asyncio.sleep(self.pause_s)
            yield item


class MuteSource(PausingSource):
    """A sensor that connects but never sends a sample for ``pause_s`` seconds."""

    async def stream(self):
        await asyncio.sleep(self.pause_s)
        return
        yield  # an async generator that yields nothing


def test_a_sensor_that_never_sends_gets_a_closed_issue_of_this_run():
    def silent_issues() -> list:
        events: list = []
        service = Service(
            [MuteSource(pause_s=0.6)], events.append, recordings_dir=None, no_data_timeout_s=0.2
        )
        asyncio.run(service.run())
        return [e for e in events if e.details.get("kind") == "no_data"]

    first, second = silent_issues(), silent_issues()
    # opened, then closed at the end of the run, with this run's wall clock
    assert [e.end_s is None for e in first] == [True, False]
    assert first[0].onset_time is not None
    # another night's run: its own id, not the same key again (which the store would
    # take for a duplicate of last night's issue)
    assert first[0].id != second[0].id or first[0].onset_time == second[0].onset_time


def test_silence_raises_no_data_then_closes_it(tmp_path):
    events = []
    service = Service(
        [PausingSource(pause_s=1.0)], events.append, recordings_dir=tmp_path, no_data_timeout_s=0.3
    )
    result = asyncio.run(service.run())
    silent = [e for e in events if e.type == "signal_issue" and e.details.get("kind") == "no_data"]
    assert [e.end_s is None for e in silent] == [True, False]
    assert silent[0].id == silent[1].id
    assert 29.0 <= silent[0].onset_s <= 31.0 and silent[1].end_s >= silent[0].onset_s
    assert result.recordings and result.recordings[0].exists()


def test_stop_ends_a_live_source_and_finishes_the_recording(tmp_path):
    night = simulate_night(120 / 3600, 3, emg_fs_hz=500, acc_fs_hz=50)
    source = ReplaySource(night.recording, device_id="t", speed=50.0, block_s=0.1)
    service = Service([source], lambda e: None, recordings_dir=tmp_path, no_data_timeout_s=30)

    async def main():
        task = asyncio.create_task(service.run())
        await asyncio.sleep(0.6)  # about 30 s of night
        service.stop()
        return await task

    result = asyncio.run(main())
    assert 10.0 < result.recorded_s < 110.0  # stopped part-way, not at the end
    assert len(result.recordings) == 1 and not list(tmp_path.glob("*.part"))


def _leg_movements(recording, *, units_known: bool) -> list[tuple[float, float | None]]:
    source = ReplaySource(recording, device_id="u", speed=0, block_s=1.0)
    source.emg_units_known = units_known  # as a BLE source does for a nominal-scale profile
    events = []
    asyncio.run(Service([source], events.append, recordings_dir=None).run())
    latest = {e.id: e for e in events}.values()
    return sorted((e.onset_s, e.end_s) for e in latest if e.type == "leg_movement")


def test_a_source_with_unknown_emg_units_gets_rest_relative_leg_movements():
    from crampwatch.recordings import Recording
    from crampwatch.simulate import ScheduledEvent

    night = simulate_night(
        200 / 3600,
        9,
        emg_fs_hz=500,
        acc_fs_hz=50,
        schedule=[ScheduledEvent("plm_series", 20.0, count=6, interval_s=25.0, peak_uv=40.0)],
    ).recording
    gain = 37.3  # uncalibrated counts per µV
    scaled = Recording(
        {r: (x * gain if r.startswith("emg_") else x) for r, x in night.signals.items()},
        dict(night.fs_hz),
        night.start_time,
    )
    unitless = _leg_movements(night, units_known=False)
    assert len(unitless) >= 4
    assert _leg_movements(scaled, units_known=False) == unitless
    # the µV rule on the same counts scores something else: the flag is what changed it
    assert _leg_movements(scaled, units_known=True) != unitless


def _cramp_night():
    from crampwatch.simulate import ScheduledEvent

    schedule = [
        ScheduledEvent("plm_series", 20.0, count=4, interval_s=20.0),
        ScheduledEvent("cramp", 100.0, duration_s=30.0, peak_uv=250.0),
    ]
    return simulate_night(150 / 3600, 4, emg_fs_hz=500, acc_fs_hz=50, schedule=schedule)


def _run(recording, recordings_dir) -> tuple[list, object]:
    events: list = []
    source = ReplaySource(recording, device_id="t", speed=0, block_s=1.0)
    start = {"t": datetime(2026, 11, 24, 22, 0, tzinfo=UTC)}  # the same ids in every run
    service = Service([source], events.append, recordings_dir=recordings_dir, start_times=start)
    result = asyncio.run(service.run())
    return events, result


def test_a_failing_recorder_starves_neither_detection_nor_publishing(tmp_path, monkeypatch):
    from crampwatch.service.recorder import NightRecorder

    night = _cramp_night().recording
    healthy, _ = _run(night, None)
    assert "cramp" in {e.type for e in healthy}
    writes: list[float] = []

    def full_disk(self, block) -> None:
        writes.append(block.t0_s)
        if block.t0_s >= 10.0:
            raise OSError(28, "No space left on device")

    def journal_full(self, event) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(NightRecorder, "write", full_disk)
    monkeypatch.setattr(NightRecorder, "add_event", journal_full)
    events, result = _run(night, tmp_path)
    issues = [e for e in events if e.details.get("kind") == "storage_failed"]
    # every event of the healthy run, and one more saying storage failed, in words
    assert [e for e in events if e not in issues] == healthy
    assert len(issues) == 1 and issues[0].details["what"] == "recording"
    assert "No space left on device" in issues[0].details["message"]
    assert max(writes) == 10.0  # the recorder stopped at its first failure
    assert result.failures["recording"].count == 1
    assert result.failures["journal"].count == len(events)  # tried for each, logged once


def test_a_repeated_bug_is_logged_once_with_a_count(tmp_path, monkeypatch, caplog):
    from crampwatch.detect.streaming import StreamingDetector

    def broken(self, block):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(StreamingDetector, "push", broken)
    _events, result = _run(_cramp_night().recording, None)
    (failure,) = result.failures.values()
    assert failure.count == result.notices["errors"] > 100  # every block failed ...
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1  # ... one line


def _assembler_gaps() -> list[SourceNotice]:
    """Gap notices as the real assembler makes them for a reference sensor: packets lost
    while connected, then the time away during a reconnection."""
    import numpy as np

    from crampwatch.acquire.assembler import BlockAssembler
    from crampwatch.acquire.decoders import make_decoder
    from crampwatch.acquire.profiles import get_profile
    from support.encoders import encode_reference

    profile = get_profile("crampwatch-ref")
    decoder, rng = make_decoder(profile), np.random.default_rng(0)
    packets = [
        decoder.decode(
            encode_reference(
                k,
                20_000 * k,
                rng.integers(-2000, 2000, size=(20, 2)),
                rng.integers(-4096, 4096, size=(2, 3)),
            )
        )
        for k in range(200)
    ]
    assembler = BlockAssembler(profile, block_s=1.0)
    out = [x for k in range(50) for x in assembler.push(packets[k], 0.02 * k)]
    out += assembler.push(packets[60], 0.02 * 60)  # ten packets lost
    assembler.new_connection()
    out += assembler.push(packets[150], 0.02 * 150 + 0.3)
    return [n for n in out if isinstance(n, SourceNotice)]


class TroubledSource(PausingSource):
    """A night with a loose calf electrode and mains hum, in which the sensor also
    reports lost packets, a reconnection and a low battery, and goes silent."""

    def __init__(self) -> None:
        from crampwatch.simulate import ScheduledEvent

        super().__init__(pause_s=1.0)
        schedule = [
            ScheduledEvent("electrode_off", 10.0, muscle="emg_calf", duration_s=15.0),
            ScheduledEvent("mains", 35.0, muscle="emg_calf", duration_s=20.0, peak_uv=150.0),
        ]
        night = simulate_night(60 / 3600, 5, emg_fs_hz=500, acc_fs_hz=50, schedule=schedule)
        self.inner = ReplaySource(night.recording, device_id="t", speed=0, block_s=1.0)

    async def stream(self):
        async for item in super().stream():
            yield item
            if not isinstance(item, SourceNotice) and item.t0_s == 20.0 and item.role == "acc_z":
                for notice in _assembler_gaps():
                    yield notice
                yield SourceNotice("battery", t_s=21.0, detail={"percent": 5})


def test_every_signal_issue_the_service_emits_is_a_known_kind(tmp_path):
    from crampwatch.events import SignalIssueKind as K

    not_a_folder = tmp_path / "recordings"
    not_a_folder.write_text("")  # the recording cannot be written: storage_failed
    events: list = []
    service = Service(
        [TroubledSource()], events.append, recordings_dir=not_a_folder, no_data_timeout_s=0.3
    )
    asyncio.run(service.run())
    kinds = {e.details.get("kind") for e in events if e.type == "signal_issue"}
    assert kinds <= set(K)
    assert {K.SEQUENCE, K.RECONNECT, K.BATTERY_LOW, K.NO_DATA, K.STORAGE_FAILED} <= kinds
    assert kinds & {K.POOR_QUALITY, K.MAINS, K.SATURATION, K.ELECTRODE_OFF, K.GAP}  # detector's
