"""Queue ``orders``: the first step of an order event, and on the usual path the only task."""

from shared.backoff import retry_countdown
from shared.errors import TransientError
from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.pending import EventRef
from workers.base import enqueue, task
from workers.services import services
from workers.uploads import queue_for_upload


@task(TaskName.ORDERS_HANDLE_STATUS_CHANGE)
def handle_status_change(self, *, account: str, order_id: str, state: str, changed_at: str) -> str:
    """Fetch the order from OMS, build its event, look the customer up and queue the event for CleverTap.

    When Master Data has no answer yet (its search lags new customers) or is unavailable, the
    lookup moves to the ``profiles`` queue, which retries it with backoff; this task ends there.

    Idempotent: an event already delivered is skipped, and a second run only rebuilds the
    same pending event and finds it already queued.
    """
    ref = EventRef.from_kwargs(account, order_id, state, changed_at)
    svc = services()
    svc.limiter(account, "oms").acquire_or_throttle()
    vtex = svc.vtex(account)
    options = svc.options(account)
    # Stored once, after the lookup, unless the lookup has to wait for the profiles queue.
    event = pipeline.prepare(ref, vtex, options, svc.pending, svc.ledger, store=False)
    if event is None:
        return "skipped"
    try:
        svc.limiter(account, "md").acquire_or_throttle()
        pipeline.resolve_identity(event, vtex, options, svc.pending)
    except TransientError as exc:
        svc.pending.save(event)
        # One task per order on the usual path; only a lagging or failing lookup pays for a second queue.
        wait = retry_countdown(svc.settings.retry, 0, exc.retry_after)
        enqueue(TaskName.PROFILES_RESOLVE_IDENTITY, ref.to_kwargs(), countdown=wait)
        return "identity pending"
    return queue_for_upload(svc, ref)
