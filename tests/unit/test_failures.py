import fakeredis

from shared.failures import FailureStore, failure_id


def _record(store, account="teststore", kwargs=None, attempts=3, message="boom"):
    return store.record(task="clevertap.upload_event", account=account, kwargs=kwargs or {"order_id": "1"},
                        reason="upstream_unavailable", error_type="UpstreamUnavailable", message=message,
                        attempts=attempts, task_id="t1", code=None, traceback="Traceback ... boom")


def test_same_work_failing_again_updates_one_entry_and_keeps_counting():
    store = FailureStore(fakeredis.FakeRedis(decode_responses=True))

    first = _record(store, attempts=3)
    second = _record(store, attempts=2)

    assert first.id == second.id == failure_id("clevertap.upload_event", {"order_id": "1"})
    assert (second.attempts, second.times_failed) == (5, 2)
    assert second.first_failed_at == first.first_failed_at <= second.last_failed_at
    assert [f.id for f in store.iter()] == [first.id]


def test_entries_are_per_account_and_deletable():
    store = FailureStore(fakeredis.FakeRedis(decode_responses=True))
    a = _record(store, account="store-a")
    b = _record(store, account="store-b", kwargs={"order_id": "2"})

    assert [f.account for f in store.iter("store-a")] == ["store-a"]
    assert store.get(b.id).account == "store-b"
    assert store.delete(a.id) and not store.delete(a.id)
    assert store.get(a.id) is None and store.count("store-a") == 0 and store.count("store-b") == 1


def test_redaction_applies_to_message_and_traceback():
    store = FailureStore(fakeredis.FakeRedis(decode_responses=True), redact=lambda s: s.replace("boom", "***"))

    entry = _record(store)

    assert entry.message == "***" and "boom" not in entry.traceback


def test_a_requeued_entry_failing_again_keeps_its_counts():
    store = FailureStore(fakeredis.FakeRedis(decode_responses=True))
    first = _record(store, attempts=3)

    store.delete(first.id, keep_history=True)
    assert store.get(first.id) is None
    again = _record(store, attempts=1)

    assert (again.attempts, again.times_failed, again.first_failed_at) == (4, 2, first.first_failed_at)
    store.delete(again.id)
    assert _record(store, attempts=1).attempts == 1
