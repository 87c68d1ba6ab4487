"""Queue ``profiles``: customer lookups that did not succeed on the first try."""

from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.pending import EventRef
from workers.base import task
from workers.services import services, settle_failed_event
from workers.uploads import queue_for_upload


@task(TaskName.PROFILES_RESOLVE_IDENTITY, on_final_failure=settle_failed_event)
def resolve_identity(self, *, account: str, order_id: str, state: str, changed_at: str) -> str:
    """Look the customer up in Master Data ``CL`` again, then queue the event for CleverTap.

    An empty search is retried with backoff (Master Data search is eventually consistent)
    and then parked in the failure store; an empty identity is never sent.
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
