"""Prometheus metrics of the receiver, kept in Redis so that every gunicorn process adds to one count.

Task-level metrics (runtimes, failures per task, worker state) come from Flower's ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

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
    """Count hook outcomes and enqueue latencies; render everything in the text exposition format.

    Counts gather in the process and a background thread adds them to Redis every
    ``flush_interval`` seconds, so a hook costs no extra round trip; a crash loses at most that
    interval of counts.

    :param queue_lengths: messages waiting per queue, from the broker.
    """

    def __init__(self, client: redis.Redis, accounts: list[str], queue_lengths: Callable[[], dict[str, int]],
                 flush_interval: float = 1.0) -> None:
        self._redis = client
        self._accounts = accounts
        self._queue_lengths = queue_lengths
        self._failures = FailureStore(client)
        self._deliveries = DeliveryCounters(client)
        self._interval = flush_interval
        self._lock = threading.Lock()
        self._hooks: Counter[str] = Counter()
        # Keyed "account|bound" and "account|sum", as the fields of the Redis hash.
        self._enqueue: Counter[str] = Counter()
        self._flusher_pid: int | None = None

    def hook(self, outcome: str, account: str | None = None, enqueue_seconds: float | None = None) -> None:
        """Count one notification's outcome and, if it was enqueued, how long that took.

        :param account: the configured account it was for; ``None`` before one was known
            (an unknown account is no label: callers must not be able to invent series).
        """
        label = account or ""
        with self._lock:
            self._hooks[f"{label}|{outcome}"] += 1
            if enqueue_seconds is not None:
                bound = next((str(b) for b in ENQUEUE_BUCKETS if enqueue_seconds <= b), "+Inf")
                self._enqueue[f"{label}|{bound}"] += 1
                self._enqueue[f"{label}|sum"] += enqueue_seconds
        # gunicorn forks its workers after loading the app: each process starts its own flusher.
        if self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True).start()

    def flush(self) -> None:
        """Add what this process counted to the shared counts in Redis."""
        with self._lock:
            hooks, enqueue = self._hooks, self._enqueue
            self._hooks, self._enqueue = Counter(), Counter()
        if not hooks and not enqueue:
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for outcome, count in hooks.items():
                    pipe.hincrby(_HOOKS, outcome, count)
                for field_, value in enqueue.items():
                    if field_.endswith("|sum"):
                        pipe.hincrbyfloat(_ENQUEUE, field_, value)
                    else:
                        pipe.hincrby(_ENQUEUE, field_, int(value))
                pipe.execute()
        except redis.RedisError as exc:
            # Metrics must never turn an accepted hook into an error; keep the counts for the next try.
            log.warning("metrics not recorded yet: %s", type(exc).__name__)
            with self._lock:
                self._hooks.update(hooks)
                self._enqueue.update(enqueue)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()

    def render(self) -> bytes:
        """The exposition text; a source that does not answer is left out and shown in ``vtexct_source_up``."""
        self.flush()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return generate_latest(registry)


class _Collector:
    def __init__(self, metrics: ReceiverMetrics) -> None:
        self.m = metrics

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        up = GaugeMetricFamily("vtexct_source_up", "Whether the source of the other metrics answered this scrape.",
                               labels=["source"])
        for source, families in (("state_store", self._state), ("broker", self._queues)):
            try:
                # Collected first, so that a source failing midway yields nothing half-written.
                collected = list(families())
            except Exception as exc:
                # The page must answer exactly when something is down: that is when it is read.
                log.warning("metrics source %s did not answer: %s", source, type(exc).__name__)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from collected
        yield up

    def _queues(self):  # noqa: ANN202 - a generator of metric families
        queues = GaugeMetricFamily("vtexct_queue_length", "Messages waiting in each queue.", labels=["queue"])
        for queue, length in sorted(self.m._queue_lengths().items()):
            queues.add_metric([queue], length)
        yield queues

    def _state(self):  # noqa: ANN202 - a generator of metric families
        hooks = CounterMetricFamily("vtexct_hooks", "Order notifications received, by account and outcome.",
                                    labels=["account", "outcome"])
        for field_, count in sorted(self.m._redis.hgetall(_HOOKS).items()):
            account, _, outcome = field_.rpartition("|")
            hooks.add_metric([account, outcome], float(count))
        yield hooks

        by_account: dict[str, dict[str, float]] = {}
        for field_, value in self.m._redis.hgetall(_ENQUEUE).items():
            account, _, bound = field_.rpartition("|")
            by_account.setdefault(account, {})[bound] = float(value)
        enqueue = HistogramMetricFamily("vtexct_enqueue_seconds", "Time to hand a hook's task to the broker, by "
                                        "account.", labels=["account"])
        for account, raw in sorted(by_account.items()):
            cumulative, buckets = 0.0, []
            for bound in [*map(str, ENQUEUE_BUCKETS), "+Inf"]:
                cumulative += raw.get(bound, 0)
                buckets.append((bound, cumulative))
            enqueue.add_metric([account], buckets, sum_value=raw.get("sum", 0))
        yield enqueue

        failures = GaugeMetricFamily("vtexct_failures", "Entries in the failure store.", labels=["account", "reason"])
        counts: dict[tuple[str, str], int] = {}
        for entry in self.m._failures.iter():
            counts[(entry.account, entry.reason)] = counts.get((entry.account, entry.reason), 0) + 1
        for (account, reason), count in sorted(counts.items()):
            failures.add_metric([account, reason], count)
        yield failures

        delivered = GaugeMetricFamily("vtexct_events_delivered_last_hour", "Events CleverTap confirmed in the "
                                      "last hour.", labels=["account"])
        now = time.time()
        for account in self.m._accounts:
            delivered.add_metric([account], self.m._deliveries.since(account, 3600, now))
        yield delivered
