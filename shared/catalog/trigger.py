"""Start a catalog sync from outside the workers: the CLI and ``POST /catalog/sync``."""

from __future__ import annotations

from shared.catalog.runs import FAILED, Run, RunStore
from shared.names import TaskName
from shared.publisher import PublishError, Publisher


def trigger_sync(runs: RunStore, publisher: Publisher, account: str, trigger: str, *, replace: bool = True) -> Run:
    """Take the account's lock, create the run and enqueue ``catalog.start_sync``.

    :raises SyncInProgress: if a run holds the lock; nothing is started.
    :raises PublishError: if the broker refused; the run is ended and the lock released.
    """
    run = runs.begin(account, trigger, replace=replace)
    try:
        publisher.publish(TaskName.CATALOG_START_SYNC, {"account": account, "run_id": run.id})
    except PublishError as exc:
        runs.finish(run, FAILED, error=str(exc))
        raise
    return run
