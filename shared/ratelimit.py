"""A rate limit shared by every worker process, kept in Redis (GCRA, one Lua call per request).

Celery's ``rate_limit`` counts per worker instance; VTEX and CleverTap count per account,
across all of our processes.  The generic cell rate algorithm stores one timestamp per
limit (the "theoretical arrival time") and answers either "go" or "wait this long".
"""

from __future__ import annotations

import time

import redis

from shared.errors import Throttled
from shared.keys import account_key

# Redis's own clock, so that workers on different hosts agree.  All values are whole
# microseconds, formatted with %.0f: Lua would write a large float in exponent form and lose
# the digits that matter.  Returns the microseconds to wait, 0 = go; a wait is at least 1,
# because Redis truncates a Lua number to an integer and a wait of 0.4 would read as "go"
# without taking the slot (an early version of this script ran 7% over the limit that way).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return math.max(1, math.ceil(allow_at - now))
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now + tolerance) / 1000) + 1000)
return 0
"""

# After a 429 the upstream wants silence: push every process's next slot past the wait.
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if until_us > tat then
  redis.call('SET', KEYS[1], string.format('%.0f', until_us), 'PX', math.ceil((until_us - now) / 1000) + 1000)
end
return 0
"""

# The upstream's window and ours never line up exactly, and requests arrive a little bunched;
# the benchmark saw a handful of 429s at 100% of VTEX's limit and none at 99%.
HEADROOM = 0.99


class RateLimiter:
    """At most ``per_minute`` requests in any minute for one account and endpoint.

    It runs at :data:`HEADROOM` of the limit, less the burst, so that even a burst at the
    start of a sliding window stays under the limit.

    :param burst: requests allowed back to back after an idle spell; small, so that a
        cold start does not exceed a strict per-second window upstream.
    """

    def __init__(self, client: redis.Redis, account: str, endpoint: str, per_minute: int, burst: int = 5) -> None:
        self.key = account_key(account, "ratelimit", endpoint)
        self.interval_us = round(60_000_000 / max(1.0, per_minute * HEADROOM - burst))
        self.tolerance_us = self.interval_us * (max(1, burst) - 1)
        self._script = client.register_script(_GCRA)
        self._penalize = client.register_script(_PENALIZE)

    def try_acquire(self) -> float:
        """Take one request's slot if it is free.

        :returns: 0 when the request may go now, else the seconds to wait before asking again.
        """
        wait_us = self._script(keys=[self.key], args=[self.interval_us, self.tolerance_us])
        return float(wait_us) / 1_000_000

    def acquire(self, max_wait: float = 30.0) -> None:
        """Wait for a slot, at most ``max_wait`` seconds in total.

        :raises TimeoutError: if no slot freed up in time, so the caller can give the work back.
        """
        deadline = time.monotonic() + max_wait
        while (wait := self.try_acquire()) > 0:
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"rate limit {self.key}: no slot within {max_wait:g}s")
            time.sleep(wait)

    def acquire_or_throttle(self, max_wait: float = 0.25) -> None:
        """Wait for a slot if it frees up within ``max_wait`` seconds.

        :raises Throttled: with the wait, so that a task gives its worker slot back instead of sleeping.
        """
        deadline = time.monotonic() + max_wait
        while (wait := self.try_acquire()) > 0:
            if time.monotonic() + wait > deadline:
                raise Throttled(f"rate limit {self.key} spent", retry_after=wait)
            time.sleep(wait)

    def penalize(self, seconds: float) -> None:
        """Hold every process's next request back for ``seconds`` (the upstream's ``Retry-After``)."""
        self._penalize(keys=[self.key], args=[round(seconds * 1_000_000), self.tolerance_us])
