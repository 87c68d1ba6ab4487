"""The journal of accepted order events, for the reconciler.

The receiver writes an event here before it publishes the task; every run of one of the
event's tasks refreshes its time.  An event that stays untouched past a grace period was
lost on the way (a broker loss window, a purged queue) unless it is done, parked or waiting
in the outbox; :mod:`shared.orders.reconcile` sorts that out.

``vtexct:<account>:journal`` is a sorted set of event refs scored by last activity (epoch s).
"""

from __future__ import annotations

import time

import redis

from shared.keys import account_key
from shared.orders.outbox import decode, encode
from shared.orders.pending import EventRef


class Journal:
    def __init__(self, client: redis.Redis, account: str) -> None:
        self.account = account
        self.key = account_key(account, "journal")
        self.republished_key = account_key(account, "journal", "republished")
        self._redis = client

    def accept(self, ref: EventRef) -> None:
        self._redis.zadd(self.key, {encode(ref): time.time()})

    def touch(self, ref: EventRef) -> None:
        """Mark the event alive; ``XX``: an event already settled is not brought back."""
        self._redis.zadd(self.key, {encode(ref): time.time()}, xx=True)

    def settle(self, *refs: EventRef) -> None:
        """Forget events that were delivered or parked."""
        if refs:
            members = [encode(r) for r in refs]
            with self._redis.pipeline() as pipe:
                pipe.zrem(self.key, *members)
                pipe.hdel(self.republished_key, *members)
                pipe.execute()

    def stale(self, older_than: float, limit: int = 1000) -> list[EventRef]:
        """Events with no activity for ``older_than`` seconds, oldest first."""
        members = self._redis.zrangebyscore(self.key, "-inf", time.time() - older_than, start=0, num=limit)
        return [decode(self.account, m) for m in members]

    def republished(self, ref: EventRef) -> int:
        """Count one more republish of ``ref`` and return the new count."""
        return int(self._redis.hincrby(self.republished_key, encode(ref), 1))

    def size(self) -> int:
        return int(self._redis.zcard(self.key))
