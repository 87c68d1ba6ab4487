"""The real stack for integration tests: a private redis-server, the sandbox over loopback,
gunicorn running the receiver and a prefork Celery worker, started once per session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis
import requests

from shared.devstack import RabbitVhost, RedisServer, broker_idle, start_receiver, start_worker, wait_until
from shared.failures import Failure, FailureStore
from shared.names import Queue
from shared.sandbox import Sandbox, SandboxAccount, SandboxControl
from tests.conftest import ACCOUNT_ENV

ACCOUNT = ACCOUNT_ENV["VTEXCT_VTEX_ACCOUNT"]
QUEUES = [q.value for q in Queue]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox():
    creds = SandboxAccount(ACCOUNT, ACCOUNT_ENV["VTEXCT_VTEX_APP_KEY"], ACCOUNT_ENV["VTEXCT_VTEX_APP_TOKEN"],
                           ACCOUNT_ENV["VTEXCT_CLEVERTAP_ACCOUNT_ID"], ACCOUNT_ENV["VTEXCT_CLEVERTAP_PASSCODE"])
    running = Sandbox([creds]).start()
    yield running
    running.stop()


# The broker under test: redis (the default) or amqp (RabbitMQ on 127.0.0.1:5672, a vhost of its own).
BROKER = os.environ.get("VTEXCT_TEST_BROKER", "redis")


@pytest.fixture(scope="session")
def broker_url(redis_server):
    if BROKER == "redis":
        yield redis_server.url(0)
        return
    assert BROKER == "amqp", f"VTEXCT_TEST_BROKER must be redis or amqp, not {BROKER!r}"
    vhost = RabbitVhost().create()
    yield vhost.url()
    vhost.delete()


@pytest.fixture(scope="session")
def stack_env(redis_server, sandbox, broker_url):
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("VTEXCT_")},
        **ACCOUNT_ENV,
        "VTEXCT_BROKER_URL": broker_url,
        "VTEXCT_REDIS_URL": redis_server.url(1),
        "VTEXCT_VTEX_BASE_URL": sandbox.vtex_base_url,
        "VTEXCT_CLEVERTAP_BASE_URL": sandbox.clevertap_base_url,
        "VTEXCT_STORE_URL": "https://teststore.example.com",
        # Fast retries keep the suite short; the policy itself is unit-tested.
        "VTEXCT_RETRY_BACKOFF_BASE": "0.1",
        "VTEXCT_RETRY_BACKOFF_MAX": "0.5",
        "VTEXCT_RETRY_MAX_ATTEMPTS": "4",
        "VTEXCT_TASK_TIME_LIMIT": "30",
        "VTEXCT_CATALOG_TASK_TIME_LIMIT": "40",
        "VTEXCT_CATALOG_CHUNK_SIZE": "50",
        "VTEXCT_CATALOG_FETCH_THREADS": "4",
        "VTEXCT_VISIBILITY_TIMEOUT": "60",
        "VTEXCT_CLEVERTAP_BATCH_WAIT_MS": "100",
        "VTEXCT_LOG_FORMAT": "json",
    }


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


class Worker:
    """The session's Celery worker; a test may stop it and start it again."""

    def __init__(self, env: dict[str, str], log_dir) -> None:
        self.env, self.log_dir, self.child = env, log_dir, None

    def start(self) -> None:
        self.child = start_worker(self.env, self.log_dir, queues=",".join(QUEUES), name="itest", concurrency=2)

    def stop(self) -> None:
        if self.child:
            self.child.stop()
            self.child = None


@pytest.fixture(scope="session")
def worker(stack_env, log_dir):
    handle = Worker(stack_env, log_dir)
    handle.start()
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def receiver_url(stack_env, log_dir):
    child, url = start_receiver(stack_env, log_dir, workers=1, threads=4)
    yield url
    child.stop()


@pytest.fixture(scope="session")
def publisher(stack_env):
    """Publishes by task name with the stack's own Celery configuration, as the receiver does."""
    from unittest import mock

    from shared.publisher import CeleryPublisher
    from shared.settings import load_settings

    with mock.patch.dict(os.environ, stack_env, clear=True):
        settings = load_settings()
    return CeleryPublisher(settings)


@pytest.fixture
def control(sandbox):
    control = SandboxControl(sandbox.url)
    yield control
    control.reset()


@pytest.fixture(scope="session")
def state(redis_server):
    return redis.Redis.from_url(redis_server.url(1), decode_responses=True)


@pytest.fixture
def failures(state):
    return FailureStore(state)


@pytest.fixture
def settle(broker_url):
    """Wait until the broker holds no message for any queue, then a little longer."""

    def wait(timeout: float = 30.0) -> None:
        wait_until(lambda: broker_idle(broker_url, QUEUES), timeout, "the queues to drain", interval=0.2)
        time.sleep(0.3)

    return wait


def dump_keys(state: redis.Redis, pattern: str) -> str:
    """Everything stored under ``pattern``, whatever the key types, as one text to search."""
    readers = {"hash": state.hgetall, "string": state.get, "zset": lambda k: state.zrange(k, 0, -1),
               "list": lambda k: state.lrange(k, 0, -1), "set": state.smembers}
    return "\n".join(f"{key}: {readers[state.type(key)](key)}" for key in state.scan_iter(pattern))


def vtexct(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the ``vtexct`` CLI as ops would, against the test stack."""
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def hook_body(order_id: str, state: str = "payment-approved") -> dict:
    return {"Domain": "Marketplace", "OrderId": order_id, "State": state, "LastState": "approve-payment",
            "LastChange": "2026-11-27T10:02:11.7010747Z", "CurrentChange": "2026-11-27T10:02:13.1234567Z",
            "Origin": {"Account": ACCOUNT, "Key": ACCOUNT_ENV["VTEXCT_VTEX_APP_KEY"]}}


def post_hook(url: str, body: dict, **headers: str) -> requests.Response:
    return requests.post(url + "/hooks/vtex/orders", json=body, timeout=5,
                         headers={"X-Hook-Secret": ACCOUNT_ENV["VTEXCT_HOOK_SECRET"], **headers})


def events_for(control: SandboxControl, order_id: str) -> list[dict]:
    return [e for e in control.events(ACCOUNT) if e["evtData"]["order_id"] == order_id]


def wait_for_failure(store: FailureStore, match: Callable[[Failure], bool], timeout: float = 30.0) -> Failure:
    found: list[Failure] = []

    def present() -> bool:
        found[:] = [f for f in store.iter(ACCOUNT) if match(f)]
        return bool(found)

    wait_until(present, timeout, "a matching failure-store entry", interval=0.1)
    return found[0]
