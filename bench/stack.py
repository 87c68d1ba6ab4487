"""What every benchmark starts: a private redis-server, the sandbox in its own process, and
readings of peak memory per process."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import redis

from shared.devstack import Child, RedisServer, free_port, spawn, wait_until
from shared.sandbox import SandboxControl
from shared.settings import AccountSettings

ACCOUNT = "benchstore"


def bench_env(redis_server: RedisServer, **extra: str) -> dict[str, str]:
    """A one-account configuration with throwaway credentials; :func:`start_sandbox` adds the URLs."""
    secret = secrets.token_hex(8)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("VTEXCT_")},
        "VTEXCT_BROKER_URL": redis_server.url(0),
        "VTEXCT_REDIS_URL": redis_server.url(1),
        "VTEXCT_VTEX_ACCOUNT": ACCOUNT,
        "VTEXCT_VTEX_APP_KEY": "vtexappkey-bench",
        "VTEXCT_VTEX_APP_TOKEN": "token-" + secret,
        "VTEXCT_CLEVERTAP_ACCOUNT_ID": "BENCH-CT",
        "VTEXCT_CLEVERTAP_PASSCODE": "pass-" + secret,
        "VTEXCT_CLEVERTAP_REGION": "us1",
        "VTEXCT_HOOK_SECRET": "hook-" + secret,
        "VTEXCT_INTEGRATION_EMAIL": "bench@example.com",
        "VTEXCT_LOG_LEVEL": "WARNING",
        **extra,
    }


def account_from_env(env: dict[str, str]) -> AccountSettings:
    """The benchmark account's settings, for code that calls the APIs without a worker."""
    return AccountSettings(
        vtex_account=ACCOUNT, vtex_app_key=env["VTEXCT_VTEX_APP_KEY"], vtex_app_token=env["VTEXCT_VTEX_APP_TOKEN"],
        vtex_base_url=env["VTEXCT_VTEX_BASE_URL"], clevertap_account_id=env["VTEXCT_CLEVERTAP_ACCOUNT_ID"],
        clevertap_passcode=env["VTEXCT_CLEVERTAP_PASSCODE"], clevertap_region=env["VTEXCT_CLEVERTAP_REGION"],
        clevertap_base_url=env["VTEXCT_CLEVERTAP_BASE_URL"], hook_secret=env["VTEXCT_HOOK_SECRET"],
        catalog_sync=False)


def start_sandbox(env: dict[str, str], log_dir: Path) -> tuple[Child, str]:
    """``vtexct sandbox`` in its own process, so that it does not share a GIL with what it measures.

    It accepts the credentials in ``env``, and ``env`` gets the base URLs that point at it.
    """
    port = free_port()
    child = spawn("sandbox", [sys.executable, "-m", "shared.cli", "sandbox", "--port", str(port)], env, log_dir)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: SandboxControl(url).health(), 20, "the sandbox")
    env["VTEXCT_VTEX_BASE_URL"] = url + "/vtex/{account}"
    env["VTEXCT_CLEVERTAP_BASE_URL"] = url + "/clevertap"
    return child, url


def peak_rss_kb(pid: int) -> int:
    """The process's high-water resident set (Linux ``VmHWM``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes so far (Linux ``/proc/<pid>/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def redis_peak_bytes(server: RedisServer) -> int:
    return int(redis.Redis.from_url(server.url()).info("memory")["used_memory_peak"])


def emit(result: dict, summary: str) -> None:
    print(json.dumps(result, indent=2))
    print(summary, file=sys.stderr)


def git_revision() -> str:
    """The commit measured, with ``+dirty`` when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")
