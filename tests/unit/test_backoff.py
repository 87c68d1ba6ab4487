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


def test_window_and_attempt_cap():
    window = RetryPolicy(window_s=3600, max_attempts=0)
    capped = RetryPolicy(window_s=3600, max_attempts=5)

    assert not window.exhausted(500, first_failed_at=0, now=3599)
    assert window.exhausted(1, first_failed_at=0, now=3600)
    assert capped.exhausted(5, first_failed_at=0, now=1) and not capped.exhausted(4, first_failed_at=0, now=1)


def test_is_capped():
    assert retry_countdown(POLICY, 30) <= 60


def test_retry_after_wins_when_longer_but_stays_capped():
    assert retry_countdown(POLICY, 0, retry_after=30) == 30
    assert retry_countdown(POLICY, 0, retry_after=3600) == 60
    assert retry_countdown(POLICY, 4, retry_after=0.5, rng=random.Random(1)) >= 16
