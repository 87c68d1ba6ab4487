"""Publish tasks by name to the broker, without importing any worker code."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Protocol

from celery import Celery

from shared.celery_config import celery_config, is_amqp
from shared.names import Queue
from shared.redis_broker import RedisTaskWriter
from shared.settings import Settings

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not take the message; the sender should retry."""


class Publisher(Protocol):
    def publish(self, task_name: str, kwargs: dict[str, Any]) -> str: ...

    def ping(self) -> bool: ...


class CeleryPublisher:
    """Sends tasks by name through a task-less Celery app that shares the workers' routes.

    On RabbitMQ it publishes through Celery and kombu (publisher confirms); on Redis it writes
    the message with one ``LPUSH`` (:mod:`shared.redis_broker`), a third of the cost.
    """

    def __init__(self, settings: Settings) -> None:
        self._app = Celery("vtexct-receiver", set_as_current=False)
        self._app.conf.update(celery_config(settings))
        # A "task-sent" event is a second publish per hook and halved the receiver's throughput;
        # Flower still sees every task from the workers' received/started/succeeded events.
        self._app.conf.task_send_sent_event = False
        self._writer = None if is_amqp(settings.broker_url) else RedisTaskWriter(self._app, settings.broker_url)

    def publish(self, task_name: str, kwargs: dict[str, Any]) -> str:
        """Publish and return the task id once the broker accepted the message.
        :raises PublishError: when the broker cannot be reached within the retry policy.
        """
        task_id = str(uuid.uuid4())
        # Given, not computed: Celery's saferepr of the kwargs cost a sixth of a hook's time.
        kwargsrepr = json.dumps(kwargs, separators=(",", ":"))
        try:
            if self._writer is not None:
                self._writer.publish(task_name, kwargs, task_id, kwargsrepr)
            else:
                # ignore_result: otherwise Celery subscribes to the result backend for every message,
                # and a state store that is down would hold the answer to VTEX for 20 s.
                # The timeouts bound a blocked RabbitMQ (a memory or disk alarm) well inside VTEX's 5 s.
                self._app.send_task(task_name, kwargs=kwargs, task_id=task_id, ignore_result=True, argsrepr="()",
                                    kwargsrepr=kwargsrepr, timeout=2, confirm_timeout=2)
        except Exception as exc:
            # kombu raises several unrelated types for a broker that is down; all mean "not accepted".
            raise PublishError(f"broker did not accept {task_name}: {type(exc).__name__}") from exc
        return task_id

    def ping(self) -> bool:
        try:
            with self._app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception as exc:
            log.warning("broker ping failed: %s", type(exc).__name__)
            return False

    def queue_lengths(self) -> dict[str, int]:
        """Messages waiting in each of our queues (not those reserved by a worker)."""
        lengths = {}
        with self._app.connection_for_write() as conn:
            for queue in Queue:
                # A channel per queue: on AMQP a failed passive declare closes its channel.
                with conn.channel() as channel:
                    try:
                        lengths[queue.value] = channel.queue_declare(queue.value, passive=True).message_count
                    except conn.channel_errors:
                        # No worker has declared the queue yet, so nothing can be waiting in it.
                        lengths[queue.value] = 0
        return lengths
