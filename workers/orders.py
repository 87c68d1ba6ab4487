"""Queue ``orders``: the first step of an order event."""

from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.pending import EventRef
from workers.base import enqueue, task
from workers.services import services


@task(TaskName.ORDERS_HANDLE_STATUS_CHANGE)
def handle_status_change(self, *, account: str, order_id: str, state: str, changed_at: str) -> str:
    """Fetch the order from OMS, build its event and hand it to the identity step.

    Idempotent: an event already delivered is skipped, and a second run only rebuilds the
    same pending event.
    """
    ref = EventRef.from_kwargs(account, order_id, state, changed_at)
    svc = services()
    svc.limiter(account, "oms").acquire_or_throttle()
    event = pipeline.prepare(ref, svc.vtex(account), svc.options(account), svc.pending, svc.ledger)
    if event is None:
        return "skipped"
    enqueue(TaskName.PROFILES_RESOLVE_IDENTITY, ref.to_kwargs())
    return "prepared"
