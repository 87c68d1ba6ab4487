import random

from shared.backoff import retry_countdown
from shared.settings import RetryPolicy

POLICY = RetryPolicy(max_attempts=10, backoff_base=2, backoff_max=60)


def test_grows_exponentially_with_jitter_in_the_upper_half():
    rng = random.Random(1)
    for retries, ceiling in [(0, 2), (1, 4), (3, 16), (4, 32)]:
        waits = [retry_countdown(POLICY, retries, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4


def test_is_capped():
    assert retry_countdown(POLICY, 30) <= 60


def test_retry_after_wins_when_longer_but_stays_capped():
    assert retry_countdown(POLICY, 0, retry_after=30) == 30
    assert retry_countdown(POLICY, 0, retry_after=3600) == 60
    assert retry_countdown(POLICY, 4, retry_after=0.5, rng=random.Random(1)) >= 16
