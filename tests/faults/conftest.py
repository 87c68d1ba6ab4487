"""The fault-injection suite: each scenario gets a fresh stack of real processes, hurts it, and
checks what the sandbox's CleverTap received.

The quick scenarios run with the rest of the tests; the slow ones (marked ``slow``) with
``./dev.sh test tests/faults -m "slow or not slow"``. Sizes are quick unless
``VTEXCT_FAULTS=full`` (500 events, a 60-second CleverTap outage). Every scenario prints one
JSON line of results, and the session writes them all to ``faults-report.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
import requests

from shared.devstack import (Child, RabbitVhost, RedisServer, broker_idle, free_port, spawn, start_receiver,
                             start_worker, wait_until)
from shared.failures import FailureStore
from shared.names import Queue
from shared.sandbox import Sandbox, SandboxAccount, SandboxControl
from tests.conftest import ACCOUNT_ENV

ACCOUNT = ACCOUNT_ENV["VTEXCT_VTEX_ACCOUNT"]
FULL = os.environ.get("VTEXCT_FAULTS") == "full"
QUEUES = [q.value for q in Queue]
RESULTS: list[dict] = []


def pytest_collection_modifyitems(items):
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session):
    if RESULTS:
        Path("faults-report.json").write_text(json.dumps(RESULTS, indent=2))


def record(result: dict) -> dict:
    print(json.dumps(result))
    RESULTS.append(result)
    return result


class FaultStack:
    """redis-server (AOF when asked), the sandbox, the receiver, a worker, beat; all restartable."""

    def __init__(self, tmp: Path, broker: str, *, appendonly: bool = False, **env: str) -> None:
        self.tmp = tmp
        self.broker = broker
        self.redis = RedisServer(tmp / "redis", appendonly=appendonly).start()
        try:
            self._setup(tmp, broker, env)
        except BaseException:
            self.redis.stop()
            raise

    def _setup(self, tmp: Path, broker: str, env: dict[str, str]) -> None:
        self.vhost = RabbitVhost().create() if broker == "amqp" else None
        creds = SandboxAccount(ACCOUNT, ACCOUNT_ENV["VTEXCT_VTEX_APP_KEY"], ACCOUNT_ENV["VTEXCT_VTEX_APP_TOKEN"],
                               ACCOUNT_ENV["VTEXCT_CLEVERTAP_ACCOUNT_ID"], ACCOUNT_ENV["VTEXCT_CLEVERTAP_PASSCODE"])
        self.sandbox = Sandbox([creds]).start()
        self.control = SandboxControl(self.sandbox.url)
        self.broker_url = self.vhost.url() if self.vhost else self.redis.url(0)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VTEXCT_")},
            **ACCOUNT_ENV,
            "VTEXCT_BROKER_URL": self.broker_url,
            "VTEXCT_REDIS_URL": self.redis.url(1),
            "VTEXCT_VTEX_BASE_URL": self.sandbox.vtex_base_url,
            "VTEXCT_CLEVERTAP_BASE_URL": self.sandbox.clevertap_base_url,
            "VTEXCT_STORE_URL": "https://teststore.example.com",
            "VTEXCT_LOG_FORMAT": "json",
            # A short visibility timeout, so that a killed worker's messages come back within the test.
            "VTEXCT_VISIBILITY_TIMEOUT": "20",
            "VTEXCT_TASK_TIME_LIMIT": "10",
            "VTEXCT_CATALOG_TASK_TIME_LIMIT": "10",
            "VTEXCT_RETRY_BACKOFF_BASE": "0.2",
            "VTEXCT_RETRY_BACKOFF_MAX": "1",
            "VTEXCT_HTTP_TIMEOUT": "3",
            "VTEXCT_CLEVERTAP_BATCH_WAIT_MS": "100",
            "VTEXCT_CATALOG_CHUNK_SIZE": "50",
            "VTEXCT_CATALOG_FETCH_THREADS": "4",
            **env,
        }
        self.receiver, self.url = start_receiver(self.env, tmp / "logs", workers=1, threads=4)
        self.worker: Child | None = None
        self.beat: Child | None = None
        self._workers = 0
        self._stopping = False
        self.restarts = 0

    # -- processes --------------------------------------------------------------------------------

    def start_worker(self, concurrency: int = 4) -> Child:
        self._workers += 1
        self.worker = start_worker(self.env, self.tmp / "logs", queues=",".join(QUEUES),
                                   name=f"fault{self._workers}", concurrency=concurrency)
        return self.worker

    def supervise_worker(self) -> None:
        """Restart the worker whenever it exits, as compose's restart policy or Kubernetes would.

        kombu 5.7 can crash the worker ("Unrecoverable error: AttributeError ... 'hostname'")
        while it closes a Redis connection that the server dropped; production runs workers
        under a supervisor, so this scenario does too.
        """
        self.restarts = 0

        def watch() -> None:
            while not self._stopping:
                if self.worker is not None and not self.worker.alive():
                    self.restarts += 1
                    self.start_worker()
                time.sleep(0.5)

        threading.Thread(target=watch, daemon=True).start()

    def start_beat(self) -> Child:
        self.beat = spawn("beat", [sys.executable, "-m", "celery", "-A", "workers", "beat", "--schedule",
                                   str(self.tmp / "beat-schedule"), "--loglevel", "INFO"], self.env, self.tmp / "logs")
        return self.beat

    def stop(self) -> None:
        self._stopping = True
        for child in (self.beat, self.worker, self.receiver):
            if child:
                child.stop(timeout=15)
        self.sandbox.stop()
        self.redis.stop()
        if self.vhost:
            self.vhost.delete()

    # -- load and observations ----------------------------------------------------------------------

    def post(self, order_id: str, state: str = "payment-approved") -> int:
        body = {"Domain": "Marketplace", "OrderId": order_id, "State": state, "LastState": "x",
                "CurrentChange": "2026-11-27T10:02:13.1234567Z",
                "Origin": {"Account": ACCOUNT, "Key": ACCOUNT_ENV["VTEXCT_VTEX_APP_KEY"]}}
        try:
            return requests.post(self.url + "/hooks/vtex/orders", json=body, timeout=5,
                                 headers={"X-Hook-Secret": ACCOUNT_ENV["VTEXCT_HOOK_SECRET"]}).status_code
        except requests.RequestException:
            return 0

    def event_counts(self) -> Counter[str]:
        return Counter(e["evtData"]["order_id"] for e in self.control.events(ACCOUNT))

    def failures(self) -> list:
        return list(FailureStore(redis.Redis.from_url(self.redis.url(1), decode_responses=True)).iter(ACCOUNT))

    def wait_delivered(self, orders: list[str], timeout: float) -> float:
        """Seconds until every order's event arrived (raises on timeout)."""
        started = time.monotonic()
        wait_until(lambda: set(orders) <= set(self.event_counts()), timeout, f"{len(orders)} events", interval=0.5)
        return time.monotonic() - started

    def settle(self, timeout: float = 60) -> None:
        wait_until(lambda: broker_idle(self.broker_url, QUEUES), timeout, "the queues to drain", interval=0.5)
        time.sleep(1.0)

    def outcome(self, scenario: str, accepted: list[str], **extra) -> dict:
        counts = self.event_counts()
        failed = self.failures()
        return record({
            "scenario": scenario, "broker": self.broker, "accepted": len(accepted),
            "delivered": sum(1 for o in accepted if counts[o] >= 1),
            "lost": sum(1 for o in accepted if counts[o] == 0 and not any(f.kwargs.get("order_id") == o
                                                                         for f in failed)),
            "duplicates": sum(n - 1 for n in counts.values() if n > 1),
            "failure_store": len(failed), **extra,
        })


@pytest.fixture
def stack_factory(tmp_path):
    made: list[FaultStack] = []

    def make(broker: str = "redis", **kwargs) -> FaultStack:
        stack = FaultStack(tmp_path / f"stack{len(made)}", broker, **kwargs)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()


def kill_group(child: Child) -> None:
    """SIGKILL the parent and every child at once, as a crashed container would be."""
    child.kill()


def kill_running_child(stack: FaultStack, task_name: str, timeout: float = 20) -> int:
    """SIGKILL the prefork child that runs ``task_name`` right now; returns its pid."""
    from celery import Celery

    inspector = Celery(broker=stack.broker_url, set_as_current=False).control.inspect(timeout=1)
    victims: list[int] = []

    def running() -> bool:
        for tasks in (inspector.active() or {}).values():
            victims.extend(t["worker_pid"] for t in tasks if t["name"] == task_name)
        return bool(victims)

    wait_until(running, timeout, f"{task_name} to be running", interval=0.1)
    os.kill(victims[0], signal.SIGKILL)
    return victims[0]


__all__ = ["FULL", "FaultStack", "free_port", "kill_group", "kill_running_child", "subprocess"]
