"""The per-account outbox: order events ready for CleverTap, waiting to go out in a batch.

A sorted set of event refs scored by when each may next be sent (ms).  A flusher *leases*
what is due by pushing its score past the lease, so two flushers never hold the same event,
and an event whose flusher died becomes due again when the lease runs out.  Adding is
``ZADD NX``: a duplicate of an event that is waiting or leased changes nothing.
"""

from __future__ import annotations

import redis

from shared.keys import account_key
from shared.orders.pending import EventRef

_LEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), member)
end
return due
"""
_LATER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
  redis.call('HSETNX', KEYS[3], ARGV[i], now)
end
return 0
"""
_ADD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""


def encode(ref: EventRef) -> str:
    return "|".join((ref.order_id, ref.state, ref.changed_at.isoformat()))


def decode(account: str, member: str) -> EventRef:
    order_id, state, changed_at = member.split("|", 2)
    return EventRef.from_kwargs(account, order_id, state, changed_at)


class Outbox:
    """One account's outbox.

    :param client: the state-store Redis client (``decode_responses=True``).
    """

    def __init__(self, client: redis.Redis, account: str) -> None:
        self.account = account
        self.key = account_key(account, "outbox")
        self.attempts_key = account_key(account, "outbox", "attempts")
        self.first_failure_key = account_key(account, "outbox", "first_failure")
        self._redis = client
        self._add = client.register_script(_ADD)
        self._lease = client.register_script(_LEASE)
        self._later = client.register_script(_LATER)

    def add(self, ref: EventRef) -> int:
        """Queue ``ref``; returns how many events the outbox holds."""
        return int(self._add(keys=[self.key], args=[encode(ref)]))

    def lease(self, limit: int, lease_ms: int) -> list[EventRef]:
        """Take up to ``limit`` due events for ``lease_ms``; nobody else gets them meanwhile."""
        return [decode(self.account, m) for m in self._lease(keys=[self.key], args=[limit, lease_ms])]

    def done(self, refs: list[EventRef]) -> None:
        if refs:
            members = [encode(r) for r in refs]
            with self._redis.pipeline() as pipe:
                pipe.zrem(self.key, *members)
                pipe.hdel(self.attempts_key, *members)
                pipe.hdel(self.first_failure_key, *members)
                pipe.execute()

    def later(self, refs: list[EventRef], delay_ms: int) -> None:
        """Send these again in ``delay_ms``, counting one more attempt for each."""
        if refs:
            self._later(keys=[self.key, self.attempts_key, self.first_failure_key],
                        args=[max(0, int(delay_ms)), *map(encode, refs)])

    def release(self, refs: list[EventRef]) -> None:
        """Give leased events back, due now, without counting an attempt (the batch was full)."""
        if refs:
            self._redis.zadd(self.key, {encode(r): 0 for r in refs}, xx=True)

    def attempts(self, refs: list[EventRef]) -> list[int]:
        return [tried for tried, _ in self.history(refs)]

    def history(self, refs: list[EventRef]) -> list[tuple[int, float | None]]:
        """Failed attempts so far and the time of the first failure (epoch seconds), per event."""
        if not refs:
            return []
        members = [encode(r) for r in refs]
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.attempts_key, members)
            pipe.hmget(self.first_failure_key, members)
            tries, firsts = pipe.execute()
        return [(int(t or 0), int(f) / 1000 if f else None) for t, f in zip(tries, firsts)]

    def has(self, ref: EventRef) -> bool:
        return self._redis.zscore(self.key, encode(ref)) is not None

    def size(self) -> int:
        return int(self._redis.zcard(self.key))

    def due(self) -> int:
        """Events that may be sent now (none leased, none waiting for a retry)."""
        seconds, micros = self._redis.time()
        return int(self._redis.zcount(self.key, "-inf", int(seconds) * 1000 + int(micros) // 1000))
