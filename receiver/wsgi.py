"""``receiver.wsgi:application`` for gunicorn: settings from the environment, the Celery publisher."""

from __future__ import annotations

import redis

from receiver.app import create_app
from shared.catalog.runs import RunStore
from shared.ops.metrics import ReceiverMetrics
from shared.orders.journal import Journal
from shared.publisher import CeleryPublisher
from shared.redis_broker import FAST_FAIL
from shared.logs import configure_logging
from shared.settings import load_settings

settings = load_settings()
configure_logging(settings.log_format, settings.log_level)
_publisher = CeleryPublisher(settings)
_state = redis.Redis.from_url(settings.redis_url, decode_responses=True, **FAST_FAIL)

application = create_app(
    settings,
    _publisher,
    runs=RunStore(_state, settings.catalog_lock_ttl),
    checks={"broker": _publisher.ping, "redis": _state.ping},
    metrics=ReceiverMetrics(_state, list(settings.accounts), _publisher.queue_lengths),
    journal=lambda ref: Journal(_state, ref.account).accept(ref),
)
