"""The overnight service: sources → signal → detect → recorder + outbox → MQTT.

One asyncio process. Each source (a BLE sensor per leg, an EDF replay or the simulated
sensor) is consumed by its own task that feeds a :class:`StreamingDetector`; events go
to the durable outbox of the publisher (paho's network thread does the sending) and to
the night recorder. A watchdog turns silence into a ``signal_issue`` (``no_data``) so
nobody sleeps believing they are watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crampwatch.acquire.base import Source, SourceNotice
from crampwatch.blocks import SampleBlock
from crampwatch.detect.streaming import StreamingDetector
from crampwatch.errors import CrampwatchError
from crampwatch.events import Event, EventType, SignalIssueKind, event_id, onset_time_iso
from crampwatch.service.recorder import NightRecorder, sensor_resolution

__all__ = [
    "Failure",
    "RunResult",
    "Service",
    "failure_reason",
    "pipeline_batch_s",
    "release_freed_memory",
]

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]

# Seconds of signal after which the model is loaded and the pipeline has run its first
# batches (0.5 s live, up to 30 s for fast replays), so its one-off buffers are freed.
WARM_UP_S = 60.0

# What a storage failure raises: the file system (full, read-only, I/O) or SQLite.
STORAGE_ERRORS = (OSError, sqlite3.Error)


def failure_reason(exc: BaseException) -> str:
    """A failure in words for a log line: ``No space left on device``, not a traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@dataclass
class Failure:
    """One part of the run that failed: logged once, then only counted."""

    what: str  # recording, journal, outbox, publishing, processing
    reason: str  # the first failure in words
    count: int = 1

    def line(self) -> str:
        times = "" if self.count == 1 else f", {self.count} times"
        return f"{self.what} ({self.reason}{times})"


@dataclass
class RunResult:
    """What a run did (for the exit line and the tests)."""

    events: list[Event] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)
    recorded_s: float = 0.0
    notices: dict[str, int] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)


@dataclass
class _Channel:
    """The per-source state of a run."""

    source: Source
    detector: StreamingDetector | None = None
    recorder: NightRecorder | None = None
    recording_failed: bool = False  # stopped after a write failed: the file keeps what it has
    start_time: datetime | None = None
    last_t_s: float = 0.0
    last_data: float = 0.0
    silent: Event | None = None  # the open no_data issue
    battery_low: bool = False
    warmed_up: bool = False  # the pipeline has run: its one-off allocations are done


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the OS (glibc ``malloc_trim``).

    Loading the model and building the pipeline free a few MB of temporary buffers that
    glibc would otherwise keep resident for the whole night (bench/bench_service.py:
    about -2 MB RSS). A no-op where the C library has no ``malloc_trim`` (macOS, musl).
    """
    import ctypes  # already loaded by numpy: costs nothing here

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def pipeline_batch_s(source: Source) -> float:
    """Seconds of signal the pipeline gathers per computation for ``source``.

    Live: 0.5 s, which cuts the per-call cost of 100-ms BLE blocks about fivefold and
    delays a wake-up by at most half a second (``detected_at_s`` is unchanged). An
    accelerated replay batches the same ~50 ms of wall-clock time; ``speed`` 0 replays
    already come in long blocks.
    """
    speed = getattr(source, "speed", 1.0)
    if speed == 0:
        return 0.0
    return min(30.0, max(0.5, 0.05 * speed))


class Service:
    """Run sources through detection until they end or :meth:`stop` is called.

    Parameters
    ----------
    sources:
        The sensors (one per leg) or a replay / simulated source.
    sink:
        Called with every event, in order (the publisher's ``publish``).
    recordings_dir:
        Where each source's night is written as EDF+; ``None`` disables recording.
    start_times:
        Per device_id, the wall-clock start of the recording (replays); live sources
        use the host clock at their first sample.
    no_data_timeout_s:
        Seconds (wall clock) without samples before a ``no_data`` signal issue.
    on_recording:
        Called with each finished EDF+ recording (to announce it to the logger).
    """

    def __init__(
        self,
        sources: list[Source],
        sink: EventSink,
        *,
        recordings_dir: Path | None,
        start_times: dict[str, datetime] | None = None,
        no_data_timeout_s: float = 30.0,
        low_battery_pct: int = 15,
        model_path: str | None = None,
        progress: Callable[[float], None] | None = None,
        on_recording: Callable[[Source, Path, datetime], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channels = [_Channel(s) for s in sources]
        self.sink = sink
        self.recordings_dir = recordings_dir
        self.start_times = start_times or {}
        self.no_data_timeout_s = no_data_timeout_s
        self.low_battery_pct = low_battery_pct
        self.progress = progress
        self.on_recording = on_recording
        self._clock = clock
        self._model = None
        if model_path:
            from crampwatch.detect.model import load_model

            self._model = load_model(model_path)
        self.result = RunResult()
        self._stop = asyncio.Event()
        self._lock = threading.Lock()  # failures are also reported from the outbox thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._storage_announced = False
        # a storage failure before any sensor delivered (no detector yet): said once one does
        self._unannounced: str | None = None
        # wall-clock start of this run: the time origin of a sensor's issues before its
        # first sample (else a silent sensor's no_data id would repeat every night)
        self._run_start: datetime | None = None

    def stop(self) -> None:
        """Ask the run to end (SIGINT/SIGTERM): open events are closed, files finished."""
        self._stop.set()

    def report_failure(self, what: str, exc: BaseException) -> None:
        """Count a failure of ``what`` (from any thread); the first one of each part is
        logged, the first storage failure of the run is announced as a
        ``storage_failed`` signal issue (the exit line names them all)."""
        first = self._count_failure(what, exc)
        if not first or not isinstance(exc, STORAGE_ERRORS):
            return
        with self._lock:
            if self._storage_announced:
                return
            self._storage_announced = True
        loop = self._loop
        if loop is None:  # before the run: said once the first detector exists
            self._unannounced = what
            return
        if loop.is_closed():
            return  # the run is over: the exit line says it
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._announce_failure(what)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(self._announce_failure, what)

    def _count_failure(self, what: str, exc: BaseException) -> bool:
        """True for the first failure of ``what`` (logged); later ones are only counted."""
        with self._lock:
            known = self.result.failures.get(what)
            if known is not None:
                known.count += 1
                return False
            self.result.failures[what] = Failure(what, failure_reason(exc))
        if isinstance(exc, STORAGE_ERRORS):
            log.error(
                "%s failed: %s; detection and alarms go on, further failures are only counted",
                what,
                failure_reason(exc),
            )
        else:  # a bug: its traceback once
            log.error("%s failed; further failures are only counted", what, exc_info=exc)
        return True

    def _announce_failure(self, what: str) -> None:
        """The ``signal_issue`` (``storage_failed``) saying in words what stopped."""
        ch = next((c for c in self.channels if c.detector is not None), None)
        if ch is None:
            self._unannounced = what
            return
        self._unannounced = None
        failure = self.result.failures[what]
        t = ch.last_t_s
        issue = self._issue(
            ch,
            SignalIssueKind.STORAGE_FAILED,
            t,
            t,
            what=what,
            error=failure.reason,
            message=_storage_message(what, failure.reason),
        )
        self._emit(ch, issue)

    async def run(self) -> RunResult:
        self._loop = asyncio.get_running_loop()
        self._run_start = datetime.now(UTC).replace(microsecond=0)
        now = self._clock()
        for ch in self.channels:
            ch.last_data = now
        tasks = [asyncio.create_task(self._consume(ch)) for ch in self.channels]
        watchdog = asyncio.create_task(self._watchdog())
        stopper = asyncio.create_task(self._stop.wait())
        pending = set(tasks)
        try:
            while pending and not self._stop.is_set():
                done, _ = await asyncio.wait(
                    pending | {stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                for t in done & pending:
                    pending.discard(t)
                    t.result()  # a source that failed raises here
        finally:
            for task in (*pending, watchdog, stopper):
                task.cancel()
            for task in (*pending, watchdog, stopper):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for ch in self.channels:
                self._finish(ch)
        return self.result

    # ------------------------------------------------------------------ per source
    async def _consume(self, ch: _Channel) -> None:
        async for item in ch.source.stream():
            try:
                if isinstance(item, SampleBlock):
                    self._on_block(ch, item)
                else:
                    self._on_notice(ch, item)
            except CrampwatchError:
                raise
            except Exception as exc:  # a bug must not end the night: count it, keep watching
                self.result.notices["errors"] = self.result.notices.get("errors", 0) + 1
                self._count_failure(f"{ch.source.device_id}: processing", exc)
            if self._stop.is_set():
                break

    def _on_block(self, ch: _Channel, block: SampleBlock) -> None:
        ch.last_data = self._clock()
        detector = ch.detector if ch.detector is not None else self._open(ch)
        if ch.silent is not None:  # data is back: close the no_data issue
            # the sample clock may not have moved (a stalled link): never end before onset
            end_s = max(ch.silent.onset_s, block.t0_s)
            self._emit(ch, ch.silent.with_end(end_s, end_s))
            ch.silent = None
        # detection first: the alarm never waits for, or depends on, the disk
        for ev in detector.push(block):
            self._emit(ch, ev)
        self._record(ch, block)
        if not ch.warmed_up and block.end_s >= WARM_UP_S:
            ch.warmed_up = True
            release_freed_memory()
        if block.end_s > ch.last_t_s:
            ch.last_t_s = block.end_s
            if self.progress is not None:
                self.progress(ch.last_t_s)

    def _record(self, ch: _Channel, block: SampleBlock) -> None:
        if ch.recorder is None or ch.recording_failed:
            return
        try:
            ch.recorder.write(block)
        except STORAGE_ERRORS as exc:
            # A failed write may leave part of a data record: stop here, and the file
            # keeps every complete record before it (finalize cuts the rest).
            ch.recording_failed = True
            self.report_failure("recording", exc)

    def _on_notice(self, ch: _Channel, notice: SourceNotice) -> None:
        self.result.notices[notice.kind] = self.result.notices.get(notice.kind, 0) + 1
        d = notice.detail
        if notice.kind == "gap" and ch.detector is not None:
            start, end = float(d.get("start_s", notice.t_s or 0.0)), float(d.get("end_s", 0.0))
            log.warning(
                "%s: %.1f s of data lost (%s)",
                ch.source.device_id,
                end - start,
                d.get("reason", "gap"),
            )
            for ev in ch.detector.notice_gap(start, end, reason=_gap_kind(d.get("reason")).value):
                self._emit(ch, ev)
        elif notice.kind == "disconnected":
            log.warning("%s: sensor disconnected; reconnecting", ch.source.device_id)
        elif notice.kind == "connected":
            log.info("%s: sensor connected %s", ch.source.device_id, d)
        elif notice.kind == "battery":
            self._on_battery(ch, d.get("percent"))
        elif notice.kind == "bad_packet":
            log.warning("%s: %s corrupt packets skipped", ch.source.device_id, d.get("count"))
        elif notice.kind == "error" and not d.get("quiet"):  # repeats: once a minute
            log.warning("%s: %s; retrying", ch.source.device_id, d.get("message"))

    def _on_battery(self, ch: _Channel, percent: object) -> None:
        if not isinstance(percent, int | float):
            return
        low = percent <= self.low_battery_pct
        if low and not ch.battery_low:
            log.warning("%s: battery low (%d%%)", ch.source.device_id, percent)
            t = ch.last_t_s
            self._emit(ch, self._issue(ch, SignalIssueKind.BATTERY_LOW, t, t, percent=percent))
        ch.battery_low = low

    def _open(self, ch: _Channel) -> StreamingDetector:
        """Start the detector (and the recorder) of ``ch`` on its first block."""
        src = ch.source
        # whole seconds: what an EDF header can hold, so offline ids match live ones
        ch.start_time = self.start_times.get(src.device_id) or datetime.now(UTC).replace(
            microsecond=0
        )
        detector = ch.detector = StreamingDetector(
            src.fs_hz,
            device_id=src.device_id,
            leg=src.leg,
            start_time=ch.start_time,
            model=self._model,
            batch_s=pipeline_batch_s(src),
            emg_units_known=src.emg_units_known,
        )
        if self._unannounced is not None:
            self._announce_failure(self._unannounced)
        if self.recordings_dir is not None:
            stem = f"{src.device_id}-{src.leg or 'leg'}-{ch.start_time:%Y%m%dT%H%M%SZ}"
            try:
                ch.recorder = NightRecorder(
                    self.recordings_dir,
                    stem,
                    src.fs_hz,
                    ch.start_time,
                    resolution=sensor_resolution(src),
                    emg_units_known=src.emg_units_known,
                )
            except STORAGE_ERRORS as exc:
                self.report_failure("recording", exc)
        return detector

    def _finish(self, ch: _Channel) -> None:
        if ch.silent is not None:  # also for a sensor that never sent a sample
            self._emit(ch, ch.silent.with_end(ch.last_t_s, ch.last_t_s))
            ch.silent = None
        if ch.detector is None:
            return
        for ev in ch.detector.flush(ch.last_t_s):
            self._emit(ch, ev)
        self.result.recorded_s = max(self.result.recorded_s, ch.last_t_s)
        if ch.recorder is not None:
            try:
                path = ch.recorder.finalize()
            except STORAGE_ERRORS as exc:
                self.report_failure("recording", exc)
                path = None
            if path is not None:
                self.result.recordings.append(path)
                # a recorder is opened with its start time (``_open``)
                if self.on_recording is not None and ch.start_time is not None:
                    self.on_recording(ch.source, path, ch.start_time)
        ch.detector = None

    def _emit(self, ch: _Channel, event: Event) -> None:
        self.result.events.append(event)
        # published first: a journal that cannot be written must not hold back an alarm
        try:
            self.sink(event)
        except Exception as exc:
            self.report_failure("publishing", exc)
        if ch.recorder is not None:
            try:
                ch.recorder.add_event(event)
            except STORAGE_ERRORS as exc:
                self.report_failure("journal", exc)

    # ------------------------------------------------------------------ watchdog
    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.no_data_timeout_s / 4))
            now = self._clock()
            for ch in self.channels:
                silent_s = now - ch.last_data
                if ch.silent is None and silent_s >= self.no_data_timeout_s:
                    log.warning("%s: no data for %.0f s", ch.source.device_id, silent_s)
                    ch.silent = self._issue(
                        ch, SignalIssueKind.NO_DATA, ch.last_t_s, None, silent_s=round(silent_s, 1)
                    )
                    self._emit(ch, ch.silent)

    def _issue(
        self,
        ch: _Channel,
        kind: SignalIssueKind,
        onset_s: float,
        end_s: float | None,
        **details: object,
    ) -> Event:
        src = ch.source
        start = ch.start_time or self._run_start
        return Event(
            id=event_id(src.device_id, f"{EventType.SIGNAL_ISSUE}:{kind}", onset_s, src.leg, start),
            device_id=src.device_id,
            type=EventType.SIGNAL_ISSUE,
            onset_s=onset_s,
            end_s=end_s,
            detected_at_s=ch.last_t_s,
            confidence=1.0,
            leg=src.leg,
            onset_time=onset_time_iso(start, onset_s),
            details={"kind": kind.value, "channel": "all", **details},
        )


def _gap_kind(reason: object) -> SignalIssueKind:
    """The ``signal_issue`` kind of a source's gap notice: its reason (the assembler's
    ``sequence`` or ``reconnect``) when that is a kind, else a plain ``gap``."""
    try:
        return SignalIssueKind(str(reason))
    except ValueError:
        return SignalIssueKind.GAP


def _storage_message(what: str, reason: str) -> str:
    """The words of a ``storage_failed`` issue (shown by the review and the alarm)."""
    done = {
        "recording": "the night is no longer recorded",
        "journal": "events are missing from the recording's annotations",
        "outbox": "events are sent from memory and lost if the service stops before "
        "the broker has them",
    }.get(what, "it is no longer written")
    return f"storage failed ({what}: {reason}): {done}; detection and alarms go on"
