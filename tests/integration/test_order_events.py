"""Hook -> receiver (gunicorn) -> broker -> Celery worker (prefork) -> sandbox OMS, Master Data, CleverTap."""

import concurrent.futures
import time
from datetime import UTC, datetime

import pytest
import requests

from shared.devstack import wait_until
from shared.sandbox.factory import make_order
from tests.conftest import ACCOUNT_ENV
from tests.integration.conftest import ACCOUNT, dump_keys, events_for, hook_body, post_hook, wait_for_failure

pytestmark = pytest.mark.usefixtures("worker")


def test_hook_becomes_one_charged_event_with_profile(receiver_url, control, settle):
    # given
    order = make_order(ACCOUNT, "v1001int-01", items=2, coupon="WELCOME")
    control.add_orders(ACCOUNT, [order])

    # when
    response = post_hook(receiver_url, hook_body("v1001int-01"))
    wait_until(lambda: events_for(control, "v1001int-01"), 20, "the Charged event")
    settle()

    # then
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    [event] = events_for(control, "v1001int-01")
    user = order["clientProfileData"]["userProfileId"]
    assert event["evtName"] == "Charged"
    assert event["identity"].endswith("@example.com") and user[:8] in event["identity"]
    assert event["evtData"]["value"] == order["value"] / 100
    assert event["evtData"]["Amount"] == order["value"] / 100
    assert event["evtData"]["coupon"] == "WELCOME"
    assert event["ts"] == int(datetime(2026, 11, 27, 10, 2, 13, tzinfo=UTC).timestamp())
    assert all(i["url"].startswith("https://teststore.example.com/") for i in event["evtData"]["Items"])
    profiles = [r["record"] for r in control.received(ACCOUNT) if r["record"]["type"] == "profile"]
    assert [p["identity"] for p in profiles] == [event["identity"]]
    assert profiles[0]["profileData"]["Phone"].startswith("+55")


def test_duplicate_hooks_send_once(receiver_url, control, settle):
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v1002int-01")])
    body = hook_body("v1002int-01")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post_hook(receiver_url, body).status_code, range(4)))
    wait_until(lambda: events_for(control, "v1002int-01"), 20, "the event")
    settle()
    redelivered = post_hook(receiver_url, body).status_code
    settle()

    assert answers == [200] * 4 and redelivered == 200
    assert len(events_for(control, "v1002int-01")) == 1


def test_one_event_notified_with_different_times_is_fetched_and_sent_once(receiver_url, control, settle):
    # The hook, its redelivery with another CurrentChange and a feed body without any time name
    # one event; the claim holds the concurrent ones off and the outbox keeps one copy.
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v1010int-01")])
    settle()
    fetched_before = control.stats()["counts"].get("oms:200", 0)
    bodies = [{**hook_body("v1010int-01"), "CurrentChange": f"2026-11-27T10:0{n}:13.1234567Z"} for n in range(3)]
    feed = {"orderId": "v1010int-01", "currentState": "payment-approved", "lastState": "approve-payment",
            "domain": "Marketplace"}

    def post(body):
        if "orderId" in body:
            return requests.post(f"{receiver_url}/hooks/vtex/orders/{ACCOUNT}", json=body, timeout=5,
                                 headers={"X-Hook-Secret": ACCOUNT_ENV["VTEXCT_HOOK_SECRET"]}).status_code
        return post_hook(receiver_url, body).status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, [*bodies, feed]))
    wait_until(lambda: events_for(control, "v1010int-01"), 20, "the event")
    settle()
    time.sleep(3)  # a duplicate held off by the claim looks again after 2 s
    settle()

    assert answers == [200] * 4
    assert len(events_for(control, "v1010int-01")) == 1
    assert control.stats()["counts"].get("oms:200", 0) - fetched_before == 1


def test_cancel_of_never_authorized_order_is_checkout_failed(receiver_url, control, settle):
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v1003int-01", authorized=False, items=3)])

    post_hook(receiver_url, hook_body("v1003int-01", "canceled"))
    wait_until(lambda: events_for(control, "v1003int-01"), 20, "the event")
    settle()

    [event] = events_for(control, "v1003int-01")
    assert event["evtName"] == "Checkout Failed" and len(event["evtData"]["items"]) == 3


def test_master_data_lag_is_retried(receiver_url, control, settle):
    order = make_order(ACCOUNT, "v1004int-01")
    control.add_orders(ACCOUNT, [order])
    control.md_lag(ACCOUNT, order["clientProfileData"]["userProfileId"], misses=2)

    post_hook(receiver_url, hook_body("v1004int-01"))
    wait_until(lambda: events_for(control, "v1004int-01"), 20, "the event after the lag")
    settle()

    assert len(events_for(control, "v1004int-01")) == 1
    assert control.stats()["counts"]["md:200"] >= 3


def test_clevertap_503_then_ok_is_delivered_once(receiver_url, control, settle, failures):
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v1005int-01")])
    control.faults(clevertap={"script": [503, 503]})

    post_hook(receiver_url, hook_body("v1005int-01"))
    wait_until(lambda: events_for(control, "v1005int-01"), 20, "the event after two 503s")
    settle()

    assert len(events_for(control, "v1005int-01")) == 1
    assert control.stats()["counts"]["clevertap:503"] == 2
    assert not [f for f in failures.iter(ACCOUNT) if f.kwargs.get("order_id") == "v1005int-01"]


def test_refused_record_lands_in_the_failure_store(receiver_url, control, settle, failures):
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v1006int-01")])
    control.reject_event(ACCOUNT, "v1006int-01", [512])

    post_hook(receiver_url, hook_body("v1006int-01"))
    entry = wait_for_failure(failures, lambda f: f.kwargs.get("order_id") == "v1006int-01")
    settle()

    assert entry.task == "clevertap.upload_event"
    assert (entry.reason, entry.code, entry.attempts) == ("clevertap_record_rejected", 512, 1)
    assert entry.kwargs == {"account": ACCOUNT, "order_id": "v1006int-01", "state": "payment-approved",
                            "changed_at": "2026-11-27T10:02:13.123456+00:00"}
    assert events_for(control, "v1006int-01") == []


def test_unknown_order_and_missing_customer_are_parked_with_reasons(receiver_url, control, settle, failures):
    order = make_order(ACCOUNT, "v1008int-01")
    control.add_orders(ACCOUNT, [order])
    control.md_lag(ACCOUNT, order["clientProfileData"]["userProfileId"], misses=100)

    post_hook(receiver_url, hook_body("v1007int-01"))
    post_hook(receiver_url, hook_body("v1008int-01"))
    missing_order = wait_for_failure(failures, lambda f: f.kwargs.get("order_id") == "v1007int-01")
    missing_customer = wait_for_failure(failures, lambda f: f.kwargs.get("order_id") == "v1008int-01")
    settle()

    assert (missing_order.task, missing_order.reason, missing_order.attempts) == (
        "orders.handle_status_change", "not_found", 1)
    assert (missing_customer.task, missing_customer.reason, missing_customer.attempts) == (
        "profiles.resolve_identity", "customer_not_found", 4)
    assert events_for(control, "v1008int-01") == []


def test_secrets_stay_out_of_the_failure_store(receiver_url, control, settle, failures, state):
    from tests.conftest import ACCOUNT_ENV

    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v1009int-01")])
    control.faults(clevertap={"script": [401]})
    post_hook(receiver_url, hook_body("v1009int-01"))
    wait_for_failure(failures, lambda f: f.kwargs.get("order_id") == "v1009int-01")
    settle()

    dump = dump_keys(state, "vtexct:*failures*")
    for name, value in ACCOUNT_ENV.items():
        if "SENTINEL" in value:
            assert value not in dump, name
