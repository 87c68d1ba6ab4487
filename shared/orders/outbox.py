"""The per-account outbox: order events ready for CleverTap, waiting to go out in a batch.

A sorted set of event refs scored by when each may next be sent (ms).  A flusher *leases*
what is due by pushing its score past the lease, so two flushers never hold the same event,
and an event whose flusher died becomes due again when the lease runs out.

An event is one ``(order, state)``, whatever time its notifications carried: a redelivered
feed item without a timestamp, a backfill (``authorizedDate``) and the live hook
(``CurrentChange``) name the same event with different times.  So the outbox also keeps an
index ``order|state -> member``, and adding goes through it: the first member added stands
for the event until it is settled, and a duplicate that is waiting or leased changes nothing.
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
local standing = redis.call('HGET', KEYS[2], ARGV[2])
if not standing or not redis.call('ZSCORE', KEYS[1], standing) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
end
return redis.call('ZCARD', KEYS[1])
"""

# ARGV: member, event key, member, event key, ...  The index entry goes only with its own
# member, so settling a stray member never unhooks the one that stands for the event.
_DONE = """
for i = 1, #ARGV, 2 do
  redis.call('ZREM', KEYS[1], ARGV[i])
  if redis.call('HGET', KEYS[2], ARGV[i + 1]) == ARGV[i] then
    redis.call('HDEL', KEYS[2], ARGV[i + 1])
  end
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i])
end
return 0
"""


def encode(ref: EventRef) -> str:
    return "|".join((ref.order_id, ref.state, ref.changed_at.isoformat()))


def event_key(ref: EventRef) -> str:
    """What identifies the event in the index: its order and state, not the notification's time."""
    return f"{ref.order_id}|{ref.state}"


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
        self.index_key = account_key(account, "outbox", "index")
        self.attempts_key = account_key(account, "outbox", "attempts")
        self.first_failure_key = account_key(account, "outbox", "first_failure")
        self._redis = client
        self._add = client.register_script(_ADD)
        self._lease = client.register_script(_LEASE)
        self._later = client.register_script(_LATER)
        self._done = client.register_script(_DONE)

    def add(self, ref: EventRef) -> int:
        """Queue ``ref``; returns how many events the outbox holds."""
        return int(self._add(keys=[self.key, self.index_key], args=[encode(ref), event_key(ref)]))

    def lease(self, limit: int, lease_ms: int) -> list[EventRef]:
        """Take up to ``limit`` due events for ``lease_ms``; nobody else gets them meanwhile."""
        return [decode(self.account, m) for m in self._lease(keys=[self.key], args=[limit, lease_ms])]

    def done(self, refs: list[EventRef]) -> None:
        if refs:
            args = [x for ref in refs for x in (encode(ref), event_key(ref))]
            self._done(keys=[self.key, self.index_key, self.attempts_key, self.first_failure_key], args=args)

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
        """Whether the event (its order and state, at any time) is waiting or in flight."""
        return bool(self._redis.hexists(self.index_key, event_key(ref)))

    def size(self) -> int:
        return int(self._redis.zcard(self.key))

    def due(self) -> int:
        """Events that may be sent now (none leased, none waiting for a retry)."""
        seconds, micros = self._redis.time()
        return int(self._redis.zcount(self.key, "-inf", int(seconds) * 1000 + int(micros) // 1000))
