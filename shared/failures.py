"""The durable failure store: every task that fails for good, kept until ops requeue or purge it.

Redis has no dead-letter queue, and Celery's result backend and Flower forget, so final
failures are data of our own.  Layout:

* ``vtexct:<account>:failures`` - hash, failure id -> JSON :class:`Failure`;
* ``vtexct:failures:index`` - hash, failure id -> account, to find an id without its account;
* ``vtexct:<account>:failures:history:<id>`` - the counts of an entry that was requeued.

The first two have no TTL.  A failure id is derived from the task name and its arguments, so
the same work failing again updates one entry and keeps counting its attempts, also after a
requeue removed the entry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from shared.keys import account_key, global_key

MAX_TRACEBACK = 4000
# How long a requeued entry's counts wait for the same work to fail again.
HISTORY_TTL = 30 * 24 * 3600


def failure_id(task: str, kwargs: dict[str, Any]) -> str:
    """A stable id for "this task with these arguments"."""
    canonical = json.dumps({"task": task, "kwargs": kwargs}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class Failure:
    """One task that failed for good, with everything needed to understand and requeue it."""

    id: str
    task: str
    account: str
    kwargs: dict[str, Any]
    reason: str
    error_type: str
    message: str
    code: int | None
    attempts: int
    first_failed_at: float
    last_failed_at: float
    task_id: str
    times_failed: int = 1
    traceback: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class FailureStore:
    """Record, read and remove :class:`Failure` entries.

    :param client: the state-store Redis client (``decode_responses=True``).
    :param redact: applied to every message and traceback before it is stored, so a
        credential that slipped into an exception never lands in Redis.
    """

    def __init__(self, client: redis.Redis, redact: Callable[[str], str] = lambda s: s) -> None:
        self._redis = client
        self._redact = redact

    @staticmethod
    def _hash(account: str) -> str:
        return account_key(account, "failures")

    _INDEX = global_key("failures", "index")

    @staticmethod
    def _history(account: str, fid: str) -> str:
        return account_key(account, "failures", "history", fid)

    def record(
        self,
        *,
        task: str,
        account: str,
        kwargs: dict[str, Any],
        reason: str,
        error_type: str,
        message: str,
        attempts: int,
        task_id: str,
        code: int | None = None,
        traceback: str = "",
        extra: dict[str, Any] | None = None,
    ) -> Failure:
        """Add a failure, or update the entry of the same task and arguments.

        :param attempts: tries made by this run of the task; added to earlier runs' tries,
            including those of an entry a requeue removed.
        """
        fid = failure_id(task, kwargs)
        now = time.time()
        key = self._hash(account)
        history_key = self._history(account, fid)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key, history_key)
                    raw = pipe.hget(key, fid) or pipe.get(history_key)
                    previous = json.loads(raw) if raw else None
                    entry = Failure(
                        id=fid,
                        task=task,
                        account=account,
                        kwargs=kwargs,
                        reason=reason,
                        error_type=error_type,
                        message=self._redact(message)[:1000],
                        code=code,
                        attempts=attempts + (previous["attempts"] if previous else 0),
                        first_failed_at=previous["first_failed_at"] if previous else now,
                        last_failed_at=now,
                        task_id=task_id,
                        times_failed=1 + (previous["times_failed"] if previous else 0),
                        traceback=self._redact(traceback)[-MAX_TRACEBACK:],
                        extra=extra or {},
                    )
                    pipe.multi()
                    pipe.hset(key, fid, json.dumps(asdict(entry)))
                    pipe.hset(self._INDEX, fid, account)
                    pipe.delete(history_key)
                    pipe.execute()
                    return entry
                except redis.WatchError:
                    continue

    def get(self, fid: str) -> Failure | None:
        account = self._redis.hget(self._INDEX, fid)
        if account is None:
            return None
        raw = self._redis.hget(self._hash(account), fid)
        return Failure(**json.loads(raw)) if raw else None

    def iter(self, account: str | None = None) -> Iterator[Failure]:
        """Yield failures, oldest last failure first, of one account or of all."""
        accounts = [account] if account else self.accounts()
        entries = []
        for name in accounts:
            entries.extend(Failure(**json.loads(raw)) for raw in self._redis.hvals(self._hash(name)))
        yield from sorted(entries, key=lambda f: f.last_failed_at)

    def delete(self, fid: str, *, keep_history: bool = False) -> bool:
        """Remove an entry; with ``keep_history`` (a requeue) its counts wait for a new failure."""
        entry = self.get(fid)
        if entry is None:
            return False
        with self._redis.pipeline() as pipe:
            pipe.hdel(self._hash(entry.account), fid)
            pipe.hdel(self._INDEX, fid)
            if keep_history:
                pipe.set(self._history(entry.account, fid), json.dumps(asdict(entry)), ex=HISTORY_TTL)
            removed = pipe.execute()[0]
        return bool(removed)

    def count(self, account: str) -> int:
        return int(self._redis.hlen(self._hash(account)))

    def accounts(self) -> list[str]:
        return sorted(set(self._redis.hvals(self._INDEX)))

