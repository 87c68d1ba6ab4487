"""Three stores in one deployment, configured by ``VTEXCT_ACCOUNTS_FILE``: one of them has CleverTap
down and a tight OMS budget, and the other two must not notice.

The stack here is its own (sandbox, broker, state store, receiver, worker), so that the
session's single-account worker never sees these accounts' tasks.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import redis
import requests

from shared.devstack import RabbitVhost, broker_idle, start_receiver, start_worker, wait_until
from shared.sandbox import Sandbox, SandboxAccount, SandboxControl
from tests.integration.conftest import BROKER, QUEUES, vtexct

STORES = ("storea", "storeb", "storec")
FAILING = "storec"
# storec's OMS budget: the GCRA runs at 0.99 of it less a burst of 5, so one request every 0.53 s.
FAILING_OMS_PER_MIN = 120
FAILING_ORDERS = 30


def _secret(store: str) -> str:
    return f"SENTINEL-{store}-hook-secret"


def _accounts_toml(sandbox: Sandbox) -> str:
    lines = ["[defaults]", 'clevertap_region = "us1"', "catalog_sync = false",
             f'vtex_base_url = "{sandbox.vtex_base_url}"', f'clevertap_base_url = "{sandbox.clevertap_base_url}"',
             'store_url = "https://{account}.example.com"', "clevertap_batch_wait_ms = 100", ""]
    for store in STORES:
        lines += [f"[accounts.{store}]", f'vtex_app_key = "vtexappkey-{store}"',
                  f'vtex_app_token = {{ env = "{store.upper()}_VTEX_APP_TOKEN" }}',
                  f'clevertap_account_id = "CT-{store}"',
                  f'clevertap_passcode = {{ env = "{store.upper()}_CLEVERTAP_PASSCODE" }}',
                  f'hook_secret = {{ env = "{store.upper()}_HOOK_SECRET" }}']
        if store == FAILING:
            lines.append(f"oms_rate_per_min = {FAILING_OMS_PER_MIN}")
        lines.append("")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def stack(redis_server, tmp_path_factory):
    sandbox = Sandbox([SandboxAccount(s, f"vtexappkey-{s}", f"token-{s}", f"CT-{s}", f"passcode-{s}")
                       for s in STORES]).start()
    vhost = RabbitVhost().create() if BROKER == "amqp" else None
    broker_url = vhost.url() if vhost else redis_server.url(2)
    tmp = tmp_path_factory.mktemp("many")
    accounts_file = tmp / "accounts.toml"
    accounts_file.write_text(_accounts_toml(sandbox))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VTEXCT_")},
        "VTEXCT_ACCOUNTS_FILE": str(accounts_file),
        "VTEXCT_BROKER_URL": broker_url,
        "VTEXCT_REDIS_URL": redis_server.url(3),
        "VTEXCT_ADMIN_TOKEN": "SENTINEL-many-admin",
        "VTEXCT_RETRY_BACKOFF_BASE": "0.2",
        "VTEXCT_RETRY_BACKOFF_MAX": "1",
        "VTEXCT_VISIBILITY_TIMEOUT": "60",
        "VTEXCT_TASK_TIME_LIMIT": "30",
        "VTEXCT_CATALOG_TASK_TIME_LIMIT": "40",
        "VTEXCT_LOG_FORMAT": "json",
        **{f"{s.upper()}_VTEX_APP_TOKEN": f"token-{s}" for s in STORES},
        **{f"{s.upper()}_CLEVERTAP_PASSCODE": f"passcode-{s}" for s in STORES},
        **{f"{s.upper()}_HOOK_SECRET": _secret(s) for s in STORES},
    }
    receiver, url = start_receiver(env, tmp / "logs", workers=1, threads=4)
    worker = start_worker(env, tmp / "logs", queues=",".join(QUEUES), name="many", concurrency=2)
    try:
        yield {"env": env, "url": url, "control": SandboxControl(sandbox.url), "broker_url": broker_url,
               "state": redis.Redis.from_url(env["VTEXCT_REDIS_URL"], decode_responses=True)}
    finally:
        worker.stop()
        receiver.stop()
        sandbox.stop()
        if vhost:
            vhost.delete()


def _post(url: str, store: str, order_id: str, *, by_path: bool) -> requests.Response:
    body = {"Domain": "Marketplace", "OrderId": order_id, "State": "payment-approved", "LastState": "approve-payment",
            "CurrentChange": "2026-11-27T10:02:13.1234567Z"}
    if not by_path:
        body["Origin"] = {"Account": store, "Key": f"vtexappkey-{store}"}
    path = f"/hooks/vtex/orders/{store}" if by_path else "/hooks/vtex/orders"
    return requests.post(url + path, json=body, headers={"X-Hook-Secret": _secret(store)}, timeout=5)


def _delivered(control: SandboxControl, store: str) -> Counter[str]:
    return Counter(e["evtData"]["order_id"] for e in control.events(store))


def test_a_failing_account_never_slows_the_others(stack):
    control, url = stack["control"], stack["url"]
    # given: storec's CleverTap answers 503 to everything, and storec's orders arrive first
    control.faults(clevertap={"error_rate": 1.0, "error_status": 503, "accounts": [FAILING]})
    failing = [f"gen{n:04d}c-01" for n in range(FAILING_ORDERS)]
    healthy = {"storea": [f"gen{n:04d}a-01" for n in range(15)], "storeb": [f"gen{n:04d}b-01" for n in range(15)]}
    started = time.monotonic()
    assert all(_post(url, FAILING, o, by_path=False).status_code == 200 for o in failing)
    # storea routed by Origin.Account, storeb by its path (a body without Origin)
    assert all(_post(url, "storea", o, by_path=False).status_code == 200 for o in healthy["storea"])
    assert all(_post(url, "storeb", o, by_path=True).status_code == 200 for o in healthy["storeb"])
    # a secret is per account: storea's secret does not open storeb's door
    wrong = requests.post(url + "/hooks/vtex/orders/storeb", headers={"X-Hook-Secret": _secret("storea")},
                          json={"OrderId": "gen9999b-01", "State": "payment-approved"}, timeout=5)
    assert wrong.status_code == 401

    # then: storea and storeb are delivered while storec still waits on its own budget and its CleverTap
    wait_until(lambda: all(set(_delivered(control, s)) == set(o) for s, o in healthy.items()), 60,
               "storea and storeb to be delivered")
    healthy_done = time.monotonic() - started
    # storec's OMS budget alone needs this long for its orders; the others finished well inside it.
    failing_floor = (FAILING_ORDERS - 5) * 60 / (FAILING_OMS_PER_MIN * 0.99 - 5)
    assert healthy_done < failing_floor * 0.75, (healthy_done, failing_floor)
    assert not control.events(FAILING)
    status = json.loads(vtexct(stack["env"], "status", "--json", "--skip-vtex").stdout)
    assert {s: status["accounts"][s]["delivered"]["last_hour"] for s in STORES} == {
        "storea": 15, "storeb": 15, "storec": 0}
    assert all(not status["accounts"][s]["failures"] for s in STORES)  # storec is retrying, not failed

    # when: storec's CleverTap comes back
    control.faults(clevertap={"error_rate": 0.0, "accounts": None})

    # then: everything is delivered once, each to its own CleverTap project, with nothing parked
    wait_until(lambda: set(_delivered(control, FAILING)) == set(failing), 120, "storec to catch up")
    wait_until(lambda: broker_idle(stack["broker_url"], QUEUES), 60, "the queues to drain")
    time.sleep(1.0)
    for store, orders in {**healthy, FAILING: failing}.items():
        assert _delivered(control, store) == Counter({o: 1 for o in orders}), store
    assert control.stats()["counts"].get("clevertap:503", 0) > 0
    listed = vtexct(stack["env"], "failed", "list", "--json")
    assert json.loads(listed.stdout) == []
    # Redis keys carry their account: nothing of storec's lives under another store's name.
    keys = list(stack["state"].scan_iter("vtexct:*"))
    assert any(k.startswith("vtexct:storec:") for k in keys)
    assert not [k for k in keys if "gen" in k and "c-01" in k and not k.startswith("vtexct:storec:")]
