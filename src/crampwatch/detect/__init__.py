"""crampwatch.detect: feature frames in, events (:class:`crampwatch.events.Event`) out.

Everything here runs on the signal pipeline's feature frames: one frame per 0.1 s of
recording (:data:`crampwatch.detect.timing.FRAME_S`, 10 frames/s), stamped with its end
time. Times are seconds of recording time (the sample clock, never the wall clock); EMG
levels are µV, or multiples of the channel's resting level where the units are unknown;
shank motion is in g.

- :mod:`~crampwatch.detect.streaming`: :class:`~crampwatch.detect.streaming.StreamingDetector`
  = the :class:`crampwatch.signal.SignalPipeline` in front of a ``FrameDetector``
  (sample blocks in, events out: the live service, ``crampwatch detect``, the
  evaluation); :func:`~crampwatch.detect.streaming.detect_recording` replays a
  recording through it;
- :mod:`~crampwatch.detect.frame_detector`: ``FrameDetector``, frames in, events out
  (training's threshold tuning replays stored frames through it). It uses:

  - :mod:`~crampwatch.detect.bad_signal`: when an EMG channel cannot be trusted (gap,
    flat line, clipping, hum, poor quality; hum growing as an electrode loosens);
  - :mod:`~crampwatch.detect.trackers`: the event state machines (the cramp alarm and
    its rule, ``CrampParams``; the cramp warning, position change, signal issue);
  - :mod:`~crampwatch.detect.wasm`: WASM 2016 leg-movement scoring and periodicity;
  - :mod:`~crampwatch.detect.upright`: is the shin upright (standing, sitting up)?

- :mod:`~crampwatch.detect.legs`: leg movements and PLMs from leg EMG alone (a sleep
  lab's recording, no accelerometer), with the same bad-signal rules and WASM scoring;
- :mod:`~crampwatch.detect.timing`: the frame hop (``FRAME_S``, the signal pipeline's
  :data:`crampwatch.signal.frames.HOP_S`) and the offline replay batch;
- :mod:`~crampwatch.detect.features`: the model's unit-free inputs with 1–3 s of causal
  history;
- :mod:`~crampwatch.detect.model`: the frame classifier (skops file, safe loading,
  ``$CRAMPWATCH_MODEL``) and its alarm thresholds;
- :mod:`~crampwatch.detect.card`: the model card; :mod:`~crampwatch.detect.metrics`:
  event-level scoring against ground truth; :mod:`~crampwatch.detect.training`:
  training data, fitting and threshold choice; :mod:`~crampwatch.detect.psg_eval`: leg
  movements scored on simulated PSG nights;
- :mod:`~crampwatch.detect.command`: the ``detect``, ``evaluate`` and ``train`` verbs
  (the I/O edge; the rest reads and writes no files, except the model and its card).

See ``docs/detection.md`` for the rules.
"""
