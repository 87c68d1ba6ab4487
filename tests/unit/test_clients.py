"""API clients against the sandbox over loopback: auth headers, typed errors, Retry-After."""

import pytest

from shared.clients.clevertap import CleverTapClient
from shared.clients.http import parse_retry_after
from shared.clients.vtex import VtexClient
from shared.errors import NotFound, RateLimited, UpstreamRejected, UpstreamUnavailable
from shared.sandbox import Sandbox, SandboxAccount, SandboxControl
from shared.sandbox.factory import make_order
from shared.settings import AccountSettings

CREDS = SandboxAccount("teststore", "key", "token", "CT-1", "pass")


@pytest.fixture(scope="module")
def sandbox():
    running = Sandbox([CREDS]).start()
    yield running
    running.stop()


@pytest.fixture
def control(sandbox):
    control = SandboxControl(sandbox.url)
    control.reset()
    return control


def account(sandbox, **overrides):
    values = dict(vtex_account="teststore", vtex_app_key="key", vtex_app_token="token",
                  vtex_base_url=sandbox.vtex_base_url, clevertap_account_id="CT-1", clevertap_passcode="pass",
                  clevertap_region="us1", clevertap_base_url=sandbox.clevertap_base_url, hook_secret="s",
                  catalog_sync=False)
    values.update(overrides)
    return AccountSettings(**values)


def test_order_and_customer_round_trip(sandbox, control):
    order = make_order("teststore", "v1cli-01")
    control.add_orders("teststore", [order])
    client = VtexClient(account(sandbox), timeout=5)

    assert client.get_order("v1cli-01")["value"] == order["value"]
    user = order["clientProfileData"]["userProfileId"]
    assert client.find_customer(user)["email"].endswith("@example.com")
    assert client.find_customer("00000000-0000-0000-0000-000000000000") is None


def test_errors_are_typed_and_carry_no_credentials(sandbox, control):
    client = VtexClient(account(sandbox, vtex_app_token="SENTINEL-wrong-token"), timeout=5)

    with pytest.raises(UpstreamRejected) as error:
        client.get_order("v1cli-01")

    assert error.value.status == 401 and "SENTINEL" not in str(error.value)
    with pytest.raises(NotFound):
        VtexClient(account(sandbox), timeout=5).get_order("v404cli-01")


def test_429_and_5xx(sandbox, control):
    control.faults(oms={"script": [429, 503]})
    client = VtexClient(account(sandbox), timeout=5)

    with pytest.raises(RateLimited) as limited:
        client.get_order("gen1-01")
    with pytest.raises(UpstreamUnavailable):
        client.get_order("gen1-01")

    assert limited.value.retry_after == 1.0
    assert client.get_order("gen1-01")["orderId"] == "gen1-01"


def test_timeouts_and_dead_hosts_are_transient(sandbox, control):
    control.faults(oms={"latency_ms": 1500})
    with pytest.raises(UpstreamUnavailable, match="timed out"):
        VtexClient(account(sandbox), timeout=0.5).get_order("gen1-01")
    with pytest.raises(UpstreamUnavailable, match="connection failed"):
        VtexClient(account(sandbox, vtex_base_url="http://127.0.0.1:9/x"), timeout=1).get_order("gen1-01")


def test_clevertap_upload_reports_per_record(sandbox, control):
    client = CleverTapClient(account(sandbox), timeout=5)
    records = [{"type": "event", "identity": "a@example.com", "evtName": "Charged", "ts": 1, "evtData": {}},
               {"type": "event", "identity": "", "evtName": "Charged", "ts": 1, "evtData": {}}]

    result = client.upload(records)

    assert result.status == "partial" and list(result.failed) == [1] and result.failed[1].code == 523
    assert len(control.received("teststore")) == 1


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
