"""An offline replay computes in large batches; its events are those of a live-style run
(every frame computed as soon as it is complete, small blocks)."""

from __future__ import annotations

from crampwatch.detect.legs import LegMovementDetector, detect_legs, leg_channels
from crampwatch.detect.streaming import detect_recording
from crampwatch.recordings.model import Recording
from crampwatch.recordings.replay import iter_channel_blocks
from crampwatch.simulate import ScheduledEvent
from crampwatch.simulate.psg import simulate_psg


def test_batched_replay_gives_the_live_events(make_night, model):
    night = make_night(
        [
            ScheduledEvent("cramp", 90.0, duration_s=40.0, peak_uv=150.0, prodrome_s=0.0),
            ScheduledEvent("plm_series", 20.0, count=5, interval_s=20.0),
        ],
        hours=0.06,
    )
    live = detect_recording(night.recording, device_id="t", model=model, block_s=1.0, batch_s=0)
    replay = detect_recording(night.recording, device_id="t", model=model)
    assert [e.to_dict() for e in live] == [e.to_dict() for e in replay]
    assert {e.type for e in live} >= {"cramp", "leg_movement"}  # not vacuous


def test_two_leg_detector_live_and_replayed_agree():
    night = simulate_psg(0.1, 3)
    signals = {f"emg_tibialis.{leg}": x for leg, x in night.legs.items()}
    rec = Recording(signals, dict.fromkeys(signals, night.emg_fs_hz))
    channels = leg_channels(list(signals))
    det = LegMovementDetector(channels, rec.fs_hz, device_id="t")
    live = []
    for _key, block in iter_channel_blocks(rec, 1.0, list(signals)):
        live += det.push(block)  # the key from the block's role and leg
    live += det.flush()
    replay = detect_legs(rec, channels, device_id="t")
    order = sorted(live, key=lambda e: (e.detected_at_s, e.onset_s, e.type, str(e.leg)))
    assert [e.to_dict() for e in order] == [e.to_dict() for e in replay]
    assert any(e.details.get("bilateral") for e in replay)
