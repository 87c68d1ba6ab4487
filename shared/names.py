"""Task names and queues: the wire protocol between the receiver, beat and the workers.

Renaming a task or a queue breaks messages already in the broker and failure-store
entries that name them, so these strings change only with a migration.
"""

from enum import StrEnum


class Queue(StrEnum):
    ORDERS = "orders"
    PROFILES = "profiles"
    CLEVERTAP = "clevertap"
    CATALOG = "catalog"


class TaskName(StrEnum):
    ORDERS_HANDLE_STATUS_CHANGE = "orders.handle_status_change"
    ORDERS_RECONCILE = "orders.reconcile"
    ORDERS_POLL_FEEDS = "orders.poll_feeds"
    ORDERS_POLL_FEED = "orders.poll_feed"
    PROFILES_RESOLVE_IDENTITY = "profiles.resolve_identity"
    CLEVERTAP_UPLOAD_EVENT = "clevertap.upload_event"
    CLEVERTAP_FLUSH_OUTBOX = "clevertap.flush_outbox"
    CLEVERTAP_FLUSH_DUE_ACCOUNTS = "clevertap.flush_due_accounts"
    CATALOG_SYNC_DUE_ACCOUNTS = "catalog.sync_due_accounts"
    CATALOG_START_SYNC = "catalog.start_sync"
    CATALOG_FETCH_CHUNK = "catalog.fetch_chunk"
    CATALOG_ASSEMBLE_UPLOAD = "catalog.assemble_upload"


ROUTES: dict[str, dict[str, str]] = {
    TaskName.ORDERS_HANDLE_STATUS_CHANGE: {"queue": Queue.ORDERS},
    TaskName.ORDERS_RECONCILE: {"queue": Queue.ORDERS},
    TaskName.ORDERS_POLL_FEEDS: {"queue": Queue.ORDERS},
    TaskName.ORDERS_POLL_FEED: {"queue": Queue.ORDERS},
    TaskName.PROFILES_RESOLVE_IDENTITY: {"queue": Queue.PROFILES},
    TaskName.CLEVERTAP_UPLOAD_EVENT: {"queue": Queue.CLEVERTAP},
    TaskName.CLEVERTAP_FLUSH_OUTBOX: {"queue": Queue.CLEVERTAP},
    TaskName.CLEVERTAP_FLUSH_DUE_ACCOUNTS: {"queue": Queue.CLEVERTAP},
    TaskName.CATALOG_SYNC_DUE_ACCOUNTS: {"queue": Queue.CATALOG},
    TaskName.CATALOG_START_SYNC: {"queue": Queue.CATALOG},
    TaskName.CATALOG_FETCH_CHUNK: {"queue": Queue.CATALOG},
    TaskName.CATALOG_ASSEMBLE_UPLOAD: {"queue": Queue.CATALOG},
}


def queue_for(task_name: str) -> str:
    """Return the queue a task name is routed to.

    :param task_name: a :class:`TaskName` value.
    :raises KeyError: for a name with no route, which is a programming error.
    """
    return str(ROUTES[task_name]["queue"])
