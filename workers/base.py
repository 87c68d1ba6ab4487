"""The base task: log context, retry policy, time limits and the failure store, for every task.

Tasks are declared with :func:`task`.  A task body decodes its JSON kwargs, calls one domain
function and returns a short outcome string; it neither catches nor retries by itself.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded

from shared.backoff import retry_countdown
from shared.celery_config import is_amqp
from shared.errors import Throttled, TransientError
from shared.logs import log_context
from shared.names import TaskName
from workers.app import app
from workers.services import services

log = logging.getLogger(__name__)

FIRST_FAILURE_HEADER = "vtexct_first_failure"
# RabbitMQ's native delayed delivery counts whole seconds and refuses a countdown that rounds to 0.
_WHOLE_SECONDS = is_amqp(app.conf.broker_url or "")


def countdown(seconds: float | None) -> float | None:
    """A countdown the broker accepts: on RabbitMQ at least one second."""
    if seconds is None or seconds <= 0:
        return None
    return max(1.0, seconds) if _WHOLE_SECONDS else seconds


# Worth another try: the typed transient errors of our clients; the state store being briefly
# unreachable (a restart or a failover), which says nothing about the work itself; and a task
# that ran out of time, usually waiting on a slow upstream (every step is idempotent).
RETRYABLE = (TransientError, redis.ConnectionError, redis.TimeoutError, SoftTimeLimitExceeded)


class BaseTask(Task):
    """Owns what every task shares; the task bodies stay free of it."""

    # Retry is decided per exception type in :func:`task`, never by Celery's autoretry.
    autoretry_for = ()
    # Celery's default of 3 would end every retry after four tries, whatever RetryPolicy says:
    # ``retry(max_retries=None)`` falls back to this attribute.  The policy alone decides.
    max_retries = None
    acks_late = True
    reject_on_worker_lost = True
    #: Called with the task's kwargs and the exception once it has failed for good.
    on_final_failure: Callable[[dict[str, Any], BaseException], None] | None = None

    def _context(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        account, order, state = kwargs.get("account"), kwargs.get("order_id"), kwargs.get("state")
        return {
            "account": account,
            "order_id": order,
            "state": state,
            "run_id": kwargs.get("run_id"),
            "task": self.name,
            "task_id": self.request.id,
            # The idempotency key of an order event, to follow one event across its three tasks.
            "key": f"{account}:{order}:{state}" if order else None,
        }

    def on_retry(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        with log_context(**self._context(kwargs)):
            log.warning("retrying after %s: %s", type(exc).__name__, exc,
                        extra={"outcome": "retry", "attempt": self.request.retries + 1})

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """Record the final failure, so that nothing fails silently."""
        attempts = self.request.retries + 1
        entry = services().failures.record(
            task=self.name,
            account=str(kwargs.get("account") or "?"),
            kwargs=dict(kwargs),
            reason=getattr(exc, "reason", type(exc).__name__),
            error_type=type(exc).__name__,
            message=str(exc),
            code=getattr(exc, "code", None),
            attempts=attempts,
            task_id=task_id,
            traceback=str(einfo) if einfo else "",
        )
        with log_context(**self._context(kwargs)):
            log.error("failed for good after %d attempt(s): %s: %s; failure id %s",
                      attempts, type(exc).__name__, exc, entry.id, extra={"outcome": "failed"})
            if self.on_final_failure is not None:
                self.on_final_failure(dict(kwargs), exc)


def _retrying(body: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(body)
    def run(self: BaseTask, *args: Any, **kwargs: Any) -> Any:
        with log_context(**self._context(kwargs)):
            try:
                outcome = body(self, *args, **kwargs)
            except Throttled as exc:
                # Our own rate limit, not a failure: run again when the slot frees up, same try count.
                self.signature_from_request(countdown=countdown(exc.retry_after),
                                            retries=self.request.retries).apply_async()
                log.debug("throttled for %.2fs: %s", exc.retry_after or 0, exc, extra={"outcome": "throttled"})
                # Ignore acks the message and records nothing: a chord member that returned here
                # would count as done and start the callback before its rows exist.
                raise Ignore() from None
            # Only errors that say another try can help are retried; the rest fail at once.
            except RETRYABLE as exc:
                policy = services().settings.retry
                headers = dict(self.request.headers or {})
                first = float(headers.setdefault(FIRST_FAILURE_HEADER, time.time()))
                if policy.exhausted(self.request.retries + 1, first, time.time()):
                    raise
                # The first failure's time travels with the retries, so the window spans all of them.
                raise self.retry(
                    exc=exc,
                    countdown=countdown(retry_countdown(policy, self.request.retries, getattr(exc, "retry_after", None))),
                    headers=headers,
                ) from None
            log.info("done: %s", outcome if isinstance(outcome, str) else "ok", extra={"outcome": str(outcome)[:200]})
            return outcome

    return run


def task(name: TaskName, **options: Any) -> Callable[[Callable[..., Any]], Task]:
    """Register ``body`` as a :class:`BaseTask` called ``name``; it is bound and takes JSON kwargs.

    Only a chord callback takes a positional argument, the header's results.
    """

    if "on_final_failure" in options:
        # A plain function as a class attribute would be bound to the task instance.
        options["on_final_failure"] = staticmethod(options["on_final_failure"])

    def register(body: Callable[..., Any]) -> Task:
        return app.task(name=str(name), base=BaseTask, bind=True, **options)(_retrying(body))

    return register


def enqueue(name: TaskName, kwargs: dict[str, Any], delay: float | None = None) -> None:
    """Publish the next step by name, after ``delay`` seconds; its queue comes from :mod:`shared.names`."""
    # ignore_result: the next step's outcome is never read back, so do not subscribe to it.
    app.send_task(str(name), kwargs=kwargs, ignore_result=True, countdown=countdown(delay))

