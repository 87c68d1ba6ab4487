"""The receiver's Prometheus page on fakeredis: counts per account, kept across processes in Redis."""

import fakeredis

from shared.ops.metrics import ReceiverMetrics


def _metrics(client, queue_lengths=lambda: {"orders": 3}):
    return ReceiverMetrics(client, ["storea", "storeb"], queue_lengths, flush_interval=3600)


def test_hooks_and_enqueue_latency_are_counted_per_account_across_processes():
    client = fakeredis.FakeRedis(decode_responses=True)
    one, other = _metrics(client), _metrics(client)  # two gunicorn processes, one Redis

    one.hook("accepted", "storea", 0.004)
    one.hook("accepted", "storea", 0.3)
    other.hook("accepted", "storeb", 0.002)
    other.hook("bad_secret", None)
    one.flush()
    page = other.render().decode()

    assert 'vtexct_hooks_total{account="storea",outcome="accepted"} 2.0' in page
    assert 'vtexct_hooks_total{account="",outcome="bad_secret"} 1.0' in page
    assert 'vtexct_enqueue_seconds_bucket{account="storea",le="0.005"} 1.0' in page
    assert 'vtexct_enqueue_seconds_bucket{account="storea",le="+Inf"} 2.0' in page
    assert 'vtexct_enqueue_seconds_count{account="storeb"} 1.0' in page
    assert 'vtexct_enqueue_seconds_sum{account="storea"} 0.304' in page
    assert 'vtexct_queue_length{queue="orders"} 3.0' in page


def test_a_broker_that_does_not_answer_leaves_the_rest_of_the_page():
    def down():
        raise ConnectionError("broker down")

    metrics = _metrics(fakeredis.FakeRedis(decode_responses=True), down)
    metrics.hook("accepted", "storea", 0.01)

    page = metrics.render().decode()

    assert 'vtexct_source_up{source="broker"} 0.0' in page and "vtexct_queue_length" not in page
    assert 'vtexct_source_up{source="state_store"} 1.0' in page
    assert 'vtexct_enqueue_seconds_count{account="storea"} 1.0' in page
