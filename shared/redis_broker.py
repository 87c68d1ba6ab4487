"""Publishing a Celery task to the Redis broker with one ``LPUSH``.

Profiling the receiver under ``wrk`` showed Celery's ``send_task`` and kombu's producer
(pool checkout, retry wrapper, declare cache, exchange lookup, envelope) taking three
quarters of a hook's publishing time; the ``LPUSH`` itself was the rest.  Here Celery still
builds the message (``app.amqp.create_task_message``), so the task protocol stays Celery's;
the only thing written by hand is kombu's Redis envelope: the JSON object kombu's virtual
transport keeps in the queue's list (``kombu.transport.virtual.Channel.prepare_message`` and
``basic_publish``, ``kombu.transport.redis.Channel._put``).
``tests/integration/test_redis_broker.py`` checks it against kombu's own, field by field, and
every integration test's hook reaches a real worker this way.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import redis
from celery import Celery
from celery.utils.nodenames import anon_nodename
from kombu.serialization import dumps as serialize
from kombu.utils.json import dumps as json_dumps
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.names import queue_for

#: Client options for the receiver's Redis calls: VTEX waits 5 s for an answer, and the
#: journal write and the publish must both fit with room to spare, so a stalled server
#: costs 1.5 s and is not retried (the receiver answers 503 and VTEX retries). A dropped
#: connection is retried once at once; a retried LPUSH whose first try did land makes a
#: duplicate message, which the idempotent pipeline absorbs.
FAST_FAIL = {
    "socket_timeout": 1.5,
    "socket_connect_timeout": 1.0,
    "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
}


def envelope(message: Any, queue: str) -> str:
    """kombu's Redis envelope of a Celery task message, for the anonymous exchange.

    :param message: what ``app.amqp.create_task_message`` returned.
    :param queue: the queue's name, which is also the Redis list's key (priority 0).
    """
    content_type, content_encoding, body = serialize(message.body, serializer="json")
    properties = dict(message.properties)
    properties.update(
        # kombu's Producer: persistent, like every Celery task.
        delivery_mode=2,
        # Publishing to the default exchange with the queue's name, as Celery does for a direct queue.
        delivery_info={"exchange": "", "routing_key": queue},
        priority=0,
        body_encoding="base64",
        delivery_tag=str(uuid.uuid4()),
    )
    return json_dumps({
        "body": base64.b64encode(body.encode() if isinstance(body, str) else body).decode(),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": message.headers,
        "properties": properties,
    })


class RedisTaskWriter:
    """Puts tasks in the Redis broker's queues; safe to share between threads."""

    def __init__(self, app: Celery, broker_url: str) -> None:
        self._app = app
        self._origin = anon_nodename()
        self._reply_to = app.thread_oid
        self._redis = redis.Redis.from_url(broker_url, health_check_interval=25, **FAST_FAIL)

    def publish(self, task_name: str, kwargs: dict[str, Any], task_id: str, kwargsrepr: str) -> None:
        """:raises redis.RedisError: the broker did not take the message."""
        message = self._app.amqp.create_task_message(
            task_id, task_name, (), kwargs, reply_to=self._reply_to, origin=self._origin, ignore_result=True,
            argsrepr="()", kwargsrepr=kwargsrepr)
        queue = queue_for(task_name)
        self._redis.lpush(queue, envelope(message, queue))

    def close(self) -> None:
        self._redis.close()
