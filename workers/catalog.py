"""Queue ``catalog``: the daily sync, its fan-out over SKU chunks and the upload."""

from __future__ import annotations

import logging
from typing import Any

from celery import chord

from shared.catalog import sync
from shared.celery_config import soft_limit
from shared.catalog.runs import FAILED, FETCHING, LISTING, STARTED, Run, SyncInProgress
from shared.clients.s3 import put_presigned
from shared.names import TaskName
from workers.app import app, settings
from workers.base import enqueue, task
from workers.services import services

log = logging.getLogger(__name__)


# Catalog tasks page through a whole store; they get their own, longer limits.
LONG = {"time_limit": settings.catalog_task_time_limit, "soft_time_limit": soft_limit(settings.catalog_task_time_limit)}


def _fail_run(kwargs: dict[str, Any], exc: BaseException) -> None:
    """A sync task that failed for good ends its run: failed state, lock released, data dropped."""
    services().runs.finish(Run(kwargs["account"], kwargs["run_id"]), FAILED,
                           error=f"{type(exc).__name__}: {exc}"[:500])


def _policy() -> sync.FetchPolicy:
    return sync.FetchPolicy(threads=services().settings.catalog_fetch_threads)


@task(TaskName.CATALOG_SYNC_DUE_ACCOUNTS)
def sync_due_accounts(self) -> str:
    """Beat's daily entry: start a run for every account with catalog sync on.

    An account whose lock is held (a run still going, or a second beat) is skipped.
    """
    svc = services()
    started, skipped = [], []
    for account in svc.settings.accounts.values():
        if not account.catalog_sync:
            continue
        try:
            run = svc.runs.begin(account.name, "beat")
        except SyncInProgress as exc:
            skipped.append(f"{account.name} ({exc.run_id})")
            continue
        enqueue(TaskName.CATALOG_START_SYNC, {"account": run.account, "run_id": run.id})
        started.append(run.id)
    return f"started {started or 'none'}; skipped {skipped or 'none'}"


@task(TaskName.CATALOG_START_SYNC, **LONG, on_final_failure=_fail_run)
def start_sync(self, *, account: str, run_id: str) -> str:
    """List the SKU ids into chunks, then fan out one fetch task per chunk with the upload as callback.

    Idempotent: a redelivered message for a run that already fanned out does nothing.
    """
    svc = services()
    run = Run(account, run_id)
    record = svc.runs.get(run)
    if record is None or record["state"] not in (STARTED, LISTING):
        return "skipped: run already fanned out or ended"
    svc.runs.update(run, state=LISTING)
    limiter = svc.limiter(account, "catalog_ids")
    total, chunks = sync.list_skus(run, svc.runs, svc.vtex(account), limiter,
                                   svc.settings.catalog_chunk_size, _policy())
    svc.runs.update(run, state=FETCHING, total=total, chunks=chunks)
    ids = {"account": account, "run_id": run_id}
    callback = app.signature(str(TaskName.CATALOG_ASSEMBLE_UPLOAD), kwargs=ids)
    if chunks == 0:
        callback.apply_async(args=([],))
    else:
        chord(app.signature(str(TaskName.CATALOG_FETCH_CHUNK), kwargs={**ids, "index": i})
              for i in range(chunks))(callback)
    return f"fanned out {chunks} chunks of {total} SKUs"


@task(TaskName.CATALOG_FETCH_CHUNK, ignore_result=False, **LONG, on_final_failure=_fail_run)
def fetch_chunk(self, *, account: str, run_id: str, index: int) -> dict[str, Any]:
    """Fetch one chunk's SKUs and store its rows; a chord member, so its result is kept.

    Idempotent: a rerun overwrites the chunk's rows and returns the same summary.
    """
    svc = services()
    limiter = svc.limiter(account, "catalog_sku")
    summary = sync.fetch_chunk(Run(account, run_id), index, svc.runs, svc.vtex(account), limiter, _policy())
    # The chord only needs to know the chunk is done; the rows and the failures are in Redis.
    return {"index": summary["index"], "sha256": summary["sha256"]}


@task(TaskName.CATALOG_ASSEMBLE_UPLOAD, **LONG, on_final_failure=_fail_run)
def assemble_upload(self, chunk_results: list[Any] | None = None, *, account: str, run_id: str) -> str:
    """Stream the CSV to CleverTap's presigned URL, complete the upload and end the run.

    The chunks' results are not used: their summaries are read from Redis, so the task can
    be requeued from the failure store without them.
    """
    svc = services()
    email = svc.account(account).integration_email or ""

    def put(url: str, body: Any, length: int) -> None:
        put_presigned(url, body, length, timeout=svc.settings.http_timeout * 6,
                      content_type=svc.settings.catalog_content_type, session=svc.session)

    report = sync.assemble_and_upload(Run(account, run_id), svc.runs, svc.clevertap(account), put, email=email)
    return "skipped: run already ended" if report is None else str(report["upload"])
