"""Orders end to end: hooks at a fixed rate into the receiver, to CleverTap in the sandbox.

    python -m bench.orders_e2e [--rate 100] [--seconds 60] [--pool prefork] [--concurrency 16]

The sandbox answers OMS, Master Data and CleverTap after 50 ms, enforces OMS at 6,000/min and
CleverTap at 15 concurrent requests (429 beyond). Reports delivered/s, delivery latency p50/p99
(hook accepted -> CleverTap received), lost, duplicates and failure-store entries, and in the
same run the seed's way (one event at a time in one process, one record per request) on the
same sandbox. Targets: >= 95 orders/s, p99 <= 2 s, nothing lost or duplicated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
import requests

from bench.stack import ACCOUNT, account_from_env, bench_env, children, cpu_seconds, emit, git_revision, peak_rss_kb, start_sandbox
from shared.clients.clevertap import CleverTapClient
from shared.clients.vtex import VtexClient
from shared.devstack import RedisServer, broker_idle, start_receiver, start_worker, wait_until
from shared.failures import FailureStore
from shared.names import Queue
from shared.orders.mapping import EventOptions, build_event_record
from shared.sandbox import SandboxControl


def _hook(order_id: str, env: dict[str, str]) -> dict[str, Any]:
    return {"Domain": "Marketplace", "OrderId": order_id, "State": "payment-approved", "LastState": "approve-payment",
            "LastChange": "2026-11-27T10:02:11.7010747Z", "CurrentChange": "2026-11-27T10:02:13.1234567Z",
            "Origin": {"Account": ACCOUNT, "Key": env["VTEXCT_VTEX_APP_KEY"]}}


def drive(url: str, env: dict[str, str], rate: float, seconds: float, run: str) -> dict[str, float]:
    """POST one new order's hook every 1/rate s; return each accepted order's accept time."""
    accepted: dict[str, float] = {}
    refused = Counter()
    local = threading.local()
    headers = {"X-Hook-Secret": env["VTEXCT_HOOK_SECRET"]}

    def post(order_id: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            answer = session.post(url + "/hooks/vtex/orders", json=_hook(order_id, env), headers=headers, timeout=5)
        except requests.RequestException as exc:
            refused[type(exc).__name__] += 1
            return
        if answer.status_code == 200:
            accepted[order_id] = time.time()
        else:
            refused[str(answer.status_code)] += 1

    total = int(rate * seconds)
    start = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, f"gen{run}{n:06d}-01")
    if refused:
        print(f"refused hooks: {dict(refused)}", file=sys.stderr)
    return accepted


def seed_way(env: dict[str, str], orders: int) -> dict[str, Any]:
    """One event at a time in one process, one record per request: the seed's algorithm."""
    account = account_from_env(env)
    vtex, clevertap = VtexClient(account, 30), CleverTapClient(account, 30)
    started = time.monotonic()
    for n in range(orders):
        order = vtex.get_order(f"genseed{n:06d}-01")
        customer = vtex.find_customer(order["clientProfileData"]["userProfileId"]) or {}
        record = build_event_record(order, "payment-approved", datetime.now(UTC), EventOptions())
        clevertap.upload([{**record, "identity": customer.get("email", "")}])
    seconds = time.monotonic() - started
    return {"orders": orders, "seconds": round(seconds, 3), "orders_per_s": round(orders / seconds, 2)}


def measure(accepted: dict[str, float], received: list[dict[str, Any]]) -> dict[str, Any]:
    events = [r for r in received if r["record"].get("type") == "event"]
    counts = Counter(r["record"]["evtData"]["order_id"] for r in events)
    first_at: dict[str, float] = {}
    for r in events:
        oid = r["record"]["evtData"]["order_id"]
        first_at[oid] = min(first_at.get(oid, r["at"]), r["at"])
    latencies = sorted(first_at[o] - accepted[o] for o in accepted if o in first_at)
    lost = [o for o in accepted if o not in counts]
    # Throughput between the first and the last delivery: the drain at the end is latency, not rate.
    span = max(first_at.values()) - min(first_at.values()) if len(first_at) > 1 else float("nan")
    accept_span = max(accepted.values()) - min(accepted.values()) if len(accepted) > 1 else float("nan")
    return {
        "accepted": len(accepted),
        "accepted_per_s": round((len(accepted) - 1) / accept_span, 2) if len(accepted) > 1 else 0.0,
        "delivered": len(first_at),
        "delivered_per_s": round((len(first_at) - 1) / span, 2) if len(first_at) > 1 else 0.0,
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3) if latencies else None,
        "latency_max_s": round(latencies[-1], 3) if latencies else None,
        "lost": len(lost),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="hooks per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--receiver-workers", type=int, default=2)
    parser.add_argument("--seed-orders", type=int, default=100)
    parser.add_argument("--batch-wait-ms", type=int, default=200, help="VTEXCT_CLEVERTAP_BATCH_WAIT_MS")
    parser.add_argument("--log-level", default="INFO", help="VTEXCT_LOG_LEVEL of every process")
    parser.add_argument("--oms-limit", type=int, default=6000,
                        help="OMS requests/min the sandbox allows and our budget (VTEX: 6,000)")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vtexct-bench-") as tmp:
        workdir = Path(tmp)
        server = RedisServer(workdir / "redis").start()
        env = bench_env(server, VTEXCT_CATALOG_SYNC="false", VTEXCT_LOG_LEVEL=args.log_level,
                        VTEXCT_CLEVERTAP_BATCH_WAIT_MS=str(args.batch_wait_ms),
                        VTEXCT_OMS_RATE_PER_MIN=str(args.oms_limit))
        started = []
        try:
            sandbox, url = start_sandbox(env, workdir / "logs")
            started.append(sandbox)
            control = SandboxControl(url)
            latency = {"latency_ms": args.latency_ms}
            control.faults(oms={**latency, "rate_per_min": args.oms_limit}, md=latency,
                           clevertap={**latency, "max_concurrency": 15})
            receiver, receiver_url = start_receiver(env, workdir / "logs", workers=args.receiver_workers, threads=4)
            started.append(receiver)
            worker = start_worker(env, workdir / "logs", queues="orders,profiles,clevertap", name="bench",
                                  concurrency=args.concurrency, pool=args.pool)
            started.append(worker)

            groups = {
                "receiver": lambda: [receiver.process.pid, *children(receiver.process.pid)],
                "worker": lambda: [worker.process.pid, *children(worker.process.pid)],
                "sandbox": lambda: [sandbox.process.pid],
                "redis": lambda: [server.child.process.pid],
                "load_generator": lambda: [os.getpid()],
            }
            cpu_before = {name: cpu_seconds(pids()) for name, pids in groups.items()}
            load_started = time.monotonic()
            accepted = drive(receiver_url, env, args.rate, args.seconds, "e2e")
            last_hook = time.monotonic()
            # Share of the machine's cores each part used while the hooks came in.
            cores = {name: round((cpu_seconds(pids()) - cpu_before[name]) / (last_hook - load_started), 3)
                     for name, pids in groups.items()}
            queues = [q.value for q in Queue]

            def drained() -> bool:
                done = {r["record"]["evtData"]["order_id"] for r in control.received(ACCOUNT)
                        if r["record"].get("type") == "event"}
                return set(accepted) <= done or (broker_idle(server.url(0), queues)
                                                 and time.monotonic() - last_hook > 10)

            try:
                wait_until(drained, args.drain_timeout, "every accepted hook to be delivered", interval=1.0)
            except TimeoutError as exc:
                print(exc, file=sys.stderr)
            time.sleep(2)
            ours = measure(accepted, control.received(ACCOUNT))
            ours["failure_store"] = sum(1 for _ in FailureStore(
                redis.Redis.from_url(server.url(1), decode_responses=True)).iter(ACCOUNT))
            counts = control.stats()["counts"]
            ours["oms_429s"] = counts.get("oms:429", 0)
            ours["clevertap_429s"] = counts.get("clevertap:429", 0)
            ours["clevertap_requests"] = sum(v for k, v in counts.items() if k.startswith("clevertap:"))
            ours["cores_used_during_load"] = cores
            ours["peak_rss_kb"] = {
                "worker_parent": peak_rss_kb(worker.process.pid),
                "worker_children_max": max([peak_rss_kb(p) for p in children(worker.process.pid)] or [0]),
                "receiver_parent": peak_rss_kb(receiver.process.pid),
                "sandbox": peak_rss_kb(sandbox.process.pid),
            }
            seed = seed_way(env, args.seed_orders)
        finally:
            for child in reversed(started):
                child.stop()
            server.stop()

    result = {
        "benchmark": "orders_e2e",
        "revision": git_revision(),
        "params": vars(args),
        "ours": ours,
        "seed_way": seed,
        "ratio_to_seed": round(ours["delivered_per_s"] / seed["orders_per_s"], 2),
        "oms_limit_orders_per_s": round(args.oms_limit / 60, 2),
        "targets": {"delivered_per_s_min": 95, "latency_p99_s_max": 2.0, "lost": 0, "duplicates": 0},
    }
    emit(result, f"orders e2e at {args.rate:g}/s for {args.seconds:g}s: {ours['delivered_per_s']} delivered/s, "
                 f"p50 {ours['latency_p50_s']}s p99 {ours['latency_p99_s']}s, lost {ours['lost']}, "
                 f"duplicates {ours['duplicates']}, failure store {ours['failure_store']}; "
                 f"{result['ratio_to_seed']}x the seed's {seed['orders_per_s']} orders/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
