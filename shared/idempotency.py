"""Exactly-once delivery of side effects over at-least-once messaging.

A *done* marker per delivered record is written only after the remote side confirmed it,
and a short *claim* keeps two workers from sending the same record at the same moment.
A crash between the remote confirmation and the done marker is the one window in which a
record can be sent twice; everything else is deduplicated here.
"""

from __future__ import annotations

import time

import redis

from shared.keys import account_key
from shared.locks import RedisLock


class Ledger:
    """Done markers and claims, keyed by ``(account, order id, state)``.

    :param client: the state-store Redis client (``decode_responses=True``).
    :param done_ttl: seconds a done marker is kept; longer than any redelivery horizon.
    :param claim_ttl: seconds a claim lasts if its holder dies without releasing it.
    """

    def __init__(self, client: redis.Redis, *, done_ttl: int, claim_ttl: int) -> None:
        self._redis = client
        self._done_ttl = done_ttl
        self._claim_ttl = claim_ttl

    @staticmethod
    def done_key(account: str, order_id: str, state: str, kind: str) -> str:
        return account_key(account, "done", order_id, state, kind)

    @staticmethod
    def claim_key(account: str, order_id: str, state: str) -> str:
        return account_key(account, "claim", order_id, state)

    def is_done(self, key: str) -> bool:
        return bool(self._redis.exists(key))

    def mark_done(self, key: str) -> None:
        self._redis.set(key, str(int(time.time())), ex=self._done_ttl)

    def claim(self, key: str, owner: str) -> bool:
        """Take the claim, or keep it if ``owner`` already holds it (a redelivered message).

        :returns: ``False`` if another owner holds it.
        """
        return RedisLock(self._redis, key, self._claim_ttl).acquire(owner)

    def release(self, key: str, owner: str) -> None:
        RedisLock(self._redis, key, self._claim_ttl).release(owner)
