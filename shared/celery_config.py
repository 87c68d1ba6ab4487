"""Every Celery setting of the project, for the workers and the receiver's publisher alike."""

from __future__ import annotations

from typing import Any

from kombu import Exchange
from kombu import Queue as KombuQueue

from shared.names import ROUTES, Queue, TaskName
from shared.settings import Settings, cron_schedule


def soft_limit(hard: int) -> float:
    """The soft time limit that goes with a hard one: time for the task to fail cleanly first."""
    return hard - min(10.0, hard * 0.2)


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


def celery_config(settings: Settings) -> dict[str, Any]:
    """The one ``conf.update(...)`` of the project.

    Values that are not Celery's defaults carry the reason they were chosen.
    """
    vt = settings.visibility_timeout
    config = {
        "broker_url": settings.broker_url,
        # Chord results (catalog sync) need a backend; it lives beside the other state.
        "result_backend": settings.redis_url,
        # Redis emulates acks: a message unacked for longer than this is handed out again,
        # so it must outlast the longest countdown plus the hard time limit (checked in Settings).
        "broker_transport_options": {
            "visibility_timeout": vt,
            "socket_timeout": 5,
            "socket_connect_timeout": 3,
            "health_check_interval": 25,
            "retry_on_timeout": True,
            # Scan for expired unacked messages every 10 s instead of kombu's default ~100 s.
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        },
        # Celery reads the timeout from these two places as well; a mismatch is silently ignored.
        "result_backend_transport_options": {"visibility_timeout": vt},
        "visibility_timeout": vt,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # A worker that dies mid-task must not lose the message: ack after the task ran,
        # and requeue when a child process is killed (OOM killer, hard time limit).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Each process reserves only the task it runs, so no message waits unacked behind a slow one.
        "worker_prefetch_multiplier": 1,
        # A late-ack task whose broker connection dropped would run again elsewhere; stop it here.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": soft_limit(settings.task_time_limit),
        # Results are not read back, except by chords, whose tasks opt in.
        "task_ignore_result": True,
        "result_expires": 2 * 24 * 3600,
        "task_queues": [KombuQueue(q.value, routing_key=q.value) for q in Queue],
        "task_default_queue": Queue.ORDERS.value,
        "task_routes": {name: dict(route) for name, route in ROUTES.items()},
        # Flower and the ops tooling see every task's life cycle.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # The receiver must answer VTEX within 5 s: give up publishing fast and answer 503.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        "broker_connection_timeout": 3,
        "broker_connection_retry_on_startup": True,
        # Warm shutdown waits this long for running tasks before the cold one requeues them.
        "worker_soft_shutdown_timeout": 30,
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_hijack_root_logger": False,
        # crontab() reads the app's time zone; the daily catalog sync is the only schedule.
        "timezone": settings.catalog_sync_timezone,
        "beat_schedule": {
            # The outbox's safety net: events whose flusher died, or whose retry came due, go out
            # even when no new event arrives to trigger a flush.
            "clevertap-flush-due": {
                "task": str(TaskName.CLEVERTAP_FLUSH_DUE_ACCOUNTS),
                "schedule": 15.0,
                "options": {"expires": 15},
            },
            # Accepted events that a broker loss window swallowed go through again.
            "orders-reconcile": {
                "task": str(TaskName.ORDERS_RECONCILE),
                "schedule": settings.reconcile_interval_s,
                "options": {"expires": settings.reconcile_interval_s},
            },
            # What a hook delivery missed, read back from VTEX's Orders Feed (accounts that opted in).
            "orders-feed-safety-net": {
                "task": str(TaskName.ORDERS_POLL_FEEDS),
                "schedule": settings.feed_poll_interval_s,
                "options": {"expires": settings.feed_poll_interval_s},
            },
            "catalog-sync-daily": {
                "task": str(TaskName.CATALOG_SYNC_DUE_ACCOUNTS),
                "schedule": cron_schedule(settings.catalog_sync_cron),
                # A beat that was down must not fire a day's worth of late runs at once.
                "options": {"expires": 3600},
            },
        },
    }
    if is_amqp(settings.broker_url):
        config.update({
            # Quorum queues are replicated and survive a broker restart; the topic exchange is what
            # Celery's native delayed delivery (countdowns on quorum queues) needs.
            "task_queues": [KombuQueue(q.value, Exchange(q.value, type="topic"), routing_key=q.value,
                                       queue_arguments={"x-queue-type": "quorum"}) for q in Queue],
            # Publisher confirms: the receiver's 200 waits until RabbitMQ has taken the message.
            "broker_transport_options": {"confirm_publish": True},
        })
    return config
