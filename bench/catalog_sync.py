"""Catalog sync benchmark: our chord of chunk tasks against the seed's algorithm, on one sandbox store.

    python -m bench.catalog_sync                      # 20,000 SKUs, 20 ms per call, VTEX's 15,000/min
    python -m bench.catalog_sync --memory-check       # also 200,000 SKUs with the rate limit lifted

Prints JSON: wall time, SKUs/s, the ratio to the rate-limit floor (SKUs / limit), the ratio to
the seed's way (pages of 20, one SKU after another, in one process) measured in the same run on
the same sandbox, peak RSS per process and Redis's peak memory.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.stack import ACCOUNT, account_from_env, bench_env, children, emit, git_revision, peak_rss_kb, redis_peak_bytes, start_sandbox
from shared.catalog.runs import FINAL_STATES, Run, RunStore
from shared.clients.vtex import VtexClient
from shared.devstack import RedisServer, start_worker, wait_until
from shared.errors import IntegrationError
from shared.sandbox import SandboxControl

UNLIMITED = 10**8


def seed_baseline(env: dict[str, str], subset: int) -> dict[str, Any]:
    """The seed's algorithm: SKU ids 20 per page, then one SKU after another, everything in memory."""
    client = VtexClient(account_from_env(env), timeout=30)
    started = time.monotonic()
    ids: list[int] = []
    page = 1
    while len(ids) < subset:
        got = client.list_sku_ids(page, 20)
        ids += got
        if len(got) < 20:
            break
        page += 1
    rows = []
    for sku_id in ids[:subset]:
        try:
            sku = client.get_sku(sku_id)
        except IntegrationError:
            continue
        if sku.get("IsActive"):
            rows.append({"Identity": str(sku["Id"]), "Name": f"{sku.get('ProductName')} - {sku.get('SkuName')}"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["Identity", "Name"])
    writer.writeheader()
    writer.writerows(rows)
    seconds = time.monotonic() - started
    done = len(ids[:subset])
    return {"skus": done, "seconds": round(seconds, 3), "skus_per_s": round(done / seconds, 2)}


def _store(control: SandboxControl, args: argparse.Namespace, skus: int, limit: int | None) -> None:
    control.catalog(ACCOUNT, skus, args.inactive, args.failing)
    # The sandbox enforces VTEX's documented limit too: a 429 there means we went over it.
    control.faults(catalog_sku={"latency_ms": args.latency_ms, "rate_per_min": limit},
                   catalog_ids={"latency_ms": args.latency_ms, "rate_per_min": limit})


def run_seed(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = RedisServer(workdir / "redis-seed").start()
    env = bench_env(server)
    sandbox, url = start_sandbox(env, workdir / "logs-seed")
    try:
        _store(SandboxControl(url), args, args.skus, None)
        return seed_baseline(env, args.seed_subset)
    finally:
        sandbox.stop()
        server.stop()


def run_ours(args: argparse.Namespace, skus: int, rate: int, workdir: Path) -> dict[str, Any]:
    """One sync of ``skus`` SKUs through a catalog worker, started the way ops start it (the CLI)."""
    server = RedisServer(workdir / f"redis-{skus}").start()
    env = bench_env(server, VTEXCT_CATALOG_RATE_PER_MIN=str(rate), VTEXCT_CATALOG_CHUNK_SIZE=str(args.chunk),
                    VTEXCT_CATALOG_FETCH_THREADS=str(args.threads))
    started = []
    try:
        sandbox, url = start_sandbox(env, workdir / "logs")
        started.append(sandbox)
        control = SandboxControl(url)
        limit = rate if rate < UNLIMITED else None
        _store(control, args, skus, limit)
        worker = start_worker(env, workdir / "logs", queues="catalog", name=f"bench{skus}", concurrency=args.workers)
        started.append(worker)

        runs = RunStore(redis.Redis.from_url(server.url(1), decode_responses=True))
        cli = subprocess.run([sys.executable, "-m", "shared.cli", "catalog-sync", "--account", ACCOUNT],
                             env=env, capture_output=True, text=True, check=True)
        run = Run(ACCOUNT, cli.stdout.split()[-1])
        record: dict[str, Any] = {}

        def ended() -> bool:
            record.update(runs.get(run) or {})
            return record.get("state") in FINAL_STATES

        wait_until(ended, args.timeout, f"run {run.id}", interval=0.5)
        if record["state"] != "succeeded":
            raise RuntimeError(f"run failed: {record.get('error')}")
        wall = record["finished_at"] - record["started_at"]
        report = record["report"]
        counts = control.stats()["counts"]
        return {
            "skus": skus,
            "rate_limit_per_min": limit,
            "wall_s": round(wall, 3),
            "skus_per_s": round(skus / wall, 2),
            "rows": report["rows"], "inactive": report["inactive"], "failed": report["failed"],
            "csv_bytes": report.get("bytes"),
            "vtex_429s": counts.get("catalog_sku:429", 0) + counts.get("catalog_ids:429", 0),
            "peak_rss_kb": {
                "callback_process": report["assembler"]["peak_rss_kb"],
                "worker_parent": peak_rss_kb(worker.process.pid),
                "worker_children": [peak_rss_kb(pid) for pid in children(worker.process.pid)],
                "sandbox": peak_rss_kb(sandbox.process.pid),
                "redis_server": peak_rss_kb(server.child.process.pid) if server.child else 0,
            },
            "redis_used_memory_peak_bytes": redis_peak_bytes(server),
        }
    finally:
        for child in reversed(started):
            child.stop()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--inactive", type=float, default=0.05)
    parser.add_argument("--failing", type=float, default=0.005)
    parser.add_argument("--rate", type=int, default=15_000, help="VTEX catalog requests/min per endpoint")
    parser.add_argument("--seed-subset", type=int, default=1_000, help="SKUs the seed's algorithm is timed on")
    parser.add_argument("--workers", type=int, default=4, help="catalog worker processes")
    parser.add_argument("--threads", type=int, default=8, help="fetch threads per chunk task")
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--memory-check", action="store_true", help="also run 20,000 and 200,000 SKUs, no limit")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vtexct-bench-") as tmp:
        workdir = Path(tmp)
        ours = run_ours(args, args.skus, args.rate, workdir)
        seed = run_seed(args, workdir)
        floor = args.skus / (args.rate / 60)
        result: dict[str, Any] = {
            "benchmark": "catalog_sync",
            "revision": git_revision(),
            "params": {k: getattr(args, k) for k in ("skus", "latency_ms", "inactive", "failing", "rate",
                                                     "seed_subset", "workers", "threads", "chunk")},
            "ours": ours,
            "rate_limit_floor_s": round(floor, 3),
            "ratio_to_floor": round(ours["wall_s"] / floor, 4),
            "target_ratio_to_floor_max": 1.15,
            "seed_subset": seed,
            "speedup_vs_seed": round(ours["skus_per_s"] / seed["skus_per_s"], 2),
        }
        if args.memory_check:
            small = run_ours(args, 20_000, UNLIMITED, workdir)
            large = run_ours(args, 200_000, UNLIMITED, workdir)
            result["memory_check"] = {
                "unlimited_20000": small,
                "unlimited_200000": large,
                "callback_peak_rss_ratio_200k_to_20k": round(
                    large["peak_rss_kb"]["callback_process"] / small["peak_rss_kb"]["callback_process"], 3),
            }
    summary = (f"catalog sync: {args.skus} SKUs in {ours['wall_s']}s = {result['ratio_to_floor']}x the rate-limit "
               f"floor of {result['rate_limit_floor_s']}s; {result['speedup_vs_seed']}x the seed's "
               f"{seed['skus_per_s']} SKUs/s (timed on {seed['skus']} SKUs)")
    if args.memory_check:
        summary += f"; callback peak RSS 200k/20k = {result['memory_check']['callback_peak_rss_ratio_200k_to_20k']}"
    emit(result, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
