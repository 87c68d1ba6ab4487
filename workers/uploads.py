"""Queue ``clevertap``: the only step with a side effect outside our systems."""

from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.pending import EventRef
from workers.base import task
from workers.services import services


@task(TaskName.CLEVERTAP_UPLOAD_EVENT)
def upload_event(self, *, account: str, order_id: str, state: str, changed_at: str) -> str:
    """Upload the event (and its profile) to CleverTap, exactly once.

    Idempotent: records already confirmed by CleverTap are not sent again, and a claim
    holds off a concurrent duplicate.
    """
    ref = EventRef.from_kwargs(account, order_id, state, changed_at)
    svc = services()
    vtex = svc.vtex(account)
    event = pipeline.load_identified(ref, vtex, vtex, svc.options(account), svc.pending, svc.ledger)
    if event is None:
        return "skipped"
    delivery = pipeline.deliver(event, svc.clevertap(account), svc.ledger, owner=self.request.id)
    svc.pending.drop(ref)
    if "event" in delivery.sent:
        svc.deliveries.add(account)
    return delivery.outcome
