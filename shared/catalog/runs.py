"""Catalog sync runs: the per-account lock, the run record, its progress and its data in Redis.

Keys, all under ``vtexct:<account>:catalog:``:

* ``lock`` - the run id holding the account's sync (``SET NX`` with a TTL);
* ``run:<id>`` - hash: the run record;
* ``run:<id>:ids:<n>`` / ``run:<id>:part:<n>`` - chunk n's SKU ids (JSON) and CSV rows;
* ``run:<id>:partial:<n>`` - what a paused (throttled) try of chunk n had handled, until it ends;
* ``run:<id>:progress`` / ``run:<id>:summaries`` - hash: SKUs handled / summary per chunk;
* ``runs`` - sorted set of run ids by start time; ``last_success`` - hash.

A chunk's keys are overwritten, never appended to, so a chunk that runs twice leaves one copy.
Parts are zlib-compressed: the whole CSV sits in Redis between the chunks and the upload, and
catalog text shrinks about fivefold.
"""

from __future__ import annotations

import json
import secrets
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from shared.keys import account_key
from shared.locks import RedisLock

RUN_TTL = 30 * 24 * 3600
DATA_TTL = 2 * 24 * 3600

STARTED, LISTING, FETCHING, UPLOADING, SUCCEEDED, FAILED = (
    "started", "listing", "fetching", "uploading", "succeeded", "failed")
FINAL_STATES = frozenset({SUCCEEDED, FAILED})


class SyncInProgress(Exception):
    """The account's lock is held: another sync is running."""

    def __init__(self, account: str, run_id: str | None) -> None:
        super().__init__(f"a catalog sync of {account} is already running ({run_id})")
        self.account = account
        self.run_id = run_id


@dataclass(frozen=True)
class Run:
    """The identity of one sync run."""

    account: str
    id: str


class RunStore:
    """Everything a run keeps in the state store.

    :param client: state-store Redis client (``decode_responses=True``).
    :param lock_ttl: seconds the account lock outlives a run that died without releasing it.
    """

    def __init__(self, client: redis.Redis, lock_ttl: int = 6 * 3600) -> None:
        self.redis = client
        self.lock_ttl = lock_ttl
        # Compressed parts are bytes; a twin client on the same server returns them undecoded.
        pool = client.connection_pool
        self._binary = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **{**pool.connection_kwargs, "decode_responses": False}))

    @staticmethod
    def _key(run: Run, *parts: str) -> str:
        return account_key(run.account, "catalog", "run", run.id, *parts)

    def lock(self, account: str) -> RedisLock:
        return RedisLock(self.redis, account_key(account, "catalog", "lock"), self.lock_ttl)

    # -- life cycle --------------------------------------------------------------------------------

    def begin(self, account: str, trigger: str, *, replace: bool = True) -> Run:
        """Take the account's lock and create the run record.

        :raises SyncInProgress: if another run holds the lock.
        """
        run = Run(account, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3))
        lock = self.lock(account)
        if not lock.acquire(run.id):
            raise SyncInProgress(account, lock.holder())
        now = time.time()
        with self.redis.pipeline() as pipe:
            pipe.hset(self._key(run), mapping={
                "id": run.id, "account": account, "trigger": trigger, "replace": int(replace),
                "state": STARTED, "started_at": now, "updated_at": now, "total": 0, "chunks": 0})
            pipe.expire(self._key(run), RUN_TTL)
            pipe.zadd(account_key(account, "catalog", "runs"), {run.id: now})
            pipe.execute()
        return run

    def update(self, run: Run, **fields: Any) -> None:
        values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
        self.redis.hset(self._key(run), mapping={**values, "updated_at": time.time()})

    def finish(self, run: Run, state: str, **fields: Any) -> None:
        """Record the end of the run, release the lock and drop the run's data keys."""
        self.update(run, state=state, finished_at=time.time(), **fields)
        if state == SUCCEEDED:
            self.redis.hset(account_key(run.account, "catalog", "last_success"),
                            mapping={"run_id": run.id, "finished_at": time.time(),
                                     **{k: fields[k] for k in ("digest", "rows") if k in fields}})
        self.drop_data(run)
        self.lock(run.account).release(run.id)

    def drop_data(self, run: Run) -> None:
        keys = list(self.redis.scan_iter(self._key(run, "ids", "*"), count=500))
        keys += list(self.redis.scan_iter(self._key(run, "part", "*"), count=500))
        keys += list(self.redis.scan_iter(self._key(run, "partial", "*"), count=500))
        keys += [self._key(run, "progress"), self._key(run, "summaries")]
        for start in range(0, len(keys), 500):
            self.redis.delete(*keys[start:start + 500])

    # -- reading ------------------------------------------------------------------------------------

    def get(self, run: Run) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self._key(run))
        if not raw:
            return None
        record: dict[str, Any] = dict(raw)
        for field in ("started_at", "updated_at", "finished_at"):
            if field in record:
                record[field] = float(record[field])
        for field in ("total", "chunks", "pauses"):
            record[field] = int(record.get(field, 0))
        record["replace"] = record.get("replace") == "1"
        if "report" in record:
            record["report"] = json.loads(record["report"])
        record["done"] = self.progress(run)
        return record

    def find(self, run_id: str, accounts: Iterator[str] | list[str]) -> dict[str, Any] | None:
        for account in accounts:
            record = self.get(Run(account, run_id))
            if record:
                return record
        return None

    def latest(self, account: str) -> dict[str, Any] | None:
        """The record of the account's most recent run."""
        newest = self.redis.zrevrange(account_key(account, "catalog", "runs"), 0, 0)
        return self.get(Run(account, newest[0])) if newest else None

    def last_success(self, account: str) -> dict[str, str]:
        return self.redis.hgetall(account_key(account, "catalog", "last_success"))

    # -- chunks ----------------------------------------------------------------------------------------

    def save_chunk_ids(self, run: Run, index: int, ids: list[int]) -> None:
        self.redis.set(self._key(run, "ids", str(index)), json.dumps(ids), ex=DATA_TTL)

    def chunk_ids(self, run: Run, index: int) -> list[int]:
        raw = self.redis.get(self._key(run, "ids", str(index)))
        if raw is None:
            raise KeyError(f"run {run.id} has no SKU ids for chunk {index}")
        return list(json.loads(raw))

    def save_chunk_results(self, run: Run, index: int, results: list[Any]) -> None:
        """Keep what a paused try of a chunk handled, one entry per SKU position."""
        self._binary.set(self._key(run, "partial", str(index)),
                         zlib.compress(json.dumps(results).encode(), 1), ex=DATA_TTL)

    def count_pause(self, run: Run) -> None:
        """One more chunk paused for the rate limit: shown in the run record and its report."""
        self.redis.hincrby(self._key(run), "pauses", 1)

    def chunk_results(self, run: Run, index: int) -> list[Any] | None:
        """What the last paused try of a chunk handled, or ``None`` if none paused."""
        raw = self._binary.get(self._key(run, "partial", str(index)))
        return None if raw is None else list(json.loads(zlib.decompress(raw)))

    def save_part(self, run: Run, index: int, rows: bytes, summary: dict[str, Any]) -> None:
        """Store a chunk's CSV rows and its summary, replacing what an earlier try stored."""
        self._binary.set(self._key(run, "part", str(index)), zlib.compress(rows, 1), ex=DATA_TTL)
        with self.redis.pipeline() as pipe:
            pipe.hset(self._key(run, "summaries"), str(index), json.dumps(summary, sort_keys=True))
            pipe.expire(self._key(run, "summaries"), DATA_TTL)
            pipe.delete(self._key(run, "partial", str(index)))
            pipe.execute()

    def part(self, run: Run, index: int) -> bytes | None:
        """A chunk's CSV rows, or ``None`` if they are gone."""
        raw = self._binary.get(self._key(run, "part", str(index)))
        return None if raw is None else zlib.decompress(raw)

    def summaries(self, run: Run) -> dict[int, dict[str, Any]]:
        return {int(k): json.loads(v) for k, v in self.redis.hgetall(self._key(run, "summaries")).items()}

    def set_progress(self, run: Run, index: int, handled: int) -> None:
        key = self._key(run, "progress")
        self.redis.hset(key, str(index), handled)
        self.redis.expire(key, DATA_TTL)

    def progress(self, run: Run) -> int:
        return sum(int(v) for v in self.redis.hvals(self._key(run, "progress")))
