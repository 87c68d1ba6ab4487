"""Ops on the real stack: the failure store's commands, requeue with workers down, status, metrics,
Flower, and secrets staying out of everything ops can see."""

import json
import sys
import time

import pytest
import requests

from shared.devstack import free_port, spawn, wait_until
from shared.failures import FailureStore
from shared.sandbox.factory import make_order
from tests.conftest import ACCOUNT_ENV
from tests.integration.conftest import ACCOUNT, dump_keys, events_for, hook_body, post_hook, vtexct, wait_for_failure

SENTINELS = {name: value for name, value in ACCOUNT_ENV.items() if "SENTINEL" in value}
FLOWER_AUTH = tuple(ACCOUNT_ENV["VTEXCT_FLOWER_BASIC_AUTH"].split(":", 1))


@pytest.fixture(scope="module")
def flower_url(stack_env, log_dir, tmp_path_factory):
    port = free_port()
    db = tmp_path_factory.mktemp("flower") / "flower.db"
    child = spawn("flower", [sys.executable, "-m", "shared.cli", "flower", "--address", "127.0.0.1",
                             "--port", str(port), "--db", str(db)], stack_env, log_dir)
    url = f"http://127.0.0.1:{port}"

    def up():
        assert child.alive(), child.log_tail()
        try:
            return requests.get(url + "/healthcheck", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, 30, "Flower")
    yield url
    child.stop()


def _failing_event(control, receiver_url, failures, order_id):
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, order_id)])
    control.faults(clevertap={"script": [401]})
    post_hook(receiver_url, hook_body(order_id))
    return wait_for_failure(failures, lambda f: f.kwargs.get("order_id") == order_id)


@pytest.mark.usefixtures("worker", "flower_url")
def test_failure_list_requeue_delivers_once(receiver_url, control, failures, stack_env, settle):
    # given: a wrong passcode (CleverTap 401) parks the event
    entry = _failing_event(control, receiver_url, failures, "v2001ops-01")
    settle()

    # when: ops look, fix the cause (the sandbox answers 200 again) and requeue
    listed = vtexct(stack_env, "failed", "list", "--json", "--reason", "upstream_rejected")
    shown = vtexct(stack_env, "failed", "show", entry.id)
    requeued = vtexct(stack_env, "failed", "requeue", entry.id)
    wait_until(lambda: events_for(control, "v2001ops-01"), 20, "the requeued event")
    settle()

    # then
    assert entry.task == "clevertap.upload_event" and entry.reason == "upstream_rejected"
    assert entry.id in [e["id"] for e in json.loads(listed.stdout)]
    assert json.loads(shown.stdout)["message"].startswith("clevertap POST /1/upload: HTTP 401")
    assert requeued.returncode == 0 and "requeued 1" in requeued.stdout
    assert len(events_for(control, "v2001ops-01")) == 1
    assert failures.get(entry.id) is None

    # and: requeueing work that was delivered in the meantime sends nothing again
    failures.record(task=entry.task, account=entry.account, kwargs=entry.kwargs, reason="test", error_type="T",
                    message="m", attempts=1, task_id="t")
    assert vtexct(stack_env, "failed", "requeue", "--all", "--reason", "test").returncode == 0
    settle()
    assert len(events_for(control, "v2001ops-01")) == 1


def test_requeue_while_workers_are_down_keeps_counting_attempts(worker, receiver_url, control, failures,
                                                                 stack_env, settle, publisher):
    first = _failing_event(control, receiver_url, failures, "v2002ops-01")
    settle()
    worker.stop()
    try:
        control.faults(clevertap={"script": [401]})
        requeued = vtexct(stack_env, "failed", "requeue", first.id)
        waiting = publisher.queue_lengths()["clevertap"]
    finally:
        worker.start()
    again = wait_for_failure(failures, lambda f: f.kwargs.get("order_id") == "v2002ops-01")
    settle()

    assert requeued.returncode == 0 and waiting == 1
    assert (again.id, again.attempts, again.times_failed) == (first.id, 2, 2)
    assert again.first_failed_at == first.first_failed_at < again.last_failed_at
    assert vtexct(stack_env, "failed", "requeue", again.id).returncode == 0
    wait_until(lambda: events_for(control, "v2002ops-01"), 20, "the event")
    settle()
    assert len(events_for(control, "v2002ops-01")) == 1


@pytest.mark.usefixtures("worker")
def test_status_and_metrics(receiver_url, control, stack_env, settle, failures):
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v2003ops-01")])
    post_hook(receiver_url, hook_body("v2003ops-01"))
    wait_until(lambda: events_for(control, "v2003ops-01"), 20, "the event")
    settle()

    status = vtexct(stack_env, "status", "--json")
    text = vtexct(stack_env, "status")
    metrics = requests.get(receiver_url + "/metrics", timeout=5)

    data = json.loads(status.stdout)
    assert set(data["queues"]) == {"orders", "profiles", "clevertap", "catalog"}
    mine = data["accounts"][ACCOUNT]
    assert mine["delivered"]["last_hour"] >= 1 and mine["delivered"]["last_day"] >= mine["delivered"]["last_hour"]
    assert sum(mine["failures"].values()) == len(list(failures.iter(ACCOUNT)))
    assert f"{ACCOUNT}\n  delivered:" in text.stdout
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    body = metrics.text
    assert f'vtexct_hooks_total{{account="{ACCOUNT}",outcome="accepted"}}' in body
    assert 'vtexct_source_up{source="broker"} 1.0' in body and 'vtexct_source_up{source="state_store"} 1.0' in body
    assert f'vtexct_enqueue_seconds_bucket{{account="{ACCOUNT}",le="+Inf"}}' in body
    assert 'vtexct_queue_length{queue="orders"}' in body
    assert f'vtexct_events_delivered_last_hour{{account="{ACCOUNT}"}}' in body


def test_flower_refuses_to_start_without_auth(stack_env):
    env = {k: v for k, v in stack_env.items() if k != "VTEXCT_FLOWER_BASIC_AUTH"}

    refused = vtexct(env, "flower", "--port", "1")

    assert refused.returncode == 2 and "VTEXCT_FLOWER_BASIC_AUTH" in refused.stderr


def test_secrets_stay_out_of_task_messages_and_error_bodies(worker, receiver_url, publisher, broker_url):
    # given: a message waiting in the broker, read as any consumer would read it
    worker.stop()
    try:
        post_hook(receiver_url, hook_body("v2006ops-01"))
        with publisher._app.connection_for_write() as conn, conn.channel() as channel:
            # The app's own Queue declaration, so a quorum queue on RabbitMQ is read as declared.
            message = publisher._app.amqp.queues["orders"](channel).get(no_ack=False)
            raw = json.dumps({"body": message.body.decode() if isinstance(message.body, bytes) else message.body,
                              "headers": message.headers, "properties": message.properties}, default=str)
            message.requeue()
    finally:
        worker.start()
    errors = [requests.post(receiver_url + "/hooks/vtex/orders", data=b"{", timeout=5,
                            headers={"Content-Type": "application/json", "X-Hook-Secret": "wrong"}).text,
              post_hook(receiver_url, {**hook_body("v2007ops-01"), "Origin": {"Account": ACCOUNT, "Key": "x"}}).text,
              requests.post(receiver_url + "/catalog/sync", headers={"Authorization": "Bearer nope"}, timeout=5).text]

    assert "v2006ops-01" in raw
    for name, secret in SENTINELS.items():
        assert secret not in raw, f"{name} in a task message"
        assert all(secret not in body for body in errors), f"{name} in an error body"


@pytest.mark.usefixtures("worker")
def test_secrets_stay_out_of_flower_logs_and_the_failure_store(flower_url, receiver_url, control, failures,
                                                              state, log_dir, settle):
    _failing_event(control, receiver_url, failures, "v2004ops-01")
    control.add_orders(ACCOUNT, [make_order(ACCOUNT, "v2005ops-01")])
    post_hook(receiver_url, hook_body("v2005ops-01"))
    wait_until(lambda: events_for(control, "v2005ops-01"), 20, "the event")
    settle()
    time.sleep(1.5)  # Flower folds events in on its own schedule

    tasks = requests.get(flower_url + "/api/tasks", auth=FLOWER_AUTH, timeout=10)
    unauthorized = requests.get(flower_url + "/api/tasks", timeout=10)
    flower_text = tasks.text + "".join(
        requests.get(f"{flower_url}/api/task/info/{tid}", auth=FLOWER_AUTH, timeout=10).text
        for tid in list(tasks.json())[:20])
    store_text = dump_keys(state, "vtexct:*failures*")
    logs_text = "\n".join(p.read_text(errors="replace") for p in log_dir.rglob("*.log"))

    assert tasks.status_code == 200 and unauthorized.status_code == 401
    assert "v2005ops-01" in flower_text and "v2004ops-01" in store_text and "v2005ops-01" in logs_text
    for name, secret in SENTINELS.items():
        assert secret not in flower_text, f"{name} in Flower"
        assert secret not in store_text, f"{name} in the failure store"
        assert secret not in logs_text, f"{name} in the logs"
