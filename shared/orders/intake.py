"""The one way an order event enters the pipeline, whoever saw it: the hook, the feed or a backfill."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.names import TaskName
from shared.orders.pending import EventRef

#: ``publish(task_name, kwargs)``: put a task in the broker, by name.
Publish = Callable[[TaskName, dict[str, str]], Any]


def submit(ref: EventRef, journal: Callable[[EventRef], None] | None, publish: Publish) -> Any:
    """Journal the event, then publish its first task; returns what ``publish`` returns.

    Journal first: an event in the journal but not in the broker is found by the reconciler;
    the reverse could not be.  Submitting an event twice is harmless, because every step of
    the pipeline is idempotent.
    """
    if journal is not None:
        journal(ref)
    return publish(TaskName.ORDERS_HANDLE_STATUS_CHANGE, ref.to_kwargs())
