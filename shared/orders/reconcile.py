"""Find accepted events that were neither delivered nor parked, and send them through again.

Redis, as a broker, can lose a message in a few narrow windows (a worker dying between
BRPOP and its unacked bookkeeping, a Redis crash within AOF's one-second fsync). The
receiver's journal is the independent record that closes them: every stale entry is either
settled (done, parked, waiting in the outbox) or republished, which is safe because every
step is idempotent.  An event republished ``max_republish`` times without a sign of life is
parked as ``lost`` for ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.failures import FailureStore, failure_id
from shared.idempotency import Ledger
from shared.names import TaskName
from shared.orders.journal import Journal
from shared.orders.outbox import Outbox
from shared.orders.pending import EventRef

ORDER_TASKS = (TaskName.ORDERS_HANDLE_STATUS_CHANGE, TaskName.PROFILES_RESOLVE_IDENTITY,
               TaskName.CLEVERTAP_UPLOAD_EVENT)


@dataclass
class ReconcileReport:
    settled: int = 0
    waiting: int = 0
    republished: int = 0
    lost: int = 0

    def summary(self) -> str:
        return (f"{self.settled} settled, {self.waiting} waiting in the outbox, {self.republished} republished, "
                f"{self.lost} parked as lost")


def reconcile(journal: Journal, ledger: Ledger, failures: FailureStore, outbox: Outbox,
              publish: Callable[[EventRef], None], *, grace_s: float, max_republish: int = 3) -> ReconcileReport:
    """Settle or republish every journal entry idle for ``grace_s`` seconds.

    Delivered and parked events normally leave the journal as they settle; what is left here
    is the exception, so one pass handles them all.
    """
    report = ReconcileReport()
    for ref in _all_stale(journal, grace_s):
        kwargs = ref.to_kwargs()
        if ledger.is_done(Ledger.done_key(ref.account, ref.order_id, ref.state, "event")) or any(
                failures.get(failure_id(str(task), kwargs)) for task in ORDER_TASKS):
            journal.settle(ref)
            report.settled += 1
        elif outbox.has(ref):
            journal.touch(ref)
            report.waiting += 1
        elif journal.republished(ref) <= max_republish:
            publish(ref)
            journal.touch(ref)
            report.republished += 1
        else:
            failures.record(task=str(TaskName.ORDERS_HANDLE_STATUS_CHANGE), account=ref.account, kwargs=kwargs,
                            reason="lost", error_type="Lost",
                            message=f"accepted, republished {max_republish} times, never delivered nor failed",
                            attempts=max_republish, task_id="reconciler")
            journal.settle(ref)
            report.lost += 1
    return report


def _all_stale(journal: Journal, grace_s: float):  # noqa: ANN202 - a generator of EventRef
    # Every entry handled leaves the stale range (settled, or touched), so each batch is new.
    while batch := journal.stale(grace_s, limit=500):
        yield from batch
