"""``vtexct demo``: the whole system against the sandbox, on this machine, in about half a minute.

It starts (or reuses) Redis, the sandbox, the receiver under gunicorn and a worker, posts a
handful of realistic VTEX hooks, and prints what CleverTap received.  It exits 0 only if
every expected event arrived exactly once.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from shared.devstack import REDIS_INSTALL_HINT, RedisServer, broker_idle, redis_answers, start_receiver, start_worker, wait_until
from shared.logs import mask_email
from shared.names import Queue
from shared.sandbox import Sandbox, SandboxAccount, SandboxControl
from shared.sandbox.factory import make_order

ACCOUNT = "demostore"


@dataclass(frozen=True)
class Hook:
    label: str
    body: dict[str, Any]
    expect_status: int


def _hook_body(order_id: str, state: str, last_state: str, app_key: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return {"Domain": "Marketplace", "OrderId": order_id, "State": state, "LastState": last_state,
            "LastChange": f"{now}.1234567Z", "CurrentChange": f"{now}.7654321Z",
            "Origin": {"Account": ACCOUNT, "Key": app_key}}


def _scenario(app_key: str) -> tuple[list[dict[str, Any]], list[Hook], dict[str, str], str]:
    """Orders for the sandbox, the hooks to post, the expected event per order, and a lagging customer."""
    run = f"{secrets.randbelow(10**7):07d}"
    approved, cancelled, abandoned, via_feed = (f"v{run}{n}dmo-01" for n in "1234")
    orders = [
        make_order(ACCOUNT, approved, items=3, coupon="BLACKFRIDAY", discount=1500),
        make_order(ACCOUNT, cancelled, items=1),
        make_order(ACCOUNT, abandoned, items=2, authorized=False, status="canceled"),
        make_order(ACCOUNT, via_feed, items=1, payments=2),
    ]
    feed_body = {"domain": "Marketplace", "orderId": via_feed, "currentState": "payment-approved",
                 "lastState": "approve-payment", "currentChangeDate": "2026-11-27T10:02:13.1234567Z"}
    hooks = [
        Hook("ping", {"hookConfig": "ping"}, 200),
        Hook("approved (Orders hook)", _hook_body(approved, "payment-approved", "approve-payment", app_key), 200),
        Hook("cancelled after approval", _hook_body(cancelled, "canceled", "cancel", app_key), 200),
        Hook("cancelled, never authorized", _hook_body(abandoned, "canceled", "cancel", app_key), 200),
        Hook("approved (Feed v3 / IO body)", feed_body, 200),
        Hook("duplicate redelivery", _hook_body(approved, "payment-approved", "approve-payment", app_key), 200),
        Hook("state not handled (invoiced)", _hook_body(approved, "invoiced", "handling", app_key), 200),
    ]
    expected = {approved: "Charged", cancelled: "Order Cancelled", abandoned: "Checkout Failed", via_feed: "Charged"}
    lagging_user = orders[2]["clientProfileData"]["userProfileId"]
    return orders, hooks, expected, lagging_user


def _redis_urls(workdir: Path, cleanup: list[Any]) -> tuple[str, str] | None:
    broker = os.environ.get("VTEXCT_BROKER_URL", "redis://localhost:6379/0")
    state = os.environ.get("VTEXCT_REDIS_URL", "redis://localhost:6379/1")
    if redis_answers(broker) and redis_answers(state):
        print(f"redis: using the one at {broker.rsplit('@', 1)[-1]}")
        return broker, state
    if RedisServer.binary() is None:
        print(REDIS_INSTALL_HINT, file=sys.stderr)
        return None
    server = RedisServer(workdir / "redis").start()
    cleanup.append(server.stop)
    print(f"redis: started a private redis-server on port {server.port}")
    return server.url(0), server.url(1)


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def run_demo(keep_logs: bool = False) -> int:
    """Run the demo; see the module docstring.  Returns the process exit code."""
    workdir = Path(tempfile.mkdtemp(prefix="vtexct-demo-"))
    log_dir = Path(".demo") if keep_logs else workdir / "logs"
    cleanup: list[Any] = []
    try:
        urls = _redis_urls(workdir, cleanup)
        if urls is None:
            return 2
        broker_url, state_url = urls
        creds = SandboxAccount(ACCOUNT, "vtexappkey-demostore-" + secrets.token_hex(3), secrets.token_urlsafe(24),
                               "DEMO-" + secrets.token_hex(4).upper(), secrets.token_urlsafe(18))
        sandbox = Sandbox([creds]).start()
        cleanup.append(sandbox.stop)
        control = SandboxControl(sandbox.url)
        print(f"sandbox: VTEX, CleverTap and S3 simulator at {sandbox.url}")

        hook_secret = secrets.token_urlsafe(24)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VTEXCT_")},
            "VTEXCT_BROKER_URL": broker_url,
            "VTEXCT_REDIS_URL": state_url,
            "VTEXCT_VTEX_ACCOUNT": ACCOUNT,
            "VTEXCT_VTEX_APP_KEY": creds.app_key,
            "VTEXCT_VTEX_APP_TOKEN": creds.app_token,
            "VTEXCT_VTEX_BASE_URL": sandbox.vtex_base_url,
            "VTEXCT_STORE_URL": "https://demostore.example.com",
            "VTEXCT_CLEVERTAP_ACCOUNT_ID": creds.clevertap_account_id,
            "VTEXCT_CLEVERTAP_PASSCODE": creds.clevertap_passcode,
            "VTEXCT_CLEVERTAP_REGION": "us1",
            "VTEXCT_CLEVERTAP_BASE_URL": sandbox.clevertap_base_url,
            "VTEXCT_HOOK_SECRET": hook_secret,
            "VTEXCT_INTEGRATION_EMAIL": "catalog@demostore.example.com",
            # Short waits so that the Master Data lag below resolves within the demo.
            "VTEXCT_RETRY_BACKOFF_BASE": "0.5",
            "VTEXCT_RETRY_BACKOFF_MAX": "5",
        }
        receiver, receiver_url = start_receiver(env, log_dir, workers=1, threads=4)
        cleanup.append(receiver.stop)
        print(f"receiver: gunicorn at {receiver_url}")
        worker = start_worker(env, log_dir, queues=",".join(q.value for q in Queue), name="demo", concurrency=2)
        cleanup.append(worker.stop)
        print("worker: celery prefork, 2 processes, queues orders, profiles, clevertap, catalog\n")

        orders, hooks, expected, lagging_user = _scenario(creds.app_key)
        control.add_orders(ACCOUNT, orders)
        control.md_lag(ACCOUNT, lagging_user, misses=2)

        rows = []
        hooks_ok = True
        for hook in hooks:
            response = requests.post(receiver_url + "/hooks/vtex/orders", json=hook.body,
                                     headers={"X-Hook-Secret": hook_secret}, timeout=5)
            answer = response.json().get("status") or response.json().get("error")
            hooks_ok &= response.status_code == hook.expect_status
            order = hook.body.get("OrderId") or hook.body.get("orderId") or ""
            rows.append([hook.label, order, str(response.status_code), answer])
        print("Hooks posted to the receiver:")
        _print_table(rows, ["hook", "order", "HTTP", "answer"])

        def arrived() -> bool:
            got = {e["evtData"]["order_id"] for e in control.events(ACCOUNT)}
            return set(expected) <= got

        try:
            wait_until(arrived, 90, "the expected CleverTap events", interval=0.25)
        except TimeoutError as exc:
            print(f"\n{exc}", file=sys.stderr)
        # Let any duplicate that is still in flight arrive before counting.
        wait_until(lambda: broker_idle(broker_url, [q.value for q in Queue]), 30, "the queues to drain", interval=0.25)
        time.sleep(1.0)

        received = control.received(ACCOUNT)
        events = [r["record"] for r in received if r["record"]["type"] == "event"]
        profiles = [r["record"] for r in received if r["record"]["type"] == "profile"]
        counts = Counter((e["evtData"]["order_id"], e["evtName"]) for e in events)
        table = []
        for order_id, name in expected.items():
            matching = [e for e in events if e["evtData"]["order_id"] == order_id]
            sample = matching[0] if matching else {"evtData": {}, "identity": ""}
            data = sample["evtData"]
            items = data.get("Items", data.get("items", []))
            table.append([order_id, name, str(counts[(order_id, name)]), mask_email(sample.get("identity") or "-"),
                          f"{data.get('value', '-')}", data.get("currency", "-"), str(len(items))])
        print("\nWhat CleverTap received (events):")
        _print_table(table, ["order", "expected event", "times", "identity", "value", "currency", "items"])
        print(f"\nprofiles received: {len(profiles)}; events received: {len(events)}; "
              f"Master Data lookups answered empty: 2 (retried)")

        unexpected = [e for e in events if e["evtData"]["order_id"] not in expected]
        exact = all(counts[(o, n)] == 1 for o, n in expected.items()) and len(events) == len(expected)
        if hooks_ok and exact and not unexpected:
            print("\nOK: every expected event arrived exactly once.")
            return 0
        print("\nFAILED: events missing or duplicated (see the table above).", file=sys.stderr)
        for child in (receiver, worker):
            print(f"--- {child.name} log tail ---\n{child.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for step in reversed(cleanup):
            step()
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
