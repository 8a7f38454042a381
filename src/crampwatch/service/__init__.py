"""The overnight service (``crampwatch run``) and the demo (``crampwatch demo``).

One asyncio process per night: each source (a BLE sensor per leg, an EDF replay or the
simulated sensor) is read by its own task into a
:class:`~crampwatch.detect.streaming.StreamingDetector`; every event goes first to the
publisher's durable outbox (so the alarm never waits for a disk), then to the night's
EDF+ recording and the local event store. A watchdog turns silence into a
``no_data`` signal issue, and a part that cannot write (outbox, journal, recording) is
announced as ``storage_failed`` while detection and publishing go on.

- :mod:`~crampwatch.service.config` — the TOML config into typed settings (every error
  names the file and key);
- :mod:`~crampwatch.service.sources` — the configured sources, built before any broker is
  contacted so a bad file or profile fails fast;
- :mod:`~crampwatch.service.runner` — :class:`Service`: sources → detector → sink,
  watchdog, recorder, failures counted once;
- :mod:`~crampwatch.service.app` — :func:`run_service`: broker, publisher, local store
  and recordings folder wired around a run, in the order that loses nothing;
- :mod:`~crampwatch.service.recorder` — :class:`NightRecorder`: EDF+ written as samples
  arrive, events as annotations at the end, recovery after a crash;
- :mod:`~crampwatch.service.localstore` — the service's own copy of the night in the
  event store, so ``crampwatch review --last`` needs no separate logger;
- :mod:`~crampwatch.service.demo`, :mod:`~crampwatch.service.command` — the scripted
  demo night and the ``run`` / ``demo`` verbs.

Nothing is imported here: the service's memory budget counts every module it loads
(``tests/service/test_service_imports.py``).
"""

__all__: list[str] = []
