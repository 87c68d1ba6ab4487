import time

import fakeredis
import pytest

from shared.ratelimit import RateLimiter


@pytest.fixture
def client():
    return fakeredis.FakeRedis(decode_responses=True)


def test_burst_then_spacing(client):
    limiter = RateLimiter(client, "acme", "catalog", per_minute=600, burst=3)  # one per 100 ms

    assert [limiter.try_acquire() for _ in range(3)] == [0, 0, 0]
    wait = limiter.try_acquire()

    assert 0.05 < wait <= 0.11


def test_limits_are_per_account_and_endpoint(client):
    a = RateLimiter(client, "acme", "catalog", per_minute=60, burst=1)
    b = RateLimiter(client, "other", "catalog", per_minute=60, burst=1)
    c = RateLimiter(client, "acme", "oms", per_minute=60, burst=1)

    assert a.try_acquire() == 0 and a.try_acquire() > 0
    assert b.try_acquire() == 0 and c.try_acquire() == 0


def test_acquire_paces_to_the_rate(client):
    limiter = RateLimiter(client, "acme", "catalog", per_minute=1200, burst=1)  # 50 ms apart
    started = time.monotonic()

    for _ in range(5):
        limiter.acquire()

    assert time.monotonic() - started >= 0.19


def test_acquire_gives_up_rather_than_waiting_long(client):
    limiter = RateLimiter(client, "acme", "catalog", per_minute=1, burst=1)
    limiter.acquire()

    with pytest.raises(TimeoutError):
        limiter.acquire(max_wait=0.1)


def test_penalty_holds_every_caller_back(client):
    first = RateLimiter(client, "acme", "catalog", per_minute=6000, burst=5)
    second = RateLimiter(client, "acme", "catalog", per_minute=6000, burst=5)

    first.penalize(2.0)

    assert 1.5 < second.try_acquire() <= 2.0
