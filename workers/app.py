"""The Celery application of the workers, configured once from validated settings."""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import setup_logging

from shared.celery_config import celery_config
from shared.logs import configure_logging
from shared.settings import load_settings

# Validated at import, so a worker with a bad configuration stops at start-up, naming the variable.
settings = load_settings()

app = Celery("vtexct", set_as_current=True)
app.conf.update(celery_config(settings))
app.conf.include = ["workers.orders", "workers.profiles", "workers.uploads", "workers.catalog"]


@setup_logging.connect
def _logging(**_: object) -> None:
    configure_logging(settings.log_format, settings.log_level)
    # Celery's own "received" and "succeeded" lines repeat, without our context, what the base
    # task logs for every task; at 100 orders/s they cost a tenth of a core.
    for name in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
