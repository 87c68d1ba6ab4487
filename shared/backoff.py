"""How long a task waits before its next try."""

from __future__ import annotations

import random

from shared.settings import RetryPolicy


def retry_countdown(
    policy: RetryPolicy, retries: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds to wait before try number ``retries + 2``.

    Exponential from ``backoff_base``, capped at ``backoff_max``, with jitter in the upper
    half so that a burst of failures does not come back as a burst.  A server's
    ``Retry-After`` wins when it asks for longer, and is capped too: a countdown past the
    broker's visibility timeout would make the message run twice.
    """
    ceiling = min(policy.backoff_max, policy.backoff_base * (2 ** retries))
    wait = ceiling * (rng or random).uniform(0.5, 1.0)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return min(wait, policy.backoff_max)
