"""Bring a store's order history in: list past orders and submit their events with historical ``ts``.

VTEX's list API serves at most 30 pages of 100 orders per query, so the date range is walked
in creation-date windows that each hold at most 3,000 orders: a window that holds more is
halved, a sparse one doubles the next.  The list rows carry each order's state and the
times of its changes; every event then goes through the usual pipeline, whose task fetches
the order (one OMS call per order) and skips what was already delivered.

The cursor, the end of the last window fully submitted, is kept in Redis under a key made
from the command's arguments, so running the same command again resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis

from shared.keys import account_key
from shared.orders.hooks import parse_timestamp
from shared.orders.pending import EventRef

MAX_PAGES = 30
PER_PAGE = 100
WINDOW_CAP = MAX_PAGES * PER_PAGE
#: The states a backfill can send, and the default.
STATES = ("payment-approved", "canceled")
FIRST_WINDOW = timedelta(days=1)
SMALLEST_WINDOW = timedelta(minutes=1)
LARGEST_WINDOW = timedelta(days=31)
CURSOR_TTL = 30 * 86400


class OrderLister(Protocol):
    def list_orders(self, created_from: str, created_to: str, page: int, per_page: int) -> dict[str, Any]: ...

    def get_order(self, order_id: str) -> dict[str, Any]: ...


def vtex_instant(moment: datetime) -> str:
    """An instant as VTEX's list filter takes it: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _time(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def events_of(row: dict[str, Any], states: tuple[str, ...],
              fetch: Callable[[str], dict[str, Any]]) -> list[tuple[str, datetime]]:
    """The ``(state, when)`` events an order's history holds, among ``states``.

    An order that was ever authorized was ``payment-approved`` at ``authorizedDate``, whatever
    it became later; a ``canceled`` order was canceled at its last change.  ``fetch`` reads
    the whole order only when the row lacks that time.
    """
    events = []
    approved = _time(row.get("authorizedDate"))
    if "payment-approved" in states and approved is not None:
        events.append(("payment-approved", approved))
    if "canceled" in states and row.get("status") == "canceled":
        when = _time(row.get("lastChange")) or _time(fetch(row["orderId"]).get("lastChange"))
        if when is not None:
            events.append(("canceled", when))
    return events


@dataclass
class BackfillReport:
    orders: int = 0
    windows: int = 0
    submitted: Counter[str] = field(default_factory=Counter)
    already_delivered: int = 0
    without_event: int = 0
    #: Orders in a one-minute window of more than 3,000, which VTEX's list cannot page to.
    beyond_cap: int = 0
    resumed_from: str | None = None
    dry_run: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "windows": self.windows, "submitted": dict(self.submitted),
                "already_delivered": self.already_delivered, "without_event": self.without_event,
                "beyond_cap": self.beyond_cap, "resumed_from": self.resumed_from, "dry_run": self.dry_run,
                "seconds": round(self.seconds, 1)}


class Cursor:
    """Where one backfill job stands: ``vtexct:<account>:backfill:<job>``, a hash."""

    def __init__(self, client: redis.Redis, account: str, since: datetime, until: datetime | None,
                 states: tuple[str, ...]) -> None:
        # An open range ("until now") is one job however late it resumes.
        job = f"{vtex_instant(since)}|{vtex_instant(until) if until else 'now'}|{','.join(sorted(states))}"
        self.key = account_key(account, "backfill", hashlib.sha256(job.encode()).hexdigest()[:16])
        self._redis = client

    def position(self) -> datetime | None:
        raw = self._redis.hget(self.key, "next_from")
        return _time(raw) if raw else None

    def totals(self) -> dict[str, Any]:
        raw = self._redis.hget(self.key, "totals")
        return json.loads(raw) if raw else {}

    def advance(self, next_from: datetime, report: BackfillReport) -> None:
        with self._redis.pipeline() as pipe:
            pipe.hset(self.key, mapping={"next_from": vtex_instant(next_from), "totals": json.dumps(report.as_dict()),
                                         "at": time.time()})
            pipe.expire(self.key, CURSOR_TTL)
            pipe.execute()

    def clear(self) -> None:
        self._redis.delete(self.key)


@dataclass
class Backfill:
    """One backfill of one account; the callables are its ties to the outside world.

    :param submit: sends an event into the pipeline (not called on a dry run).
    :param delivered: whether an event was delivered already.
    :param wait_for_slot: blocks until the account's OMS budget allows one request.
    :param wait_for_room: blocks while the orders queue is too long for live events' comfort.
    :param progress: called with ``(orders_done, orders_total, window_label)``.
    """

    source: OrderLister
    account: str
    submit: Callable[[EventRef], None]
    delivered: Callable[[EventRef], bool]
    wait_for_slot: Callable[[], None]
    wait_for_room: Callable[[], None] = lambda: None
    progress: Callable[[int, int, str], None] = lambda done, total, label: None

    def _list(self, start: datetime, end: datetime, page: int, per_page: int = PER_PAGE) -> dict[str, Any]:
        self.wait_for_slot()
        # VTEX's filter includes both ends; the window is [start, end), so stop a millisecond short.
        return self.source.list_orders(vtex_instant(start), vtex_instant(end - timedelta(milliseconds=1)),
                                       page, per_page)

    def _fetch(self, order_id: str) -> dict[str, Any]:
        self.wait_for_slot()
        return self.source.get_order(order_id)

    def count(self, since: datetime, until: datetime) -> int:
        """How many orders the range holds (VTEX counts them all, beyond the pages it serves)."""
        return int(self._list(since, until, 1, per_page=1).get("paging", {}).get("total", 0))

    def run(self, since: datetime, until: datetime, states: tuple[str, ...], cursor: Cursor | None,
            *, dry_run: bool = False) -> BackfillReport:
        """Walk ``[since, until)`` and submit every matching event; ``cursor`` is ``None`` on a dry run."""
        began = time.monotonic()
        report = BackfillReport(dry_run=dry_run)
        start = since
        if cursor is not None and (position := cursor.position()) is not None:
            start, report.resumed_from = position, vtex_instant(position)
            _restore(report, cursor.totals())
        total = report.orders + self.count(start, until)
        self.progress(report.orders, total, "")
        window = FIRST_WINDOW
        while start < until:
            end = min(start + window, until)
            first = self._list(start, end, 1)
            held = int(first.get("paging", {}).get("total", 0))
            if held > WINDOW_CAP and end - start > SMALLEST_WINDOW:
                # Shrink to what should hold about two thirds of the cap, at least by half.
                window = max(SMALLEST_WINDOW, min((end - start) / 2, (end - start) * (WINDOW_CAP * 0.66 / held)))
                continue
            report.beyond_cap += max(0, held - WINDOW_CAP)
            self._window(start, end, first, states, report, total, dry_run)
            report.windows += 1
            if cursor is not None:
                cursor.advance(end, report)
            start = end
            if held < WINDOW_CAP / 4:
                window = min(LARGEST_WINDOW, window * 2)
        report.seconds = time.monotonic() - began
        return report

    def _window(self, start: datetime, end: datetime, first: dict[str, Any], states: tuple[str, ...],
                report: BackfillReport, total: int, dry_run: bool) -> None:
        pages = min(MAX_PAGES, int(first.get("paging", {}).get("pages", 1) or 1))
        label = f"{vtex_instant(start)[:16]} → {vtex_instant(end)[:16]}"
        for page in range(1, pages + 1):
            answer = first if page == 1 else self._list(start, end, page)
            for row in answer["list"]:
                if not isinstance(row, dict) or not isinstance(row.get("orderId"), str):
                    continue
                report.orders += 1
                events = events_of(row, states, self._fetch)
                if not events:
                    report.without_event += 1
                for state, when in events:
                    ref = EventRef(self.account, row["orderId"], state, when)
                    if self.delivered(ref):
                        report.already_delivered += 1
                        continue
                    if not dry_run:
                        self.wait_for_room()
                        self.submit(ref)
                    report.submitted[state] += 1
                self.progress(report.orders, total, label)


def _restore(report: BackfillReport, totals: dict[str, Any]) -> None:
    """Carry the counts of the interrupted run on, so the final report covers the whole job."""
    report.orders = int(totals.get("orders", 0))
    report.windows = int(totals.get("windows", 0))
    report.submitted.update(totals.get("submitted", {}))
    report.already_delivered = int(totals.get("already_delivered", 0))
    report.without_event = int(totals.get("without_event", 0))
    report.beyond_cap = int(totals.get("beyond_cap", 0))


def parse_day_or_instant(value: str) -> datetime:
    """``2026-01-01`` (midnight UTC) or a full ISO-8601 instant.

    :raises ValueError: naming the accepted forms.
    """
    try:
        if len(value) == 10:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return parse_timestamp(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2026-01-01) or an ISO-8601 instant") from None
