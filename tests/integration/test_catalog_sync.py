"""Catalog sync on the real stack: admin API -> chord of chunk tasks on a prefork worker -> S3 -> CleverTap."""

import csv
import io
import os
import signal
import subprocess
import sys

import pytest
import requests
from celery import Celery

from shared.catalog.mapping import COLUMNS, sku_row
from shared.devstack import wait_until
from shared.sandbox import CatalogSpec
from shared.sandbox.factory import make_sku
from tests.conftest import ACCOUNT_ENV
from tests.integration.conftest import ACCOUNT

pytestmark = pytest.mark.usefixtures("worker")
ADMIN = {"Authorization": f"Bearer {ACCOUNT_ENV['VTEXCT_ADMIN_TOKEN']}"}


def start(receiver_url, **body):
    return requests.post(receiver_url + "/catalog/sync", json=body or None, headers=ADMIN, timeout=10)


def wait_for_end(receiver_url, run_id, timeout=60):
    record = {}

    def ended():
        record.update(requests.get(f"{receiver_url}/catalog/sync/{run_id}", headers=ADMIN, timeout=5).json())
        return record.get("state") in ("succeeded", "failed")

    wait_until(ended, timeout, f"catalog run {run_id} to end", interval=0.2)
    return record


def expected_rows(spec: CatalogSpec) -> list[list[str]]:
    rows = []
    for sku_id in range(1, spec.size + 1):
        if spec.is_failing(sku_id):
            continue
        row = sku_row(make_sku(sku_id, active=spec.is_active(sku_id), store=ACCOUNT))
        if row:
            rows.append(list(row))
    return rows


def uploaded_csv(control) -> list[list[str]]:
    key = control.catalog_completions()[-1]["key"]
    return list(csv.reader(io.StringIO(control.s3_object(key).decode("utf-8"), newline="")))


def test_full_sync_uploads_every_active_sku_once_and_reports_failures(receiver_url, control):
    # given
    spec = CatalogSpec(size=437, inactive_rate=0.05, failing_rate=0.02)
    control.catalog(ACCOUNT, spec.size, spec.inactive_rate, spec.failing_rate)

    # when
    answer = start(receiver_url)
    record = wait_for_end(receiver_url, answer.json()["run_id"])

    # then
    assert answer.status_code == 202
    assert record["state"] == "succeeded", record
    assert (record["total"], record["chunks"]) == (437, 9)
    rows = uploaded_csv(control)
    assert rows[0] == list(COLUMNS)
    assert rows[1:] == expected_rows(spec)
    failing = [i for i in range(1, 438) if spec.is_failing(i)]
    report = record["report"]
    assert failing and [sku for sku, _ in report["failed_skus"]] == failing
    assert report["failed"] == len(failing) and report["rows"] == len(rows) - 1
    # The first sync of a store: replace:true is refused, only the completion is repeated.
    [completion] = control.catalog_completions()
    assert completion["replace"] is False and completion["name"] == f"catalog_{ACCOUNT}"
    assert completion["email"] == completion["creator"] == ACCOUNT_ENV["VTEXCT_INTEGRATION_EMAIL"]
    assert control.stats()["counts"]["clevertap_catalog:400"] == 1


def test_second_sync_replaces_and_an_unchanged_one_skips_the_upload(receiver_url, control):
    control.catalog(ACCOUNT, 120, 0.0, 0.0)
    first = wait_for_end(receiver_url, start(receiver_url).json()["run_id"])
    control.catalog(ACCOUNT, 121, 0.0, 0.0)
    second = wait_for_end(receiver_url, start(receiver_url).json()["run_id"])
    third = wait_for_end(receiver_url, start(receiver_url).json()["run_id"])

    assert [r["state"] for r in (first, second, third)] == ["succeeded"] * 3
    assert [c["replace"] for c in control.catalog_completions()] == [False, True]
    assert third["report"]["upload"].startswith("skipped: unchanged since run " + second["id"])
    assert len(uploaded_csv(control)) == 122


def test_a_held_lock_keeps_a_second_trigger_out(receiver_url, control, stack_env, publisher):
    control.catalog(ACCOUNT, 300, 0.0, 0.0)
    control.faults(catalog_sku={"latency_ms": 20})
    first = start(receiver_url)
    second = start(receiver_url)
    # What beat sends every day: with the lock held it starts nothing.
    publisher.publish("catalog.sync_due_accounts", {})
    cli = subprocess.run([sys.executable, "-m", "shared.cli", "catalog-sync"], env=stack_env,
                         capture_output=True, text=True, timeout=60)
    record = wait_for_end(receiver_url, first.json()["run_id"])

    assert first.status_code == 202
    assert second.status_code == 409 and second.json()["run_id"] == first.json()["run_id"]
    assert cli.returncode == 1 and "already running" in cli.stderr
    assert record["state"] == "succeeded"
    assert len(control.catalog_completions()) == 1


def test_cli_waits_with_progress_and_reports(control, stack_env):
    control.catalog(ACCOUNT, 160, 0.05, 0.0)

    cli = subprocess.run([sys.executable, "-m", "shared.cli", "catalog-sync", "--account", ACCOUNT, "--wait"],
                         env=stack_env, capture_output=True, text=True, timeout=120)

    assert cli.returncode == 0, cli.stderr
    assert '"state": "succeeded"' in cli.stdout and "SKU" in cli.stderr


def test_chunk_killed_mid_run_still_gives_one_complete_csv(receiver_url, control, stack_env):
    spec = CatalogSpec(size=400, inactive_rate=0.05, failing_rate=0.0)
    control.catalog(ACCOUNT, spec.size, spec.inactive_rate, spec.failing_rate)
    control.faults(catalog_sku={"latency_ms": 40})
    inspector = Celery(broker=stack_env["VTEXCT_BROKER_URL"], set_as_current=False).control.inspect(timeout=1)
    run_id = start(receiver_url).json()["run_id"]
    victims = []

    def chunk_running():
        for tasks in (inspector.active() or {}).values():
            victims.extend(t["worker_pid"] for t in tasks if t["name"] == "catalog.fetch_chunk")
        return bool(victims)

    wait_until(chunk_running, 30, "a chunk task to be running", interval=0.1)
    os.kill(victims[0], signal.SIGKILL)
    record = wait_for_end(receiver_url, run_id, timeout=90)

    assert record["state"] == "succeeded", record
    rows = uploaded_csv(control)
    ids = [r[0] for r in rows[1:]]
    assert len(ids) == len(set(ids))
    assert rows[1:] == expected_rows(spec)


def test_a_long_retry_after_pauses_the_chunks_and_the_upload_waits_for_all_of_them(receiver_url, control):
    # given: after 60 SKUs VTEX answers 429 asking for 3 s of silence, more than a chunk waits
    # inline; the chunks give their worker slots back and come again, and the chord's callback
    # must not count a paused chunk as done
    spec = CatalogSpec(size=300, inactive_rate=0.05, failing_rate=0.0)
    control.catalog(ACCOUNT, spec.size, spec.inactive_rate, spec.failing_rate)
    control.faults(catalog_sku={"script": [200] * 60 + [429], "retry_after": 3})
    before = control.stats()["counts"]

    # when
    record = wait_for_end(receiver_url, start(receiver_url).json()["run_id"])

    # then: every SKU fetched once, no more; the silence was kept; the CSV is whole
    counts = control.stats()["counts"]
    assert record["state"] == "succeeded", record
    assert counts.get("catalog_sku:429", 0) - before.get("catalog_sku:429", 0) == 1
    assert counts["catalog_sku:200"] - before.get("catalog_sku:200", 0) == spec.size
    assert record["report"]["rate_limit_pauses"] >= 1
    assert record["report"]["duration_s"] >= 3 and record["report"]["failed"] == 0
    assert uploaded_csv(control)[1:] == expected_rows(spec)


def test_admin_api_refuses_bad_requests(receiver_url):
    no_token = requests.post(receiver_url + "/catalog/sync", timeout=5)
    bad_token = requests.post(receiver_url + "/catalog/sync", headers={"Authorization": "Bearer nope"}, timeout=5)
    bad_field = requests.post(receiver_url + "/catalog/sync", json={"replace": "yes"}, headers=ADMIN, timeout=5)
    unknown = requests.post(receiver_url + "/catalog/sync", json={"account": "nobody"}, headers=ADMIN, timeout=5)
    no_run = requests.get(receiver_url + "/catalog/sync/20260101T000000Z-abcdef", headers=ADMIN, timeout=5)

    assert (no_token.status_code, no_token.json()["error"]) == (401, "bad_token")
    assert bad_token.status_code == 401
    assert (bad_field.status_code, bad_field.json()["fields"]) == (422, ["replace"])
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_account")
    assert no_run.status_code == 404
