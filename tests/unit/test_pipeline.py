"""The order-event pipeline as plain Python: fakeredis state, stub API clients, no Celery."""

from datetime import UTC, datetime

import fakeredis
import pytest

from shared.errors import CustomerNotFoundYet, InvalidOrderData
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


@pytest.fixture
def stores():
    client = fakeredis.FakeRedis(decode_responses=True)
    return Ledger(client, done_ttl=3600), PendingStore(client)


@pytest.fixture
def order():
    return make_order(ACCOUNT, "v100dmo-01", items=2)


@pytest.fixture
def ref(order):
    return EventRef(ACCOUNT, order["orderId"], "payment-approved", datetime(2026, 11, 27, 10, 2, tzinfo=UTC))


def test_identity_and_profile_come_from_master_data(ref, order, stores):
    ledger, pending = stores
    event = pipeline.prepare(ref, Orders(order), EventOptions(), pending, ledger)
    customer = make_customer(order["clientProfileData"]["userProfileId"], email="Buyer@Example.com")

    resolved = pipeline.resolve_identity(event, Customers(customer), EventOptions(), pending)

    assert resolved.identity == "buyer@example.com"
    assert resolved.profile["identity"] == "buyer@example.com"
    assert resolved.profile["profileData"]["Name"] == f"{customer['firstName']} {customer['lastName']}"
    assert pending.load(ref).identity == "buyer@example.com"


def test_delivered_event_is_not_prepared_again(ref, order, stores):
    ledger, pending = stores
    ledger.mark_done(Ledger.done_key(ACCOUNT, ref.order_id, ref.state, "event"))
    orders = Orders(order)

    assert pipeline.prepare(ref, orders, EventOptions(), pending, ledger) is None
    assert orders.calls == 0




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






def test_expired_pending_event_is_rebuilt_from_oms(ref, order, stores):
    ledger, pending = stores
    orders = Orders(order)

    rebuilt = pipeline.load_or_prepare(ref, orders, EventOptions(), pending, ledger)

    assert rebuilt.order_id == ref.order_id and orders.calls == 1
    assert pipeline.load_or_prepare(ref, orders, EventOptions(), pending, ledger) == rebuilt
    assert orders.calls == 1

