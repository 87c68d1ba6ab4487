"""Queue ``orders``: the first step of an order event (on the usual path the only task), the
reconciler, and the Feed v3 safety net."""

import logging

from shared.backoff import retry_countdown
from shared.errors import IntegrationError, Throttled, TransientError
from shared.idempotency import Ledger
from shared.keys import account_key
from shared.locks import RedisLock
from shared.names import TaskName
from shared.orders import pipeline
from shared.orders.feed import FeedStatus, drain_feed
from shared.orders.intake import submit
from shared.orders.pending import EventRef
from shared.orders.reconcile import reconcile as reconcile_journal
from workers.base import enqueue, task
from workers.services import Services, services, settle_failed_event
from workers.uploads import queue_for_upload

log = logging.getLogger(__name__)
# A run reads at most this many items (50 reads of 10) and hands the rest to a new run,
# so that one run stays well inside the task time limit.
FEED_ITEMS_PER_RUN = 500
# How soon a duplicate held off by the claim looks again; by then the first run has usually queued the event.
CLAIM_WAIT_S = 2.0


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
    if svc.outbox(account).has(ref):
        return "already queued"
    # A concurrent duplicate (a redelivery, the feed and the hook at once) waits for this run
    # instead of spending OMS and Master Data calls on the same event; a holder that died
    # frees it after the task time limit.
    claim = RedisLock(svc.redis, account_key(account, "claim", order_id, state), svc.settings.task_time_limit)
    if not claim.acquire(self.request.id):
        raise Throttled("another run of this event is in progress", retry_after=CLAIM_WAIT_S)
    try:
        return _handle(svc, ref)
    finally:
        claim.release(self.request.id)


def _handle(svc: Services, ref: EventRef) -> str:
    # Each OMS and Master Data call takes its slot of the account's budget as it is made.
    vtex = svc.limited_vtex(ref.account)
    options = svc.options(ref.account)
    # Stored once, after the lookup, unless the lookup has to wait for the profiles queue.
    event = pipeline.prepare(ref, vtex, options, svc.pending, svc.ledger, store=False)
    if event is None:
        svc.journal(ref.account).settle(ref)
        return "skipped"
    try:
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


@task(TaskName.ORDERS_POLL_FEEDS)
def poll_feeds(self) -> str:
    """Beat: a feed poll for every account with the Feed v3 safety net on."""
    names = [name for name, account in services().settings.accounts.items() if account.feed_safety_net]
    for name in names:
        enqueue(TaskName.ORDERS_POLL_FEED, {"account": name})
    return f"polling {names or 'none'}"


@task(TaskName.ORDERS_POLL_FEED)
def poll_feed(self, *, account: str) -> str:
    """Submit what the account's Orders Feed holds, commit every item, and record the outcome.

    Not retried: the next beat tick is the retry, and a chain of retries per tick would pile
    up while VTEX is down.  The error is logged and shown by ``vtexct status``.
    """
    svc = services()
    status = FeedStatus(svc.redis)
    lock = RedisLock(svc.redis, account_key(account, "feed", "lock"), svc.settings.task_time_limit)
    if not lock.acquire(self.request.id):
        return "another poll of this feed is running"
    journal, limiter = svc.journal(account), svc.limiter(account, "oms_feed")
    try:
        report = drain_feed(
            svc.vtex(account), account,
            lambda ref: submit(ref, journal.accept, enqueue),
            lambda ref: svc.ledger.is_done(Ledger.done_key(account, ref.order_id, ref.state, "event")),
            wait_for_slot=lambda: limiter.acquire_or_throttle(max_wait=1.0),
            max_items=FEED_ITEMS_PER_RUN)
    except Throttled:
        raise  # the base task runs the poll again when the budget allows
    except IntegrationError as exc:
        status.record(account, None, f"{type(exc).__name__}: {exc}")
        log.warning("feed poll failed, next beat tick tries again: %s", exc)
        return "failed: " + type(exc).__name__
    finally:
        lock.release(self.request.id)
    status.record(account, report)
    if report.more:
        enqueue(TaskName.ORDERS_POLL_FEED, {"account": account})
    return report.summary()
