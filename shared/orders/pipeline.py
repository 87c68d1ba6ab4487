"""The three steps that turn an order status change into delivered CleverTap records.

1. :func:`prepare` fetches the order and builds the event record.
2. :func:`resolve_identity` finds the customer's e-mail in Master Data ``CL``.
3. :mod:`shared.orders.flush` uploads what is not delivered yet, in batches, and marks it done.

Each step is plain Python over injected clients and stores; the Celery tasks in
``workers/`` are thin adapters around them.  Steps 2 and 3 read the result of the step
before from :class:`~shared.orders.pending.PendingStore` and rebuild it from OMS if it
expired, so any step can be requeued on its own.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from shared.errors import CustomerNotFoundYet, InvalidOrderData
from shared.idempotency import Ledger
from shared.orders.mapping import EventOptions, build_event_record, build_profile_record
from shared.orders.pending import EventRef, PendingEvent, PendingStore

# Master Data queries are built from order data: only a canonical UUID may reach the query string.
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EVENT = "event"
PROFILE = "profile"


class OrderSource(Protocol):
    def get_order(self, order_id: str) -> dict[str, Any]: ...


class CustomerDirectory(Protocol):
    def find_customer(self, user_id: str) -> dict[str, Any] | None: ...


class RecordFailure(Protocol):
    code: int
    error: str
    retryable: bool


class UploadResult(Protocol):
    failed: dict[int, RecordFailure]


class RecordSink(Protocol):
    def upload(self, records: list[dict[str, Any]]) -> UploadResult: ...


def prepare(
    ref: EventRef, orders: OrderSource, options: EventOptions, pending: PendingStore, ledger: Ledger,
    *, store: bool = True,
) -> PendingEvent | None:
    """Fetch the order and build the event record, storing it unless ``store`` is false.

    :param store: false when the caller resolves the identity next and stores the result itself.
    :returns: the pending event, or ``None`` when the event was already delivered or the
        state maps to no event.
    :raises InvalidOrderData: if the order has no usable ``userProfileId``.
    """
    if ledger.is_done(Ledger.done_key(ref.account, ref.order_id, ref.state, EVENT)):
        return None
    order = orders.get_order(ref.order_id)
    event = build_event_record(order, ref.state, ref.changed_at, options)
    if event is None:
        return None
    client = order.get("clientProfileData") if isinstance(order.get("clientProfileData"), dict) else {}
    user_id = client.get("userProfileId")
    if not isinstance(user_id, str) or not _UUID_RE.match(user_id):
        raise InvalidOrderData(f"order {ref.order_id} has no valid clientProfileData.userProfileId")
    prepared = PendingEvent(
        account=ref.account,
        order_id=ref.order_id,
        state=ref.state,
        changed_at=ref.changed_at.isoformat(),
        event=event,
        user_profile_id=user_id.lower(),
        client_profile={k: client.get(k) for k in ("firstName", "lastName", "phone")},
    )
    if store:
        pending.save(prepared)
    return prepared


def load_or_prepare(
    ref: EventRef, orders: OrderSource, options: EventOptions, pending: PendingStore, ledger: Ledger
) -> PendingEvent | None:
    """Load the pending event of ``ref``, rebuilding it from OMS when it is gone."""
    return pending.load(ref) or prepare(ref, orders, options, pending, ledger)


def resolve_identity(
    event: PendingEvent, customers: CustomerDirectory, options: EventOptions, pending: PendingStore
) -> PendingEvent:
    """Attach the customer's e-mail, and the profile record when profiles are uploaded.

    :raises CustomerNotFoundYet: when ``CL`` has no document with an e-mail for the user;
        retried, because a new customer's document can lag the order.
    """
    customer = customers.find_customer(event.user_profile_id)
    email = customer.get("email") if customer else None
    if not isinstance(email, str) or "@" not in email:
        raise CustomerNotFoundYet(f"no CL document with an e-mail for user {event.user_profile_id}")
    event.identity = email.strip().lower()
    if options.upload_profiles:
        event.profile = build_profile_record(
            event.identity, customer or {}, event.client_profile, event.event["ts"], options
        )
    pending.save(event)
    return event


def load_identified(
    ref: EventRef,
    orders: OrderSource,
    customers: CustomerDirectory,
    options: EventOptions,
    pending: PendingStore,
    ledger: Ledger,
) -> PendingEvent | None:
    """The pending event of ``ref`` with its identity, redoing whichever earlier step is missing.

    :returns: ``None`` when the event was already delivered or maps to no event.
    """
    event = load_or_prepare(ref, orders, options, pending, ledger)
    if event is not None and not event.identity:
        resolve_identity(event, customers, options, pending)
    return event
