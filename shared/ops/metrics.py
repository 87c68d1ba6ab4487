"""Prometheus metrics of the receiver, kept in Redis so that every gunicorn process adds to one count.

Task-level metrics (runtimes, failures per task, worker state) come from Flower's ``/metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from shared.deliveries import DeliveryCounters
from shared.failures import FailureStore
from shared.keys import global_key

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENQUEUE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_HOOKS = global_key("metrics", "hooks")
_ENQUEUE = global_key("metrics", "enqueue_seconds")


class ReceiverMetrics:
    """Record hook outcomes and enqueue latencies; render everything in the text exposition format.

    :param queue_lengths: messages waiting per queue, from the broker.
    """

    def __init__(self, client: redis.Redis, accounts: list[str], queue_lengths: Callable[[], dict[str, int]]) -> None:
        self._redis = client
        self._accounts = accounts
        self._queue_lengths = queue_lengths
        self._failures = FailureStore(client)
        self._deliveries = DeliveryCounters(client)

    def hook(self, outcome: str) -> None:
        self._safely(lambda: self._redis.hincrby(_HOOKS, outcome, 1))

    def enqueue(self, seconds: float) -> None:
        bucket = next((str(b) for b in ENQUEUE_BUCKETS if seconds <= b), "+Inf")

        def write() -> None:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(_ENQUEUE, bucket, 1)
                pipe.hincrbyfloat(_ENQUEUE, "sum", seconds)
                pipe.execute()

        self._safely(write)

    def _safely(self, write: Callable[[], Any]) -> None:
        # A metric that cannot be written must not turn an accepted hook into an error.
        try:
            write()
        except redis.RedisError as exc:
            log.warning("metrics not recorded: %s", type(exc).__name__)

    def render(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return generate_latest(registry)


class _Collector:
    def __init__(self, metrics: ReceiverMetrics) -> None:
        self.m = metrics

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        hooks = CounterMetricFamily("vtexct_hooks", "Order notifications received, by outcome.", labels=["outcome"])
        for outcome, count in sorted(self.m._redis.hgetall(_HOOKS).items()):
            hooks.add_metric([outcome], float(count))
        yield hooks

        raw = self.m._redis.hgetall(_ENQUEUE)
        cumulative, buckets = 0.0, []
        for bound in [*map(str, ENQUEUE_BUCKETS), "+Inf"]:
            cumulative += float(raw.get(bound, 0))
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily("vtexct_enqueue_seconds", "Time to hand a hook's task to the broker.",
                                    buckets=buckets, sum_value=float(raw.get("sum", 0)))

        failures = GaugeMetricFamily("vtexct_failures", "Entries in the failure store.", labels=["account", "reason"])
        counts: dict[tuple[str, str], int] = {}
        for entry in self.m._failures.iter():
            counts[(entry.account, entry.reason)] = counts.get((entry.account, entry.reason), 0) + 1
        for (account, reason), count in sorted(counts.items()):
            failures.add_metric([account, reason], count)
        yield failures

        queues = GaugeMetricFamily("vtexct_queue_length", "Messages waiting in each queue.", labels=["queue"])
        for queue, length in sorted(self.m._queue_lengths().items()):
            queues.add_metric([queue], length)
        yield queues

        delivered = GaugeMetricFamily("vtexct_events_delivered_last_hour", "Events CleverTap confirmed in the "
                                      "last hour.", labels=["account"])
        now = time.time()
        for account in self.m._accounts:
            delivered.add_metric([account], self.m._deliveries.since(account, 3600, now))
        yield delivered
