"""Send one batch of an account's outbox to CleverTap, and settle every event in it.

Up to ``max_records`` records (CleverTap takes 1,000 per request) go in one ``/1/upload``.
Each record is judged on its own: a record CleverTap confirmed is marked done; a record kept
back with a retryable code (555) makes its event due again later; any other code parks the
event in the failure store.  A batch is never settled by its HTTP status alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.backoff import retry_countdown
from shared.errors import IntegrationError, RecordRejected, RecordRetryable, TransientError
from shared.idempotency import Ledger
from shared.orders.outbox import Outbox
from shared.orders.pending import EventRef, PendingEvent, PendingStore
from shared.orders.pipeline import EVENT, PROFILE, RecordSink
from shared.settings import RetryPolicy

log = logging.getLogger(__name__)

#: ``park(ref, error, attempts)``: record an event that failed for good.
Park = Callable[[EventRef, IntegrationError, int], None]


@dataclass(frozen=True)
class FlushPolicy:
    max_records: int = 1000
    #: How long a flusher owns what it leased; longer than one upload can take.
    lease_ms: int = 60_000
    #: How long and how often an event is retried, and how long between tries.
    retry: RetryPolicy = RetryPolicy()
    #: How long the done markers of an accepted batch wait out a state store that is down:
    #: a Redis restart takes seconds, and the batch goes out again if they are lost.
    marker_patience_s: float = 30.0


@dataclass
class FlushReport:
    leased: int = 0
    records: int = 0
    delivered: list[EventRef] = field(default_factory=list)
    retried: int = 0
    parked: int = 0
    #: Seconds until the earliest event put back becomes due, if any was.
    next_due_s: float | None = None

    def summary(self) -> str:
        return (f"{self.leased} events, {self.records} records: {len(self.delivered)} delivered, "
                f"{self.retried} to retry, {self.parked} parked")


def _records(event: PendingEvent, ledger: Ledger) -> list[tuple[str, str, dict[str, Any]]]:
    """``(kind, done key, record)`` of the event's records not delivered yet; profile first."""
    out = []
    if event.profile is not None:
        out.append((PROFILE, event.profile))
    out.append((EVENT, {**event.event, "identity": event.identity}))
    keys = [(kind, Ledger.done_key(event.account, event.order_id, event.state, kind), rec) for kind, rec in out]
    return [(kind, key, rec) for kind, key, rec in keys if not ledger.is_done(key)]


def flush(
    outbox: Outbox,
    pending: PendingStore,
    ledger: Ledger,
    sink: RecordSink,
    rebuild: Callable[[EventRef], PendingEvent | None],
    park: Park,
    policy: FlushPolicy,
) -> FlushReport:
    """Lease due events, upload their records in one request, and settle each event.

    :param rebuild: the event with its identity when its pending entry is gone (``None`` when
        it was delivered meanwhile); it may raise the errors of OMS and Master Data.
    """
    report = FlushReport()
    refs = outbox.lease(policy.max_records, policy.lease_ms)
    report.leased = len(refs)
    batch: list[tuple[EventRef, str, str, dict[str, Any]]] = []
    finished, overflow, broken = [], [], []
    for ref in refs:
        try:
            event = pending.load(ref) or rebuild(ref)
        except IntegrationError as exc:
            broken.append((ref, exc))
            continue
        records = _records(event, ledger) if event is not None and event.identity else []
        if event is None or not records:
            finished.append(ref)
        elif len(batch) + len(records) > policy.max_records:
            overflow.append(ref)
        else:
            batch += [(ref, kind, key, record) for kind, key, record in records]
    outbox.done(finished)
    outbox.release(overflow)
    for ref, exc in broken:
        _retry_or_park(outbox, [ref], exc, park, policy, report)
    if not batch:
        return report

    report.records = len(batch)
    try:
        result = sink.upload([record for _, _, _, record in batch])
    except IntegrationError as exc:
        _retry_or_park(outbox, list(dict.fromkeys(ref for ref, _, _, _ in batch)), exc, park, policy, report)
        return report

    ledger.mark_done(*(key for index, (_, _, key, _) in enumerate(batch) if index not in result.failed),
                     patience=policy.marker_patience_s)
    outcome: dict[EventRef, list[Any]] = {}
    for index, (ref, kind, _, _) in enumerate(batch):
        outcome.setdefault(ref, []).append((kind, result.failed.get(index)))
    for ref, results in outcome.items():
        failures = [(kind, f) for kind, f in results if f is not None]
        if not failures:
            outbox.done([ref])
            pending.drop(ref)
            if any(kind == EVENT for kind, _ in results):
                report.delivered.append(ref)
            continue
        retryable = [(kind, f) for kind, f in failures if f.retryable]
        kind, failure = (retryable or failures)[0]
        error: IntegrationError
        if retryable:
            error = RecordRetryable(f"CleverTap kept the {kind} record back: {failure.code} {failure.error}",
                                    code=failure.code)
        else:
            error = RecordRejected(f"CleverTap refused the {kind} record: {failure.code} {failure.error}",
                                   code=failure.code)
        _retry_or_park(outbox, [ref], error, park, policy, report)
    return report


def _retry_or_park(outbox: Outbox, refs: list[EventRef], error: IntegrationError, park: Park, policy: FlushPolicy,
                   report: FlushReport) -> None:
    """Transient errors come back later with backoff until the retry window closes; the rest are parked."""
    now = time.time()
    again, parked = [], []
    for ref, (tried, first) in zip(refs, outbox.history(refs)):
        if isinstance(error, TransientError) and not policy.retry.exhausted(tried + 1, first or now, now):
            again.append((ref, tried))
        else:
            parked.append((ref, tried))
    for ref, tried in parked:
        park(ref, error, tried + 1)
    outbox.done([ref for ref, _ in parked])
    report.parked += len(parked)
    if again:
        # One delay for the group: they failed together, and their attempt counts move together.
        delay = retry_countdown(policy.retry, max(t for _, t in again), getattr(error, "retry_after", None))
        outbox.later([ref for ref, _ in again], int(delay * 1000))
        report.retried += len(again)
        report.next_due_s = delay if report.next_due_s is None else min(report.next_due_s, delay)
    if parked:
        log.warning("parked %d event(s): %s", len(parked), error)
