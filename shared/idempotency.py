"""Exactly-once delivery of side effects over at-least-once messaging.

A *done* marker per delivered record is written only after the remote side confirmed it.
The outbox's lease (:mod:`shared.orders.outbox`) keeps two workers from sending the same
record at the same moment.  A crash between the remote confirmation and the done marker is
the one window in which a record can be sent twice.
"""

from __future__ import annotations

import logging
import time

import redis

from shared.keys import account_key

log = logging.getLogger(__name__)


class Ledger:
    """Done markers, keyed by ``(account, order id, state, record kind)``.

    :param client: the state-store Redis client (``decode_responses=True``).
    :param done_ttl: seconds a done marker is kept; longer than any redelivery horizon.
    """

    def __init__(self, client: redis.Redis, *, done_ttl: int) -> None:
        self._redis = client
        self._done_ttl = done_ttl

    @staticmethod
    def done_key(account: str, order_id: str, state: str, kind: str) -> str:
        return account_key(account, "done", order_id, state, kind)

    def is_done(self, key: str) -> bool:
        return bool(self._redis.exists(key))

    def mark_done(self, *keys: str, patience: float = 0.0) -> None:
        """Mark records delivered, all in one round trip: the time between CleverTap's answer and
        these markers is the window in which a crash makes a record go out twice.

        :param patience: seconds to keep trying while the state store is unreachable or still
            loading (a restart): the records are already delivered, and without their markers
            they would go out again once their lease runs out.
        :raises redis.ConnectionError: if the store stayed unreachable for ``patience`` seconds.
        """
        if not keys:
            return
        deadline, pause = time.monotonic() + patience, 0.1
        while True:
            try:
                stamp = str(int(time.time()))
                with self._redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.set(key, stamp, ex=self._done_ttl)
                    pipe.execute()
                return
            # BusyLoadingError (a restart reading its AOF) is a ConnectionError too. SET only
            # overwrites, so repeating a try whose answer was lost is safe.
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("state store unreachable while marking %d delivered record(s), trying again: %s",
                            len(keys), exc)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

