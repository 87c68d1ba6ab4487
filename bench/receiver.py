"""Receiver benchmark: accepted hooks/s and latency at 50 connections, against a floor app.

    python -m bench.receiver [--seconds 20] [--rounds 4] [--connections 50] [--workers 2] [--threads 4]

Both apps run under the same gunicorn settings (gthread); the floor only LPUSHes the raw body
to Redis. Load comes from wrk (``apt-get install wrk``). The two are measured in alternating
rounds (``seconds / rounds`` each), so that a noisy machine affects both alike. Prints JSON with
every round, the totals and the ratio; targets: >= 50% of the floor's throughput, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.stack import bench_env, emit, git_revision
from shared.devstack import RedisServer, free_port, python_module, spawn, wait_until

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk_script(path: Path, body: str, secret: str) -> Path:
    script = path / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Hook-Secret"] = "{secret}"\n')
    return script


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(match[1]) * _UNITS[match[2]] if match else float("nan")


def parse_wrk(output: str) -> dict[str, Any]:
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "requests": int(re.search(r"(\d+) requests in", output)[1]),
        "p50_ms": _ms(percentiles.get("50", "")),
        "p99_ms": _ms(percentiles.get("99", "")),
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def start_app(target: str, env: dict[str, str], args: argparse.Namespace, workdir: Path) -> tuple[Any, str]:
    port = free_port()
    child = spawn(target.split(":")[0].replace(".", "-"), python_module(
        "gunicorn", target, "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
        "--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "5",
        "--log-level", "warning"), env, workdir)
    url = f"http://127.0.0.1:{port}"
    import requests

    wait_until(lambda: _up(requests, url), 20, target)
    return child, url


def load(url: str, args: argparse.Namespace, script: Path, seconds: int) -> dict[str, Any]:
    done = subprocess.run(["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{seconds}s", "--latency",
                           "-s", str(script), url + "/hooks/vtex/orders"], capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def combine(rounds: list[dict[str, Any]], seconds: int) -> dict[str, Any]:
    """Totals over the rounds; latency percentiles are the median of the rounds' values."""
    return {
        "requests_per_s": round(sum(r["requests"] for r in rounds) / seconds, 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "rounds": rounds,
    }


def _up(requests: Any, url: str) -> bool:
    try:
        requests.get(url + "/healthz", timeout=1)
        return True
    except requests.RequestException:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20, help="per app, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="vtexct-bench-") as tmp:
        workdir = Path(tmp)
        server = RedisServer(workdir / "redis").start()
        try:
            env = bench_env(server)
            body = json.dumps({"Domain": "Marketplace", "OrderId": "v1000001bench-01", "State": "payment-approved",
                               "LastState": "approve-payment", "LastChange": "2026-11-27T10:02:11.7010747Z",
                               "CurrentChange": "2026-11-27T10:02:13.1234567Z",
                               "Origin": {"Account": env["VTEXCT_VTEX_ACCOUNT"], "Key": env["VTEXCT_VTEX_APP_KEY"]}})
            script = _wrk_script(workdir, body, env["VTEXCT_HOOK_SECRET"])
            floor_app, floor_url = start_app("bench.floor_app:application", env, args, workdir)
            our_app, our_url = start_app("receiver.wsgi:application", env, args, workdir)
            per_round = max(1, args.seconds // args.rounds)
            floor_rounds, our_rounds = [], []
            try:
                for _ in range(args.rounds):
                    floor_rounds.append(load(floor_url, args, script, per_round))
                    our_rounds.append(load(our_url, args, script, per_round))
            finally:
                floor_app.stop()
                our_app.stop()
            floor = combine(floor_rounds, per_round * args.rounds)
            ours = combine(our_rounds, per_round * args.rounds)
        finally:
            server.stop()

    result = {
        "benchmark": "receiver",
        "revision": git_revision(),
        "params": vars(args),
        "floor_lpush_only": floor,
        "receiver": ours,
        "throughput_ratio_to_floor": round(ours["requests_per_s"] / floor["requests_per_s"], 3),
        "targets": {"throughput_ratio_min": 0.5, "p99_ms_max": 50},
    }
    emit(result, f"receiver: {ours['requests_per_s']:.0f} hooks/s (p50 {ours['p50_ms']:.1f} ms, p99 "
                 f"{ours['p99_ms']:.1f} ms) = {result['throughput_ratio_to_floor']}x the LPUSH floor's "
                 f"{floor['requests_per_s']:.0f}/s (p99 {floor['p99_ms']:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
