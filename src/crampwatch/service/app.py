"""Wire a configured run together: broker, publisher with its outbox, sources, service.

Order matters for "nothing lost": recordings left by a crash are finished first, the
publisher starts (and resends its outbox) before any new event exists, and at the end
the run waits for the broker's acknowledgement of every event before it reports done.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from crampwatch.acquire.base import Source
from crampwatch.consumers.store import night_of
from crampwatch.events import Event
from crampwatch.paths import (
    default_db_path,
    default_endpoint_path,
    default_outbox_path,
    default_recordings_dir,
)
from crampwatch.publish.config import BrokerConfig, broker_for, check_reachable
from crampwatch.publish.endpoint import advertised
from crampwatch.publish.publisher import EventPublisher
from crampwatch.service.config import ServiceConfig
from crampwatch.service.localstore import LocalStore
from crampwatch.service.recorder import recover_recordings
from crampwatch.service.runner import RunResult, Service
from crampwatch.service.sources import build_sources

__all__ = ["RunOutcome", "run_service"]

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult
    published: int
    unsent: int

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
) -> RunOutcome:
    """Run until the sources end (replay, simulator) or SIGINT/SIGTERM (sensors).

    ``broker_config``: an already running broker (the demo's); otherwise the one of
    ``cfg`` (``embedded`` starts one for the duration of the run), named in the endpoint
    file for local consumers, and the events also go into the local event store (the
    demo keeps its own). ``sources``: ready sources and their start times instead of
    those of ``cfg`` (the demo's scripted night).
    """
    sources, starts = sources or build_sources(cfg)
    recordings_dir = None
    if cfg.recording.enabled:
        recordings_dir = (
            Path(cfg.recording.folder) if cfg.recording.folder else (default_recordings_dir())
        )
        recordings_dir.mkdir(parents=True, exist_ok=True)
        recover_recordings(recordings_dir)
    outbox = Path(cfg.outbox) if cfg.outbox else default_outbox_path(cfg.device_id)
    if broker_config is not None:
        return _run(cfg, broker_config, sources, starts, recordings_dir, outbox, on_event, progress)
    with broker_for(cfg.broker.url) as base:
        config = _broker_settings(cfg, base)
        if cfg.broker.url != "embedded":
            check_reachable(config)
        local = LocalStore(default_db_path(), {s.device_id for s in sources}, acks_from=config)
        try:
            with advertised(default_endpoint_path(), config, cfg.device_id):
                return _run(
                    cfg, config, sources, starts, recordings_dir, outbox, on_event, progress, local
                )
        finally:
            local.close()


def _run(
    cfg, config, sources, starts, recordings_dir, outbox, on_event, progress, local=None
) -> RunOutcome:
    publisher = EventPublisher(
        config, cfg.device_id, outbox, home_assistant=cfg.broker.home_assistant
    )
    publisher.start()

    # The outbox write syncs to disk (ms): done on one worker thread, in order, so the
    # event loop that feeds the detector never waits for the disk.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crampwatch-outbox")

    def deliver(event: Event) -> None:
        publisher.publish(event)
        if on_event is not None:
            on_event(event)

    def sink(event: Event) -> None:
        writer.submit(deliver, event)
        if local is not None:
            local.put(event)

    def announce(source: Source, path: Path, start: datetime) -> None:
        if local is not None:
            local.add_recording(source.device_id, night_of(start), path.resolve())
        writer.submit(
            publisher.publish_recording, night_of(start), str(path.resolve()), start.isoformat()
        )

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

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        return await service.run()

    try:
        result = asyncio.run(main())
    finally:
        writer.shutdown(wait=True)
        drained = publisher.wait_drained(DRAIN_TIMEOUT_S)
        counters = publisher.counters
        unsent = 0 if drained else len(publisher.outbox)
        publisher.stop()
    return RunOutcome(result, counters.acked, unsent)
