"""The service keeps its own night: every event into the local event store.

``crampwatch review --last`` reads ``<data>/events.sqlite`` (the logger's store). On one
bedside computer no separate logger should be needed for that, so the service writes
every event it publishes into the same store, with the logger's store method
(:meth:`~crampwatch.consumers.store.EventStore.upsert`: idempotent by ``id``, so a
logger writing the same events beside it changes nothing). It also registers the
night's recording and the run's ``online``/``offline`` status, as the logger does from
the ``recording`` and ``status`` topics, and (given the broker) the sleeper's answers to
the alarm from the ``alert/ack`` topics: the review's "your response".

Writing happens on its own thread: a slow or locked store (the review reading it, a
full disk) never delays detection or the outbox, and a failure is logged once, counted,
and summed up at the end; it never stops the night.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from crampwatch.consumers.client import InvalidMessage, Subscriber
from crampwatch.consumers.logger import ACK_ACTIONS, parse_ack
from crampwatch.consumers.store import EventStore
from crampwatch.events import Event
from crampwatch.publish import topics
from crampwatch.publish.config import BrokerConfig

__all__ = ["LocalStore"]

log = logging.getLogger(__name__)

_Job = Callable[[EventStore], object]


class LocalStore:
    """A write-behind queue into the event store at ``db_path`` for one run of the
    devices ``device_ids``; ``acks_from``: the run's broker, to store the answers to the
    alarm too."""

    def __init__(
        self, db_path: Path, device_ids: Iterable[str], *, acks_from: BrokerConfig | None = None
    ) -> None:
        self.db_path = db_path
        self.device_ids = tuple(sorted(set(device_ids)))
        self.failed = 0
        # told of every failure (from the store's thread): the service counts it with the
        # run's other failures and names it in the exit line
        self.on_failure: Callable[[BaseException], None] | None = None
        self._acks: Subscriber | None = None
        self._closing = threading.Event()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._work, name="crampwatch-localstore", daemon=True
        )
        self._thread.start()
        self._status(topics.ONLINE)
        if acks_from is not None:
            self._follow_acks(acks_from)

    def put(self, event: Event) -> None:
        """Store ``event`` (a new one, or the end update of a stored one)."""
        self._submit(lambda store: store.upsert(event))

    def add_recording(self, device_id: str, night: str, path: Path) -> None:
        """Register a device's recording of the night, so the review finds it."""
        self._submit(lambda store: store.add_recording(device_id, night, str(path)))

    def acks_subscribed(self, timeout_s: float) -> bool:
        """True once the broker confirmed the ``alert/ack`` subscriptions."""
        return self._acks is not None and self._acks.wait_subscribed(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (at most ``timeout_s`` seconds), mark the run offline."""
        self._closing.set()
        if self._acks is not None:
            self._acks.stop()
        self._status(topics.OFFLINE)
        self._jobs.put(None)
        self._thread.join(timeout_s)
        if self.failed and self.on_failure is None:
            log.warning(
                "%d writes to the local event store %s failed (the events are still published)",
                self.failed,
                self.db_path,
            )

    def _follow_acks(self, config: BrokerConfig) -> None:
        def on_ack(_topic: str, payload: bytes) -> None:
            event_id, action, source = parse_ack(payload)
            if event_id is None:
                raise InvalidMessage("ack without event_id cannot be stored")
            label = ACK_ACTIONS[action]
            self._submit(lambda store: store.add_label(event_id, label, source=source))

        prefix = config.client_id_prefix
        self._acks = Subscriber(
            config,
            f"{prefix}-service-acks-{'-'.join(self.device_ids)}"[:64],
            [topics.alert_ack_topic(d) for d in self.device_ids],
            on_ack,
            persistent=False,  # only while the service runs
        )
        threading.Thread(
            target=self._start_acks, args=(self._acks,), name="crampwatch-acks", daemon=True
        ).start()

    def _start_acks(self, acks: Subscriber) -> None:
        # The broker may not be up yet (the publisher queues and says so, once): keep
        # trying quietly, so a late broker still gets the answers stored.
        delay_s = 0.0
        while not self._closing.wait(delay_s):
            try:
                acks.start()
                if self._closing.is_set():  # closed while connecting: leave no thread behind
                    acks.stop()
                return
            except Exception as exc:
                log.debug("answers to the alarm not followed yet: %s", exc)
                delay_s = 5.0

    def _status(self, status: str) -> None:
        # as the logger stores the retained status: the review's monitored time
        for device_id in self.device_ids:
            self._submit(
                functools.partial(EventStore.add_status, device_id=device_id, status=status)
            )

    def _submit(self, job: _Job) -> None:
        self._jobs.put(job)

    def _work(self) -> None:
        store: EventStore | None = None
        while (job := self._jobs.get()) is not None:
            try:
                store = store or EventStore(self.db_path)
                job(store)
            except Exception as exc:  # any failure: counted, never fatal to the night
                self.failed += 1
                if self.on_failure is not None:
                    # the store wraps sqlite's error in a user-facing one: report the cause
                    self.on_failure(exc.__cause__ or exc.__context__ or exc)
                elif self.failed == 1:
                    log.warning("cannot write the local event store %s: %s", self.db_path, exc)
        if store is not None:
            store.close()
