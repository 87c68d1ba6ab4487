import time
from datetime import UTC, datetime

import fakeredis

from shared.failures import FailureStore
from shared.idempotency import Ledger
from shared.orders.journal import Journal
from shared.orders.outbox import Outbox
from shared.orders.pending import EventRef
from shared.orders.reconcile import reconcile

ACCOUNT = "teststore"


def _ref(n):
    return EventRef(ACCOUNT, f"v{n}rec-01", "payment-approved", datetime(2026, 11, 27, tzinfo=UTC))


def test_stale_events_are_settled_left_waiting_or_republished_then_parked():
    client = fakeredis.FakeRedis(decode_responses=True)
    journal, ledger, failures, outbox = (Journal(client, ACCOUNT), Ledger(client, done_ttl=60), FailureStore(client),
                                         Outbox(client, ACCOUNT))
    delivered, parked, waiting, lost, fresh = (_ref(n) for n in range(5))
    for ref in (delivered, parked, waiting, lost, fresh):
        journal.accept(ref)
    ledger.mark_done(Ledger.done_key(ACCOUNT, delivered.order_id, delivered.state, "event"))
    failures.record(task="profiles.resolve_identity", account=ACCOUNT, kwargs=parked.to_kwargs(), reason="x",
                    error_type="X", message="m", attempts=1, task_id="t")
    outbox.add(waiting)
    client.zadd(journal.key, {m: time.time() - 3600 for m in client.zrange(journal.key, 0, -1)})
    journal.touch(fresh)
    published = []

    reports = [reconcile(journal, ledger, failures, outbox, published.append, grace_s=60, max_republish=2)]
    for _ in range(2):
        client.zadd(journal.key, {m: time.time() - 3600 for m in client.zrange(journal.key, 0, -1)})
        journal.touch(fresh)
        reports.append(reconcile(journal, ledger, failures, outbox, published.append, grace_s=60, max_republish=2))

    assert (reports[0].settled, reports[0].waiting, reports[0].republished) == (2, 1, 1)
    assert published == [lost, lost] and reports[2].lost == 1
    [entry] = [f for f in failures.iter(ACCOUNT) if f.reason == "lost"]
    assert entry.kwargs == lost.to_kwargs() and entry.task == "orders.handle_status_change"
    remaining = set(client.zrange(journal.key, 0, -1))
    assert len(remaining) == 2  # the one waiting in the outbox and the fresh one
