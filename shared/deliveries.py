"""Counts of delivered events per account and minute, for ``vtexct status`` and ``/metrics``."""

from __future__ import annotations

import time

import redis

from shared.keys import account_key

# A day and an hour of minutes: enough for "last day" whatever the clock does around midnight.
_KEEP = 25 * 3600


class DeliveryCounters:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @staticmethod
    def _key(account: str, minute: int) -> str:
        return account_key(account, "delivered", str(minute))

    def add(self, account: str, count: int = 1, now: float | None = None) -> None:
        key = self._key(account, int((now or time.time()) // 60))
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.incrby(key, count)
            pipe.expire(key, _KEEP)
            pipe.execute()

    def since(self, account: str, seconds: int, now: float | None = None) -> int:
        """Events delivered in the last ``seconds`` (to the minute)."""
        current = int((now or time.time()) // 60)
        keys = [self._key(account, m) for m in range(current - seconds // 60 + 1, current + 1)]
        return sum(int(v) for v in self._redis.mget(keys) if v)
