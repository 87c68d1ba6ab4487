"""The done markers of a delivered batch outlast a state-store restart (fault scenario 3 on RabbitMQ)."""

import threading

import pytest
import redis

from shared.devstack import RedisServer
from shared.idempotency import Ledger

# Longer than redis-py's own retries of one command (10 tries, at most about 4.3 s of backoff).
OUTAGE_S = 6.0


def test_done_markers_wait_out_a_state_store_restart(tmp_path):
    # given: a worker's state-store client, and the store going down just before the markers
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    client = redis.Redis.from_url(server.url(1), decode_responses=True, socket_timeout=2, socket_connect_timeout=1)
    ledger = Ledger(client, done_ttl=60)
    server.stop()
    restart = threading.Timer(OUTAGE_S, server.start)
    restart.start()
    try:
        # when
        ledger.mark_done("vtexct:acme:done:o1-01:payment-approved:event", "vtexct:acme:done:o1-01:x:profile",
                         patience=30)
        restart.join()

        # then: written once the store is back, and an impatient call still fails on the same outage
        assert client.exists("vtexct:acme:done:o1-01:payment-approved:event", "vtexct:acme:done:o1-01:x:profile") == 2
        server.stop()
        with pytest.raises(redis.ConnectionError):
            ledger.mark_done("vtexct:acme:done:o2-01:payment-approved:event", patience=0)
    finally:
        restart.cancel()
        server.stop()
