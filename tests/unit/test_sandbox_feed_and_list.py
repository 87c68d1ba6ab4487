"""The sandbox's OMS order list, order-history generator, Feed v3 and per-account faults, over loopback."""

import math
import re
import time
from datetime import datetime, timedelta

import pytest
import requests

from shared.sandbox import Sandbox, SandboxAccount, SandboxControl

STORE_A = SandboxAccount("storea", "key-a", "token-a", "CT-A", "pass-a")
STORE_B = SandboxAccount("storeb", "key-b", "token-b", "CT-B", "pass-b")
JAN_1 = "creationDate:[2026-01-01T00:00:00.000Z TO 2026-01-01T23:59:59.999Z]"


@pytest.fixture(scope="module")
def sandbox():
    running = Sandbox([STORE_A, STORE_B]).start()
    yield running
    running.stop()


@pytest.fixture
def control(sandbox):
    control = SandboxControl(sandbox.url)
    control.reset()
    return control


@pytest.fixture
def vtex(sandbox):
    """``vtex(method, path, account=STORE_A, **kwargs)`` against the account's VTEX base URL."""
    session = requests.Session()

    def call(method, path, account=STORE_A, headers=None, **kwargs):
        auth = {"X-VTEX-API-AppKey": account.app_key, "X-VTEX-API-AppToken": account.app_token}
        return session.request(method, f"{sandbox.url}/vtex/{account.name}{path}", headers={**auth, **(headers or {})},
                               timeout=10, **kwargs)

    yield call
    session.close()


def since(order, field):
    """How long after its creation the order's ``field`` instant is."""
    return datetime.fromisoformat(order[field]) - datetime.fromisoformat(order["creationDate"])


def list_orders(vtex, **params):
    return vtex("GET", "/api/oms/pvt/orders", params=params)


# -- order list and history ------------------------------------------------------------------------

def test_list_refuses_pages_past_30_and_more_than_100_per_page(control, vtex):
    control.order_history("storea", 10, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")

    too_deep = list_orders(vtex, page=31, per_page=100)
    too_wide = list_orders(vtex, page=1, per_page=101)
    deepest = list_orders(vtex, page=30, per_page=100)

    assert too_deep.status_code == 400 and "30" in too_deep.json()["error"]
    assert too_wide.status_code == 400
    assert deepest.status_code == 200 and deepest.json()["list"] == []
    assert deepest.json()["paging"] == {"total": 10, "pages": 1, "currentPage": 30, "perPage": 100}


def test_list_window_counts_every_order_even_past_the_page_limit(control, vtex):
    control.order_history("storea", 3100, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    control.order_history("storea", 40, "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", prefix="next")
    control.order_history("storeb", 25, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")

    day = list_orders(vtex, f_creationDate=JAN_1, per_page=100, page=30).json()
    first_hour = list_orders(vtex, per_page=100, orderBy="creationDate,asc",
                             f_creationDate="creationDate:[2026-01-01T00:00:00.000Z TO 2026-01-01T00:59:59.999Z]")
    everything = list_orders(vtex).json()

    assert day["paging"] == {"total": 3100, "pages": 31, "currentPage": 30, "perPage": 100}
    assert len(day["list"]) == 100 and all(r["orderId"].startswith("hist") for r in day["list"])
    # One order every 86400 / 3100 s from midnight: the hour holds those created before 01:00.
    assert first_hour.json()["paging"]["total"] == math.ceil(3600 / (86400 / 3100))
    # The window's start is inclusive: the order created at exactly midnight is in it.
    assert first_hour.json()["list"][0]["orderId"] == "hist0000000-01"
    assert everything["paging"]["total"] == 3140 and everything["paging"]["perPage"] == 15


def test_list_sorts_by_creation_date_both_ways(control, vtex):
    control.order_history("storea", 30, "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z")

    asc = list_orders(vtex, orderBy="creationDate,asc", per_page=100).json()["list"]
    desc = list_orders(vtex, per_page=100).json()["list"]

    assert [r["orderId"] for r in asc] == [f"hist{i:07d}-01" for i in range(30)]
    assert [r["orderId"] for r in desc] == [r["orderId"] for r in reversed(asc)]
    assert list_orders(vtex, orderBy="totalValue,asc").status_code == 400


def test_list_window_includes_both_ends(control, vtex):
    # Orders at 00:00, 01:00, ... 09:00, stored as "…T02:00:00.0000000+00:00" against a "Z" window.
    control.order_history("storea", 10, "2026-01-01T00:00:00Z", "2026-01-01T10:00:00Z")

    rows = list_orders(vtex, orderBy="creationDate,asc",
                       f_creationDate="creationDate:[2026-01-01T02:00:00.000Z TO 2026-01-01T04:00:00.000Z]")

    assert [r["orderId"] for r in rows.json()["list"]] == ["hist0000002-01", "hist0000003-01", "hist0000004-01"]


def test_list_refuses_a_malformed_window(control, vtex):
    assert list_orders(vtex, f_creationDate="creationDate:[yesterday TO today]").status_code == 400
    assert list_orders(vtex, f_creationDate="2026-01-01T00:00:00Z").status_code == 400


def test_history_orders_are_full_orders_with_the_requested_cancel_shares(control, vtex):
    answer = control.order_history("storea", 100, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z",
                                   canceled_rate=0.1, unauthorized_cancel_rate=0.5, prefix="h")

    rows = list_orders(vtex, per_page=100).json()["list"]
    canceled = [r for r in rows if r["status"] == "canceled"]
    invoiced = [r for r in rows if r not in canceled]
    order = vtex("GET", f"/api/oms/pvt/orders/{canceled[0]['orderId']}").json()
    user = order["clientProfileData"]["userProfileId"]
    customer = vtex("GET", "/api/dataentities/CL/search", params={"_where": f"userId={user}"},
                    headers={"REST-Range": "resources=0-1"}).json()

    assert answer == {"status": "ok", "count": 100}
    assert len(canceled) == 10 and sum(r["authorizedDate"] is None for r in canceled) == 5
    assert all(r["status"] == "invoiced" and r["authorizedDate"] for r in invoiced)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00", order["creationDate"])
    assert since(order, "lastChange") == timedelta(hours=2)
    assert since(invoiced[0], "lastChange") == timedelta(days=1)
    assert since(invoiced[0], "authorizedDate") == timedelta(minutes=5)
    assert isinstance(rows[0]["totalValue"], int) and rows[0]["items"] is None
    assert len(customer) == 1


# -- Feed v3 ---------------------------------------------------------------------------------------

def configure_feed(vtex, account=STORE_A, visibility=1, statuses=("payment-approved", "canceled")):
    return vtex("POST", "/api/orders/feed/config", account=account, json={
        "filter": {"type": "FromWorkflow", "status": list(statuses)},
        "queue": {"visibilityTimeoutInSeconds": visibility, "MessageRetentionPeriodInSeconds": 345600}})


def test_feed_answers_404_until_configured(control, vtex):
    before = vtex("GET", "/api/orders/feed")
    configured = configure_feed(vtex)

    assert before.status_code == 404 and before.json() == {"error": "feed not configured"}
    assert configured.status_code == 200 and configured.content == b""
    assert vtex("GET", "/api/orders/feed").json() == []
    assert vtex("GET", "/api/orders/feed", account=STORE_B).status_code == 404


def test_retrieved_items_hide_for_the_visibility_timeout_then_return_with_a_new_handle(control, vtex):
    configure_feed(vtex, visibility=1)
    control.push_feed("storea", [{"orderId": f"v{n}-01", "state": "payment-approved"} for n in range(3)])

    first = vtex("GET", "/api/orders/feed", params={"maxlot": 2}).json()
    rest = vtex("GET", "/api/orders/feed", params={"maxlot": 10}).json()
    hidden = vtex("GET", "/api/orders/feed", params={"maxlot": 10}).json()
    stats_hidden = control.feed_stats("storea")
    time.sleep(1.2)
    again = vtex("GET", "/api/orders/feed", params={"maxlot": 10}).json()

    assert [i["orderId"] for i in first] == ["v0-01", "v1-01"] and [i["orderId"] for i in rest] == ["v2-01"]
    assert set(first[0]) == {"eventId", "handle", "domain", "state", "lastState", "orderId", "lastChange",
                             "currentChange"}
    assert first[0]["domain"] == "Marketplace" and first[0]["currentChange"].endswith("Z")
    assert hidden == []
    assert stats_hidden == {"visible": 0, "invisible": 3, "committed": 0, "retrievals": 3}
    assert [i["orderId"] for i in again] == ["v0-01", "v1-01", "v2-01"]
    assert again[0]["eventId"] == first[0]["eventId"] and again[0]["handle"] != first[0]["handle"]


def test_commit_removes_items_by_current_handle_and_ignores_stale_ones(control, vtex):
    configure_feed(vtex, visibility=1)
    control.push_feed("storea", [{"orderId": "v1-01", "state": "canceled"}, {"orderId": "v2-01", "state": "canceled"}])
    stale = vtex("GET", "/api/orders/feed", params={"maxlot": 2}).json()
    time.sleep(1.2)
    fresh = vtex("GET", "/api/orders/feed", params={"maxlot": 2}).json()

    stale_commit = vtex("POST", "/api/orders/feed", json={"handles": [i["handle"] for i in stale] + ["nope"]})
    after_stale = control.feed_stats("storea")
    fresh_commit = vtex("POST", "/api/orders/feed", json={"handles": [fresh[0]["handle"]]})
    time.sleep(1.2)
    left = vtex("GET", "/api/orders/feed", params={"maxlot": 10}).json()

    assert stale_commit.status_code == 200 and after_stale["committed"] == 0 and after_stale["invisible"] == 2
    assert fresh_commit.status_code == 200
    assert [i["orderId"] for i in left] == ["v2-01"]
    assert control.feed_stats("storea")["committed"] == 1
    assert vtex("POST", "/api/orders/feed", json={"handle": "x"}).status_code == 400


@pytest.mark.parametrize("maxlot", [0, 11, "many"])
def test_feed_refuses_a_maxlot_outside_1_to_10(control, vtex, maxlot):
    configure_feed(vtex)

    assert vtex("GET", "/api/orders/feed", params={"maxlot": maxlot}).status_code == 400


def test_feed_config_validation_storage_and_deletion(control, vtex):
    both = vtex("POST", "/api/orders/feed/config", json={
        "filter": {"type": "FromWorkflow", "status": ["invoiced"], "expression": "status = 'invoiced'"}})
    single_fire = vtex("POST", "/api/orders/feed/config", json={
        "filter": {"type": "FromOrders", "status": ["invoiced"], "disableSingleFire": False}})
    no_filter = vtex("POST", "/api/orders/feed/config", json={"queue": {"visibilityTimeoutInSeconds": 240}})
    missing = vtex("GET", "/api/orders/feed/config")
    configure_feed(vtex, visibility=240)

    assert both.status_code == 409 and single_fire.status_code == 409
    assert no_filter.status_code == 400 and missing.status_code == 404
    assert vtex("GET", "/api/orders/feed/config").json()["queue"]["visibilityTimeoutInSeconds"] == 240
    assert control.feed_config("storea")["filter"]["type"] == "FromWorkflow"
    assert control.feed_config("storeb") is None and control.hook_config("storea") is None
    assert vtex("DELETE", "/api/orders/feed/config").status_code == 200
    assert vtex("GET", "/api/orders/feed/config").status_code == 404


def test_push_drops_states_a_workflow_filter_does_not_list(control, vtex):
    early = control.push_feed("storea", [{"orderId": "v0-01", "state": "invoiced"}])
    configure_feed(vtex, statuses=["canceled"])
    late = control.push_feed("storea", [{"orderId": "v1-01", "state": "invoiced"},
                                        {"orderId": "v2-01", "state": "canceled", "lastState": "payment-pending"}])

    items = vtex("GET", "/api/orders/feed", params={"maxlot": 10}).json()

    assert early["count"] == 1 and late == {"status": "ok", "count": 1, "dropped": 1}
    assert [(i["orderId"], i["lastState"]) for i in items] == [("v0-01", ""), ("v2-01", "payment-pending")]


def test_feed_endpoints_take_the_feed_faults(control, vtex):
    configure_feed(vtex)
    control.faults(feed={"script": [503]}, oms_list={"script": [429]})

    assert vtex("GET", "/api/orders/feed").status_code == 503
    assert vtex("GET", "/api/orders/feed").status_code == 200
    assert list_orders(vtex).status_code == 429


# -- per-account faults ------------------------------------------------------------------------------

def upload(sandbox, account):
    record = {"type": "profile", "identity": "u1", "ts": 1767225600, "profileData": {"Name": "U"}}
    return requests.post(f"{sandbox.url}/clevertap/1/upload", json={"d": [record]}, timeout=10, headers={
        "X-CleverTap-Account-Id": account.clevertap_account_id, "X-CleverTap-Passcode": account.clevertap_passcode})


def test_faults_aimed_at_one_account_spare_the_others(sandbox, control):
    control.faults(clevertap={"error_rate": 1.0, "accounts": ["storea"]})

    assert upload(sandbox, STORE_A).status_code == 503
    assert upload(sandbox, STORE_B).status_code == 200
    assert control.current_faults()["clevertap"]["accounts"] == ["storea"]

    control.faults(clevertap={"error_rate": 0.0, "script": [503], "accounts": ["storea"]})
    # B's request must not consume A's scripted failure.
    assert upload(sandbox, STORE_B).status_code == 200
    assert upload(sandbox, STORE_A).status_code == 503

    control.faults(clevertap={"script": [503], "accounts": None})
    assert upload(sandbox, STORE_B).status_code == 503


def test_accounts_must_be_a_list(sandbox, control):
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", json={"clevertap": {"accounts": "storea"}}, timeout=10)

    assert answer.status_code == 400
