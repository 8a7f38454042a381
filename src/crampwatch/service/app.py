"""Wire a configured run together: broker, publisher with its outbox, sources, service.

Order matters for "nothing lost": recordings left by a crash are finished first, the
publisher starts (and resends its outbox) before any new event exists, and at the end
the run waits for the broker's acknowledgement of every event before it reports done.

Each part fails on its own: a broker that is away at the start only delays delivery
(events wait in the outbox); an outbox, recording or journal that cannot be written is
logged once, counted, announced as a ``storage_failed`` signal issue and named in the
exit line, while detection and publishing go on.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from crampwatch.acquire.base import Source
from crampwatch.consumers.store import night_of
from crampwatch.errors import CrampwatchError
from crampwatch.events import Event
from crampwatch.paths import (
    default_db_path,
    default_endpoint_path,
    default_outbox_path,
    default_recordings_dir,
)
from crampwatch.publish.config import BrokerConfig, broker_for
from crampwatch.publish.endpoint import advertised
from crampwatch.publish.publisher import EventPublisher
from crampwatch.service.config import ServiceConfig
from crampwatch.service.localstore import LocalStore
from crampwatch.service.recorder import recover_recordings
from crampwatch.service.runner import Failure, RunResult, Service, failure_reason
from crampwatch.service.sources import build_sources

__all__ = ["RunOutcome", "run_service"]

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult
    published: int  # messages the broker acknowledged
    unsent: int  # still in the outbox: sent on the next run
    lost: int = 0  # held only in memory (the outbox failed) and not acknowledged

    @property
    def failures(self) -> list[Failure]:
        return list(self.result.failures.values())

    def error_line(self) -> str | None:
        """One line for a run that did not fully succeed (None when it did)."""
        parts = []
        if self.failures:
            failed = ", ".join(f.line() for f in self.failures)
            parts.append(f"failed during the run: {failed}; detection and alarms went on")
            if not self.lost and not self.unsent:
                parts.append(f"all {self.published} messages were delivered")
        if self.lost:
            parts.append(f"{self.lost} events were never acknowledged by the broker: lost")
        if self.unsent:
            parts.append(
                f"{self.unsent} events are still in the outbox (broker unreachable); "
                "they will be sent on the next run"
            )
        return "; ".join(parts) or None

    def summary_line(self) -> str:
        counts: dict[str, int] = {}
        for ev in {e.id: e for e in self.result.events}.values():
            counts[ev.type] = counts.get(ev.type, 0) + 1
        parts = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "no events"
        rec = f"; recording: {self.result.recordings[0]}" if self.result.recordings else ""
        return f"monitored {self.result.recorded_s / 3600:.2f} h: {parts}{rec}"


def _broker_settings(cfg: ServiceConfig, base: BrokerConfig) -> BrokerConfig:
    """Config-file credentials and CA on top of what the URL says."""
    b = cfg.broker
    if b.url == "embedded":
        return base
    return replace(
        base,
        username=base.username or b.username,
        password=base.password or b.password,
        ca_file=b.ca_file or base.ca_file,
        client_id_prefix=b.client_id_prefix,
    )


def run_service(
    cfg: ServiceConfig,
    *,
    on_event: Callable[[Event], None] | None = None,
    progress: Callable[[float], None] | None = None,
    broker_config: BrokerConfig | None = None,
    sources: tuple[list[Source], dict[str, datetime]] | None = None,
    on_ready: Callable[[list[Source]], None] | None = None,
) -> RunOutcome:
    """Run until the sources end (replay, simulator) or SIGINT/SIGTERM (sensors).

    ``broker_config``: an already running broker (the demo's); otherwise the one of
    ``cfg`` (``embedded`` starts one for the duration of the run), named in the endpoint
    file for local consumers, and the events also go into the local event store (the
    demo keeps its own). ``sources``: ready sources and their start times instead of
    those of ``cfg`` (the demo's scripted night). ``on_ready``: called with the sources
    once they and the recordings folder are set up (a bad file or folder is an error before it).
    """
    source_list, starts = sources if sources is not None else build_sources(cfg)
    recordings_dir = None
    if cfg.recording.enabled:
        recordings_dir = (
            Path(cfg.recording.folder) if cfg.recording.folder else (default_recordings_dir())
        )
        try:
            recordings_dir.mkdir(parents=True, exist_ok=True)
            recover_recordings(recordings_dir)
        except OSError as exc:  # read-only or full: a setup problem, said before the night
            raise CrampwatchError(
                f"cannot write the recordings folder {recordings_dir}: {failure_reason(exc)}"
            ) from None
    outbox = Path(cfg.outbox) if cfg.outbox else default_outbox_path(cfg.device_id)
    if on_ready is not None:
        on_ready(source_list)
    if broker_config is not None:
        return _run(
            cfg, broker_config, source_list, starts, recordings_dir, outbox, on_event, progress
        )
    # No reachability check: a broker that is down at bedtime only delays delivery (the
    # publisher queues in the outbox and connects when it appears).
    with broker_for(cfg.broker.url) as base:
        config = _broker_settings(cfg, base)
        local = LocalStore(default_db_path(), {s.device_id for s in source_list}, acks_from=config)
        try:
            with advertised(default_endpoint_path(), config, cfg.device_id):
                return _run(
                    cfg,
                    config,
                    source_list,
                    starts,
                    recordings_dir,
                    outbox,
                    on_event,
                    progress,
                    local,
                )
        finally:
            local.close()


def _run(
    cfg, config, sources, starts, recordings_dir, outbox, on_event, progress, local=None
) -> RunOutcome:
    publisher = EventPublisher(
        config, cfg.device_id, outbox, home_assistant=cfg.broker.home_assistant
    )

    # The outbox write syncs to disk (ms): done on one worker thread, in order, so the
    # event loop that feeds the detector never waits for the disk.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crampwatch-outbox")
    # What happens to each event, in order; each step fails on its own (a failure is
    # counted and logged once by the service, the next step still runs).
    steps: list[tuple[str, Callable[[Event], object]]] = [("publishing", publisher.publish)]
    if on_event is not None:
        steps.append(("event callback", on_event))

    def deliver(event: Event) -> None:
        for what, step in steps:
            try:
                step(event)
            except Exception as exc:
                service.report_failure(what, exc)

    def sink(event: Event) -> None:
        writer.submit(deliver, event)
        if local is not None:
            local.put(event)

    def announce(source: Source, path: Path, start: datetime) -> None:
        if local is not None:
            local.add_recording(source.device_id, night_of(start), path.resolve())
        future = writer.submit(
            publisher.publish_recording, night_of(start), str(path.resolve()), start.isoformat()
        )
        future.add_done_callback(lambda f: _report(f, "recording announcement"))

    def _report(future: Future[None], what: str) -> None:
        if (exc := future.exception()) is not None:
            service.report_failure(what, exc)

    service = Service(
        sources,
        sink,
        recordings_dir=recordings_dir,
        start_times=starts,
        no_data_timeout_s=cfg.no_data_timeout_s,
        low_battery_pct=cfg.low_battery_pct,
        model_path=cfg.model,
        progress=progress,
        on_recording=announce,
    )
    # an outbox that cannot be written: one storage_failed issue; events go from memory
    publisher.on_storage_failure = lambda exc: service.report_failure("outbox", exc)
    if local is not None:
        local.on_failure = lambda exc: service.report_failure("local event store", exc)

    # started only once the service is built (the model loaded): a bad model file is one
    # line, with no publisher thread or retained "online" left behind
    publisher.start()

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        if publisher.outbox_error is not None:  # announced once the run's loop exists
            loop.call_soon(service.report_failure, "outbox", publisher.outbox_error)
        return await service.run()

    try:
        result = asyncio.run(main())
    finally:
        writer.shutdown(wait=True)
        publisher.wait_drained(DRAIN_TIMEOUT_S)
        counters = publisher.counters
        lost = publisher.in_memory
        publisher.stop()
    if counters.storage_failures and "outbox" in result.failures:
        result.failures["outbox"].count = counters.storage_failures
    return RunOutcome(result, counters.acked, counters.pending - lost, lost)
