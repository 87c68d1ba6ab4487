"""A Redis lock with an owner: ``SET NX EX`` to take it, compare-and-delete to release it."""

from __future__ import annotations

import redis

# Only the owner may release or extend: a holder whose lock expired must not free the next holder's.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisLock:
    """One named lock; ``ttl`` bounds how long a dead holder keeps it.

    :param client: a Redis client with ``decode_responses=True``.
    """

    def __init__(self, client: redis.Redis, key: str, ttl: int) -> None:
        self.key = key
        self.ttl = ttl
        self._redis = client
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    def acquire(self, owner: str) -> bool:
        """Take the lock, or keep it if ``owner`` already holds it (a redelivered message).

        :returns: ``False`` if another owner holds it.
        """
        if self._redis.set(self.key, owner, nx=True, ex=self.ttl):
            return True
        return self._redis.get(self.key) == owner

    def holder(self) -> str | None:
        return self._redis.get(self.key)

    def release(self, owner: str) -> bool:
        return bool(self._release(keys=[self.key], args=[owner]))

    def extend(self, owner: str) -> bool:
        return bool(self._extend(keys=[self.key], args=[owner, self.ttl]))
