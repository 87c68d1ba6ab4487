"""A counting semaphore in Redis: at most ``limit`` holders at once, across every process.

CleverTap allows 15 concurrent upload requests per account; each holder is a member of a
sorted set scored by when its hold expires, so a holder that died frees its slot by itself.
"""

from __future__ import annotations

import redis

from shared.keys import account_key

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
  return 1
end
return 0
"""


class RedisSemaphore:
    """``limit`` concurrent holders of one account's resource.

    :param hold_ms: how long a slot stays taken if its holder never releases it.
    """

    def __init__(self, client: redis.Redis, account: str, resource: str, limit: int, hold_ms: int) -> None:
        self.key = account_key(account, "semaphore", resource)
        self.limit = limit
        self.hold_ms = hold_ms
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, token: str) -> bool:
        """Take a slot for ``token`` (or keep the one it holds); ``False`` when all are taken."""
        return bool(self._acquire(keys=[self.key], args=[token, self.limit, self.hold_ms]))

    def release(self, token: str) -> None:
        self._redis.zrem(self.key, token)

    def holders(self) -> int:
        return int(self._redis.zcard(self.key))
