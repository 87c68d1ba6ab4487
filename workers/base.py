"""The base task: log context, retry policy, time limits and the failure store, for every task.

Tasks are declared with :func:`task`.  A task body decodes its JSON kwargs, calls one domain
function and returns a short outcome string; it neither catches nor retries by itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import Task

from shared.backoff import retry_countdown
from shared.errors import TransientError
from shared.logs import log_context
from shared.names import TaskName
from workers.app import app
from workers.services import services

log = logging.getLogger(__name__)

# Set by a requeue from the failure store, so that a task failing again keeps counting its tries.
PRIOR_ATTEMPTS_HEADER = "vtexct_prior_attempts"


class BaseTask(Task):
    """Owns what every task shares; the task bodies stay free of it."""

    # Retry is decided per exception type in :func:`task`, never by Celery's autoretry.
    autoretry_for = ()
    acks_late = True
    reject_on_worker_lost = True

    def _context(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "account": kwargs.get("account"),
            "order_id": kwargs.get("order_id"),
            "state": kwargs.get("state"),
            "task": self.name,
            "task_id": self.request.id,
        }

    def on_retry(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        with log_context(**self._context(kwargs)):
            log.warning("retrying after %s: %s", type(exc).__name__, exc,
                        extra={"outcome": "retry", "attempt": self.request.retries + 1})

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """Record the final failure, so that nothing fails silently."""
        attempts = self.request.retries + 1
        prior = int(getattr(self.request, PRIOR_ATTEMPTS_HEADER, None) or 0)
        entry = services().failures.record(
            task=self.name,
            account=str(kwargs.get("account") or "?"),
            kwargs=dict(kwargs),
            reason=getattr(exc, "reason", type(exc).__name__),
            error_type=type(exc).__name__,
            message=str(exc),
            code=getattr(exc, "code", None),
            attempts=attempts + prior,
            task_id=task_id,
            traceback=str(einfo) if einfo else "",
        )
        with log_context(**self._context(kwargs)):
            log.error("failed for good after %d attempt(s): %s: %s; failure id %s",
                      attempts, type(exc).__name__, exc, entry.id, extra={"outcome": "failed"})


def _retrying(body: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(body)
    def run(self: BaseTask, **kwargs: Any) -> str:
        with log_context(**self._context(kwargs)):
            try:
                outcome = body(self, **kwargs)
            # Only errors that say another try can help are retried; the rest fail at once.
            except TransientError as exc:
                policy = services().settings.retry
                raise self.retry(
                    exc=exc,
                    countdown=retry_countdown(policy, self.request.retries, exc.retry_after),
                    max_retries=policy.max_attempts - 1,
                ) from None
            log.info("done: %s", outcome, extra={"outcome": outcome})
            return outcome

    return run


def task(name: TaskName, **options: Any) -> Callable[[Callable[..., str]], Task]:
    """Register ``body`` as a :class:`BaseTask` called ``name``; it is bound and takes kwargs only."""

    def register(body: Callable[..., str]) -> Task:
        return app.task(name=str(name), base=BaseTask, bind=True, **options)(_retrying(body))

    return register


def enqueue(name: TaskName, kwargs: dict[str, Any]) -> None:
    """Publish the next step by name; its queue comes from the routes in :mod:`shared.names`."""
    # ignore_result: the next step's outcome is never read back, so do not subscribe to it.
    app.send_task(str(name), kwargs=kwargs, ignore_result=True)

