"""The order-event pipeline as plain Python: fakeredis state, stub API clients, no Celery."""

from datetime import UTC, datetime

import fakeredis
import pytest

from shared.clients.clevertap import RecordFailure, UploadResult
from shared.errors import ClaimHeld, CustomerNotFoundYet, InvalidOrderData, RecordRejected, RecordRetryable
from shared.idempotency import Ledger
from shared.orders import pipeline
from shared.orders.mapping import EventOptions
from shared.orders.pending import EventRef, PendingStore
from shared.sandbox.factory import make_customer, make_order

ACCOUNT = "teststore"


class Orders:
    def __init__(self, *orders):
        self.orders = {o["orderId"]: o for o in orders}
        self.calls = 0

    def get_order(self, order_id):
        self.calls += 1
        return self.orders[order_id]


class Customers:
    def __init__(self, *docs, misses=0):
        self.docs = {d["userId"]: d for d in docs}
        self.misses = misses

    def find_customer(self, user_id):
        if self.misses:
            self.misses -= 1
            return None
        return self.docs.get(user_id)


class Sink:
    """Answers each upload with the next scripted ``{index: code}``; records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def upload(self, records):
        self.sent.append(records)
        failed = self.answers.pop(0) if self.answers else {}
        return UploadResult("partial" if failed else "success", len(records) - len(failed),
                            {i: RecordFailure(code, "scripted") for i, code in failed.items()})


@pytest.fixture
def stores():
    client = fakeredis.FakeRedis(decode_responses=True)
    return Ledger(client, done_ttl=3600, claim_ttl=60), PendingStore(client)


@pytest.fixture
def order():
    return make_order(ACCOUNT, "v100dmo-01", items=2)


@pytest.fixture
def ref(order):
    return EventRef(ACCOUNT, order["orderId"], "payment-approved", datetime(2026, 11, 27, 10, 2, tzinfo=UTC))


def _prepared(ref, order, stores, options=EventOptions()):
    ledger, pending = stores
    event = pipeline.prepare(ref, Orders(order), options, pending, ledger)
    customer = make_customer(order["clientProfileData"]["userProfileId"], email="Buyer@Example.com")
    return pipeline.resolve_identity(event, Customers(customer), options, pending)


def test_full_pipeline_sends_profile_then_event_once(ref, order, stores):
    ledger, pending = stores
    event = _prepared(ref, order, stores)
    sink = Sink()

    first = pipeline.deliver(event, sink, ledger, owner="task-1")
    again = pipeline.deliver(event, sink, ledger, owner="task-2")

    assert first.sent == ("profile", "event") and again.sent == ()
    assert len(sink.sent) == 1
    profile, charged = sink.sent[0]
    assert profile["type"] == "profile" and profile["identity"] == "buyer@example.com"
    assert charged["evtName"] == "Charged" and charged["identity"] == "buyer@example.com"
    assert pipeline.prepare(ref, Orders(order), EventOptions(), pending, ledger) is None


def test_profiles_can_be_switched_off(ref, order, stores):
    ledger, _ = stores
    event = _prepared(ref, order, stores, EventOptions(upload_profiles=False))
    sink = Sink()

    pipeline.deliver(event, sink, ledger, owner="t")

    assert [r["type"] for r in sink.sent[0]] == ["event"]


def test_documented_example_with_malformed_user_profile_id_is_refused(stores):
    # VTEX's Get order example carries userProfileId "...bfbdd2y", which is not a UUID.
    from tests.conftest import load_fixture

    ledger, pending = stores
    order = load_fixture("oms_order_1172452900788-01.json")
    ref = EventRef(ACCOUNT, order["orderId"], "payment-approved", datetime.now(UTC))

    with pytest.raises(InvalidOrderData, match="userProfileId"):
        pipeline.prepare(ref, Orders(order), EventOptions(), pending, ledger)


def test_missing_customer_is_retryable_and_nothing_is_sent(ref, order, stores):
    ledger, pending = stores
    event = pipeline.prepare(ref, Orders(order), EventOptions(), pending, ledger)

    with pytest.raises(CustomerNotFoundYet):
        pipeline.resolve_identity(event, Customers(misses=1), EventOptions(), pending)

    assert pending.load(ref).identity is None


def test_retryable_record_is_not_marked_done(ref, order, stores):
    ledger, _ = stores
    event = _prepared(ref, order, stores)
    sink = Sink({1: 555})

    with pytest.raises(RecordRetryable):
        pipeline.deliver(event, sink, ledger, owner="t")
    pipeline.deliver(event, sink, ledger, owner="t")

    # The profile went through the first time; only the event is sent again.
    assert [[r["type"] for r in batch] for batch in sink.sent] == [["profile", "event"], ["event"]]


def test_final_record_code_raises_permanent_error(ref, order, stores):
    ledger, _ = stores
    event = _prepared(ref, order, stores)

    with pytest.raises(RecordRejected) as error:
        pipeline.deliver(event, Sink({1: 512}), ledger, owner="t")

    assert error.value.code == 512
    assert ledger.is_done(Ledger.done_key(ACCOUNT, ref.order_id, ref.state, "profile"))
    assert not ledger.is_done(Ledger.done_key(ACCOUNT, ref.order_id, ref.state, "event"))


def test_upload_error_marks_nothing_done_and_releases_the_claim(ref, order, stores):
    ledger, _ = stores
    event = _prepared(ref, order, stores)

    class Down:
        def upload(self, records):
            raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        pipeline.deliver(event, Down(), ledger, owner="t1")

    assert pipeline.deliver(event, Sink(), ledger, owner="t2").sent == ("profile", "event")


def test_concurrent_duplicate_is_held_off_by_the_claim(ref, order, stores):
    ledger, _ = stores
    event = _prepared(ref, order, stores)
    ledger.claim(Ledger.claim_key(ACCOUNT, ref.order_id, ref.state), "other-task")

    with pytest.raises(ClaimHeld):
        pipeline.deliver(event, Sink(), ledger, owner="t")
    # The holder itself, redelivered after a crash, keeps its claim.
    assert pipeline.deliver(event, Sink(), ledger, owner="other-task").sent == ("profile", "event")


def test_expired_pending_event_is_rebuilt_from_oms(ref, order, stores):
    ledger, pending = stores
    orders = Orders(order)

    rebuilt = pipeline.load_or_prepare(ref, orders, EventOptions(), pending, ledger)

    assert rebuilt.order_id == ref.order_id and orders.calls == 1
    assert pipeline.load_or_prepare(ref, orders, EventOptions(), pending, ledger) == rebuilt
    assert orders.calls == 1


def test_delivery_refuses_an_event_without_identity(ref, order, stores):
    ledger, pending = stores
    event = pipeline.prepare(ref, Orders(order), EventOptions(), pending, ledger)

    with pytest.raises(InvalidOrderData):
        pipeline.deliver(event, Sink(), ledger, owner="t")
