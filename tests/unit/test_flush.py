"""Batched delivery from the outbox, on fakeredis with a stub CleverTap."""

from datetime import UTC, datetime

import fakeredis
import pytest

from shared.clients.clevertap import RecordFailure, UploadResult
from shared.errors import CustomerNotFoundYet, UpstreamRejected, UpstreamUnavailable
from shared.idempotency import Ledger
from shared.orders import pipeline
from shared.orders.flush import FlushPolicy, flush
from shared.orders.mapping import EventOptions
from shared.orders.outbox import Outbox
from shared.orders.pending import EventRef, PendingStore
from shared.sandbox.factory import make_customer, make_order
from shared.semaphore import RedisSemaphore
from shared.settings import RetryPolicy

ACCOUNT = "teststore"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.001)
POLICY = FlushPolicy(max_records=1000, lease_ms=60_000, retry=FAST)


class Sink:
    """Answers each upload with the next scripted answer: ``{index: code}`` or an exception."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def upload(self, records):
        self.sent.append(records)
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, Exception):
            raise answer
        return UploadResult("partial" if answer else "success", len(records) - len(answer),
                            {i: RecordFailure(code, "scripted") for i, code in answer.items()})


class World:
    def __init__(self, options=EventOptions()):
        client = fakeredis.FakeRedis(decode_responses=True)
        self.ledger, self.pending = Ledger(client, done_ttl=3600), PendingStore(client)
        self.outbox = Outbox(client, ACCOUNT)
        self.options = options
        self.parked = []
        self.orders = {}

    def event(self, n):
        order = make_order(ACCOUNT, f"v{n}flush-01")
        self.orders[order["orderId"]] = order
        ref = EventRef(ACCOUNT, order["orderId"], "payment-approved", datetime(2026, 11, 27, tzinfo=UTC))
        prepared = pipeline.prepare(ref, self, self.options, self.pending, self.ledger)
        customer = make_customer(order["clientProfileData"]["userProfileId"])
        pipeline.resolve_identity(prepared, _Customers(customer), self.options, self.pending)
        self.outbox.add(ref)
        return ref

    def get_order(self, order_id):
        return self.orders[order_id]

    def flush(self, sink, policy=POLICY, rebuild=None):
        return flush(self.outbox, self.pending, self.ledger, sink, rebuild or (lambda ref: None),
                     lambda ref, error, attempts: self.parked.append((ref, error, attempts)), policy)


class _Customers:
    def __init__(self, doc):
        self.doc = doc

    def find_customer(self, user_id):
        return self.doc


def kinds(batch):
    return [(r["type"], r.get("evtData", {}).get("order_id") or r["identity"][:4]) for r in batch]


def test_one_request_carries_many_events_profile_first_and_each_goes_once():
    world = World()
    refs = [world.event(n) for n in range(3)]
    world.outbox.add(refs[0])  # a duplicate changes nothing
    sink = Sink()

    report = world.flush(sink)
    again = world.flush(sink)

    assert len(sink.sent) == 1 and len(sink.sent[0]) == 6
    assert [r["type"] for r in sink.sent[0]] == ["profile", "event"] * 3
    assert sorted(report.delivered, key=str) == sorted(refs, key=str) and again.leased == 0
    assert world.outbox.size() == 0 and all(world.pending.load(r) is None for r in refs)


def test_the_same_event_notified_with_other_times_goes_once():
    # A feed item without a time, a backfill (authorizedDate) and the live hook name one event
    # with three times; however they interleave, CleverTap gets one Charged.
    world = World()
    ref = world.event(7)
    for minutes in (1, 2):
        world.outbox.add(EventRef(ACCOUNT, ref.order_id, ref.state, ref.changed_at.replace(minute=minutes)))
    sink = Sink()

    report = world.flush(sink)
    later = EventRef(ACCOUNT, ref.order_id, ref.state, ref.changed_at.replace(minute=3))
    assert not world.outbox.has(later)  # settled: the next notification may queue it again...
    world.outbox.add(later)
    again = world.flush(sink, rebuild=lambda r: world.pending.load(r))

    assert len(sink.sent) == 1 and [r["type"] for r in sink.sent[0]] == ["profile", "event"]
    assert report.delivered == [ref]
    assert again.leased == 1 and again.records == 0  # ...and finds it done
    assert world.outbox.size() == 0 and not world.outbox.has(ref)


def test_settling_a_stray_member_keeps_the_one_that_stands_for_the_event():
    world = World()
    ref = world.event(8)
    stray = EventRef(ACCOUNT, ref.order_id, ref.state, ref.changed_at.replace(minute=5))
    world.outbox.done([stray])
    assert world.outbox.has(ref) and world.outbox.size() == 1
    world.outbox.add(stray)
    assert world.outbox.size() == 1


def test_profiles_can_be_switched_off():
    world = World(EventOptions(upload_profiles=False))
    world.event(1)
    sink = Sink()

    world.flush(sink)

    assert [r["type"] for r in sink.sent[0]] == ["event"]


def test_each_record_is_judged_on_its_own():
    world = World()
    ok, retry, refuse = world.event(1), world.event(2), world.event(3)
    sink = Sink({3: 555, 5: 512})  # event of #2 kept back, event of #3 refused

    report = world.flush(sink)

    assert report.delivered == [ok] and report.retried == 1 and report.parked == 1
    [(parked, error, attempts)] = world.parked
    assert parked == refuse and error.code == 512 and error.reason == "clevertap_record_rejected"
    assert attempts == 1
    # The retry sends only what is not done: the event of #2, not its profile again.
    world.flush(sink)
    assert [r["type"] for r in sink.sent[1]] == ["event"]
    assert sink.sent[1][0]["evtData"]["order_id"] == retry.order_id
    assert world.outbox.size() == 0


def test_transient_upload_errors_retry_then_park_after_the_last_attempt():
    world = World()
    ref = world.event(1)
    sink = Sink(UpstreamUnavailable("clevertap: HTTP 503"), UpstreamUnavailable("503"), UpstreamUnavailable("503"))

    reports = [world.flush(sink) for _ in range(3)]

    assert [r.retried for r in reports] == [1, 1, 0] and reports[-1].parked == 1
    assert world.parked[0][0] == ref and world.parked[0][2] == 3
    assert not world.ledger.is_done(Ledger.done_key(ACCOUNT, ref.order_id, ref.state, "event"))


def test_transient_errors_are_retried_for_the_whole_window():
    world = World()
    ref = world.event(1)
    window = FlushPolicy(retry=RetryPolicy(window_s=0.3, backoff_base=0.001, backoff_max=0.001))
    sink = Sink(*[UpstreamUnavailable("503")] * 1000)

    reports = []
    while not world.parked:
        reports.append(world.flush(sink, window))

    assert len(reports) > 3 and world.parked[0][0] == ref
    tried, first = world.outbox.history([ref])[0]
    assert (tried, first) == (0, None)  # parked: the outbox forgot it


def test_a_refused_request_parks_the_whole_batch_at_once():
    world = World()
    refs = [world.event(n) for n in range(2)]

    report = world.flush(Sink(UpstreamRejected("clevertap: HTTP 401", status=401)))

    assert report.parked == 2 and {p[0] for p in world.parked} == set(refs)
    assert world.outbox.size() == 0


def test_batches_respect_the_record_limit():
    world = World()
    for n in range(3):
        world.event(n)
    sink = Sink()
    small = FlushPolicy(max_records=4, lease_ms=60_000, retry=FAST)

    first = world.flush(sink, small)
    second = world.flush(sink, small)

    assert [len(batch) for batch in sink.sent] == [4, 2]
    assert len(first.delivered) == 2 and len(second.delivered) == 1


def test_leased_events_are_invisible_to_a_second_flusher():
    world = World()
    world.event(1)

    leased = world.outbox.lease(10, 60_000)

    assert len(leased) == 1 and world.outbox.lease(10, 60_000) == []
    world.outbox.release(leased)
    assert len(world.outbox.lease(10, 60_000)) == 1


def test_missing_pending_entry_is_rebuilt_and_master_data_lag_is_retried():
    world = World()
    ref = world.event(1)
    world.pending.drop(ref)

    def rebuild(r):
        raise CustomerNotFoundYet("no CL document yet")

    report = world.flush(Sink(), rebuild=rebuild)

    assert report.retried == 1 and world.outbox.attempts([ref]) == [1]


def test_semaphore_caps_holders_and_frees_dead_ones():
    client = fakeredis.FakeRedis(decode_responses=True)
    slots = RedisSemaphore(client, ACCOUNT, "clevertap", limit=2, hold_ms=60_000)

    assert slots.acquire("a") and slots.acquire("b") and not slots.acquire("c")
    assert slots.acquire("a")  # a holder asking again keeps its slot
    slots.release("a")
    assert slots.acquire("c")
    short = RedisSemaphore(client, ACCOUNT, "other", limit=1, hold_ms=1)
    assert short.acquire("dead")
    import time

    time.sleep(0.01)
    assert short.acquire("alive")


def test_a_just_added_event_is_due_at_once():
    world = World()
    world.event(1)

    assert world.outbox.due() == 1
