"""Queue ``orders``: the first step of an order event, and on the usual path the only task."""

from shared.backoff import retry_countdown
from shared.errors import TransientError
from shared.orders.reconcile import reconcile as reconcile_journal
from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.pending import EventRef
from workers.base import enqueue, task
from workers.services import services, settle_failed_event
from workers.uploads import queue_for_upload


@task(TaskName.ORDERS_HANDLE_STATUS_CHANGE, on_final_failure=settle_failed_event)
def handle_status_change(self, *, account: str, order_id: str, state: str, changed_at: str) -> str:
    """Fetch the order from OMS, build its event, look the customer up and queue the event for CleverTap.

    When Master Data has no answer yet (its search lags new customers) or is unavailable, the
    lookup moves to the ``profiles`` queue, which retries it with backoff; this task ends there.

    Idempotent: an event already delivered is skipped, and a second run only rebuilds the
    same pending event and finds it already queued.
    """
    ref = EventRef.from_kwargs(account, order_id, state, changed_at)
    svc = services()
    svc.journal(account).touch(ref)
    svc.limiter(account, "oms").acquire_or_throttle()
    vtex = svc.vtex(account)
    options = svc.options(account)
    # Stored once, after the lookup, unless the lookup has to wait for the profiles queue.
    event = pipeline.prepare(ref, vtex, options, svc.pending, svc.ledger, store=False)
    if event is None:
        svc.journal(account).settle(ref)
        return "skipped"
    try:
        svc.limiter(account, "md").acquire_or_throttle()
        pipeline.resolve_identity(event, vtex, options, svc.pending)
    except TransientError as exc:
        svc.pending.save(event)
        # One task per order on the usual path; only a lagging or failing lookup pays for a second queue.
        wait = retry_countdown(svc.settings.retry, 0, exc.retry_after)
        enqueue(TaskName.PROFILES_RESOLVE_IDENTITY, ref.to_kwargs(), delay=wait)
        return "identity pending"
    return queue_for_upload(svc, ref)


@task(TaskName.ORDERS_RECONCILE)
def reconcile(self) -> str:
    """Beat: settle or republish the accepted events of every account that went quiet."""
    svc = services()
    reports = []
    for name in svc.settings.accounts:
        report = reconcile_journal(
            svc.journal(name), svc.ledger, svc.failures, svc.outbox(name),
            lambda ref: enqueue(TaskName.ORDERS_HANDLE_STATUS_CHANGE, ref.to_kwargs()),
            grace_s=svc.settings.reconcile_grace_minutes * 60)
        reports.append(f"{name}: {report.summary()}")
    return "; ".join(reports)
