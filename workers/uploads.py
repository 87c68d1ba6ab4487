"""Queue ``clevertap``: events wait in a per-account outbox and go out in batches."""

from __future__ import annotations

from typing import Any

from shared.errors import IntegrationError
from shared.keys import account_key
from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.flush import FlushPolicy, flush
from shared.orders.pending import EventRef
from workers.base import enqueue, task
from workers.services import Services, services, settle_failed_event


def _schedule_flush(svc: Services, account: str, size: int) -> None:
    """Flush now when a batch is full, else once the batch window closes (one timer per window)."""
    settings = svc.account(account)
    # An event is up to two records (profile and event).
    full = max(1, settings.clevertap_batch_size // 2)
    wait_ms = settings.clevertap_batch_wait_ms
    if size >= full or wait_ms == 0:
        if svc.redis.set(account_key(account, "outbox", "flush-now"), 1, nx=True, px=50):
            enqueue(TaskName.CLEVERTAP_FLUSH_OUTBOX, {"account": account})
    elif svc.redis.set(account_key(account, "outbox", "flush-timer"), 1, nx=True, px=wait_ms):
        enqueue(TaskName.CLEVERTAP_FLUSH_OUTBOX, {"account": account}, delay=wait_ms / 1000)


def queue_for_upload(svc: Services, ref: EventRef) -> str:
    """Put an identified event in its account's outbox and make sure a flush is coming.

    Adding is idempotent: an event already waiting or in flight is not added twice.
    """
    _schedule_flush(svc, ref.account, svc.outbox(ref.account).add(ref))
    return "queued"


@task(TaskName.CLEVERTAP_UPLOAD_EVENT, on_final_failure=settle_failed_event)
def upload_event(self, *, account: str, order_id: str, state: str, changed_at: str) -> str:
    """Queue one event for CleverTap, rebuilding what is missing: a requeue from the failure store lands here.

    Idempotent: an event already delivered is skipped.
    """
    ref = EventRef.from_kwargs(account, order_id, state, changed_at)
    svc = services()
    svc.journal(account).touch(ref)
    vtex = svc.limited_vtex(account)
    event = pipeline.load_identified(ref, vtex, vtex, svc.options(account), svc.pending, svc.ledger)
    if event is None:
        svc.journal(account).settle(ref)
        return "skipped"
    return queue_for_upload(svc, ref)


@task(TaskName.CLEVERTAP_FLUSH_OUTBOX)
def flush_outbox(self, *, account: str) -> str:
    """Upload one batch of the account's outbox, within its CleverTap concurrency cap.

    Safe to run any number of times at once: events are leased, so each goes to one flusher.
    """
    svc = services()
    if not svc.outbox(account).due():
        return "nothing due"
    slots = svc.clevertap_slots(account)
    if not slots.acquire(self.request.id):
        # All slots busy: the flushers holding them will drain what is due.
        return "all slots busy"
    try:
        settings = svc.account(account)
        svc.limiter(account, "clevertap").acquire_or_throttle(max_wait=1.0)
        vtex = svc.limited_vtex(account)

        def rebuild(ref: EventRef) -> Any:
            return pipeline.load_identified(ref, vtex, vtex, svc.options(account), svc.pending, svc.ledger)

        def park(ref: EventRef, error: IntegrationError, attempts: int) -> None:
            svc.failures.record(task=str(TaskName.CLEVERTAP_UPLOAD_EVENT), account=account, kwargs=ref.to_kwargs(),
                                reason=error.reason, error_type=type(error).__name__, message=str(error),
                                code=error.code, attempts=attempts, task_id=self.request.id)
            svc.journal(account).settle(ref)

        policy = FlushPolicy(
            max_records=settings.clevertap_batch_size,
            lease_ms=int(svc.settings.http_timeout * 3 * 1000),
            retry=svc.settings.retry,
        )
        outbox = svc.outbox(account)
        report = flush(outbox, svc.pending, svc.ledger, svc.clevertap(account), rebuild, park, policy)
    finally:
        slots.release(self.request.id)
    if report.delivered:
        svc.deliveries.add(account, len(report.delivered))
        svc.journal(account).settle(*report.delivered)
    if outbox.due():
        enqueue(TaskName.CLEVERTAP_FLUSH_OUTBOX, {"account": account})
    if report.next_due_s is not None:
        enqueue(TaskName.CLEVERTAP_FLUSH_OUTBOX, {"account": account}, delay=report.next_due_s)
    return report.summary()


@task(TaskName.CLEVERTAP_FLUSH_DUE_ACCOUNTS)
def flush_due_accounts(self) -> str:
    """Beat's safety net: a flush for every account whose outbox has due events."""
    svc = services()
    due = [name for name in svc.settings.accounts if svc.outbox(name).due()]
    for name in due:
        enqueue(TaskName.CLEVERTAP_FLUSH_OUTBOX, {"account": name})
    return f"flushing {due or 'none'}"
