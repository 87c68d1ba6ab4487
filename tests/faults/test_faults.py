"""The scenarios of the reliability suite. Each asserts nothing lost and nothing sent twice
(unless the scenario says otherwise) and records its figures."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import time
from collections import Counter

import pytest
import redis
import requests

from shared.catalog.mapping import sku_row
from shared.sandbox import CatalogSpec
from shared.sandbox.factory import make_order, make_sku
from tests.conftest import ACCOUNT_ENV
from shared.devstack import wait_until
from tests.faults.conftest import ACCOUNT, FULL, kill_group, kill_running_child, record

EVENTS = 500 if FULL else 120
OUTAGE_S = 60 if FULL else 15


def _orders(prefix: str, n: int) -> list[str]:
    return [f"gen{prefix}{i:05d}-01" for i in range(n)]


def _post_all(stack, orders: list[str]) -> list[str]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(stack.post, orders))
    return [o for o, code in zip(orders, codes) if code == 200]


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_1_whole_worker_killed(stack_factory, broker):
    # given: events in flight through a slow OMS
    stack = stack_factory(broker)
    stack.control.faults(oms={"latency_ms": 100})
    stack.start_worker(concurrency=4)
    stack.start_beat()
    accepted = _post_all(stack, _orders("kill", EVENTS))
    time.sleep(2.0)

    # when: the whole worker dies at once and a new one starts
    killed_at = time.monotonic()
    kill_group(stack.worker)
    stack.start_worker(concurrency=4)
    stack.wait_delivered(accepted, timeout=240)
    recovery = time.monotonic() - killed_at
    stack.settle()

    # then
    result = stack.outcome("1 worker killed", accepted, recovery_s=round(recovery, 1),
                           visibility_timeout_s=int(stack.env["VTEXCT_VISIBILITY_TIMEOUT"]))
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["failure_store"] == 0


@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_2_prefork_child_killed(stack_factory, broker):
    stack = stack_factory(broker)
    stack.control.faults(oms={"latency_ms": 1500})
    stack.start_worker(concurrency=2)
    accepted = _post_all(stack, ["genchild00001-01"])

    victim = kill_running_child(stack, "orders.handle_status_change")
    stack.control.faults(oms={"latency_ms": 0})
    stack.wait_delivered(accepted, timeout=60)
    stack.settle()

    result = stack.outcome("2 prefork child killed", accepted, killed_pid=victim)
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["failure_store"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_3_redis_restart_while_hooks_arrive(stack_factory, broker):
    # given: Redis with AOF (everysec), hooks arriving steadily
    stack = stack_factory(broker, appendonly=True)
    stack.start_worker(concurrency=4)
    stack.supervise_worker()
    orders = _orders("restart", 300 if FULL else 150)
    answers: dict[str, int] = {}

    def send_all():
        for order in orders:
            answers[order] = stack.post(order)
            time.sleep(0.04)

    # when: Redis restarts in the middle
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send_all)
        time.sleep(2.0)
        stack.redis.stop()
        time.sleep(2.0)
        stack.redis.start()
        sending.result()
    accepted = [o for o, code in answers.items() if code == 200]
    stack.wait_delivered(accepted, timeout=240)
    stack.settle()

    # then: every 200 was delivered; what arrived during the outage got 503
    refused = Counter(code for code in answers.values() if code != 200)
    result = stack.outcome("3 redis restart", accepted, answered_503=refused.get(503, 0),
                           other_answers=sum(n for c, n in refused.items() if c != 503),
                           worker_restarts=stack.restarts)
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert set(refused) <= {503} and refused.get(503, 0) > 0


def test_4_clevertap_down_then_back(stack_factory):
    stack = stack_factory()
    stack.start_worker(concurrency=4)
    stack.start_beat()
    stack.control.faults(clevertap={"error_rate": 1.0})
    accepted = _post_all(stack, _orders("ctdown", EVENTS))

    time.sleep(OUTAGE_S)
    stack.control.faults(clevertap={"error_rate": 0.0})
    after = stack.wait_delivered(accepted, timeout=120)
    stack.settle()

    result = stack.outcome("4 clevertap down", accepted, outage_s=OUTAGE_S, delivered_s_after_recovery=round(after, 1),
                           retry_window_h=24)
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["failure_store"] == 0


def test_5_clevertap_429s_and_partial_results(stack_factory):
    # One event per request and no batch window: many uploads at once, so CleverTap's cap bites.
    stack = stack_factory(VTEXCT_CLEVERTAP_BATCH_WAIT_MS="0", VTEXCT_CLEVERTAP_BATCH_SIZE="2")
    # CleverTap answers 429 beyond 2 concurrent requests, and some records come back unprocessed.
    stack.control.faults(clevertap={"max_concurrency": 2, "latency_ms": 300})
    orders = _orders("partial", 80)
    for order in orders[:10]:
        stack.control.reject_event(ACCOUNT, order, [555])  # retryable once, then accepted
    for order in orders[10:15]:
        stack.control.reject_event(ACCOUNT, order, [512])  # refused for good
    stack.start_worker(concurrency=8)
    accepted = _post_all(stack, orders)

    stack.wait_delivered([o for o in accepted if o not in orders[10:15]], timeout=120)
    stack.settle()

    counts = stack.event_counts()
    parked = {f.kwargs["order_id"]: f.code for f in stack.failures()}
    result = stack.outcome("5 clevertap 429s and partials", accepted,
                           clevertap_429s=stack.control.stats()["counts"].get("clevertap:429", 0),
                           max_in_flight=stack.control.stats()["max_in_flight"])
    assert all(counts[o] == 1 or parked.get(o) for o in accepted)
    assert parked == {o: 512 for o in orders[10:15]}
    assert result["duplicates"] == 0 and result["lost"] == 0 and result["clevertap_429s"] > 0


def test_6_vtex_slow_and_failing(stack_factory):
    stack = stack_factory()
    # OMS answers after 10 s (past the 3 s client timeout) and a fifth of the time with 500.
    stack.control.faults(oms={"latency_ms": 10_000, "error_rate": 0.2, "error_status": 500})
    stack.start_worker(concurrency=8)
    accepted = _post_all(stack, _orders("slow", 20))
    missing = _post_all(stack, ["v404missing-01"])

    time.sleep(8)
    stack.control.faults(oms={"latency_ms": 50, "error_rate": 0.2, "error_status": 500})
    stack.wait_delivered(accepted, timeout=120)
    stack.settle()

    parked = stack.failures()
    result = stack.outcome("6 vtex slow", accepted, oms_500s=stack.control.stats()["counts"].get("oms:500", 0))
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert [(f.kwargs["order_id"], f.reason) for f in parked] == [(missing[0], "not_found")]
    assert "HTTP 404" in parked[0].message


@pytest.mark.slow
def test_7_catalog_worker_killed_mid_sync(stack_factory):
    stack = stack_factory()
    spec = CatalogSpec(size=600, inactive_rate=0.05, failing_rate=0.0)
    stack.control.catalog(ACCOUNT, spec.size, spec.inactive_rate, spec.failing_rate)
    stack.control.faults(catalog_sku={"latency_ms": 30})
    stack.start_worker(concurrency=4)
    admin = {"Authorization": f"Bearer {ACCOUNT_ENV['VTEXCT_ADMIN_TOKEN']}"}
    run_id = requests.post(stack.url + "/catalog/sync", headers=admin, timeout=10).json()["run_id"]

    kill_running_child(stack, "catalog.fetch_chunk")
    time.sleep(0.5)
    killed_at = time.monotonic()
    kill_group(stack.worker)
    stack.start_worker(concurrency=4)
    run = {}

    def ended():
        run.update(requests.get(f"{stack.url}/catalog/sync/{run_id}", headers=admin, timeout=5).json())
        return run.get("state") in ("succeeded", "failed")

    wait_until(ended, 180, "the catalog run to end", interval=0.5)
    completions = stack.control.catalog_completions()
    rows = list(csv.reader(io.StringIO(stack.control.s3_object(completions[-1]["key"]).decode(), newline="")))
    expected = [list(r) for r in (sku_row(make_sku(i, active=spec.is_active(i), store=ACCOUNT))
                                  for i in range(1, spec.size + 1)) if r]

    result = {"scenario": "7 catalog worker killed", "broker": "redis", "state": run["state"],
              "uploads": len(completions), "rows": len(rows) - 1, "expected_rows": len(expected),
              "duplicated_rows": len(rows) - 1 - len({r[0] for r in rows[1:]}),
              "recovery_s": round(time.monotonic() - killed_at, 1)}
    record(result)
    assert run["state"] == "succeeded" and len(completions) == 1
    assert rows[1:] == expected


def test_8_reconciler_finds_a_message_lost_by_the_broker(stack_factory):
    stack = stack_factory(VTEXCT_RECONCILE_GRACE_MINUTES="0.05", VTEXCT_RECONCILE_INTERVAL_S="2")
    accepted = _post_all(stack, ["genlost00001-01", "genlost00002-01"])

    # the first message vanishes from the broker before any worker sees it
    broker = redis.Redis.from_url(stack.broker_url)
    lost = broker.rpop("orders")
    stack.start_worker(concurrency=2)
    stack.start_beat()
    recovered = stack.wait_delivered(accepted, timeout=60)
    stack.settle()

    result = stack.outcome("8 reconciliation", accepted, removed_by_hand=1 if lost else 0,
                           recovered_in_s=round(recovered, 1))
    assert lost and result["lost"] == 0 and result["duplicates"] == 0 and result["failure_store"] == 0

