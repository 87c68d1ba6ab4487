"""What the sandbox knows and records: accounts, orders, customers, catalogs, faults, received data.

All access goes through one lock; the HTTP server is threaded.
"""

from __future__ import annotations

import collections
import hashlib
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.sandbox.factory import make_customer, make_order, make_sku
from shared.sandbox.feed import FeedQueue, new_item

SERVICES = ("oms", "oms_list", "md", "catalog_ids", "catalog_sku", "hook", "feed", "clevertap", "clevertap_catalog",
            "s3")


@dataclass(frozen=True)
class SandboxAccount:
    """Credentials the sandbox accepts for one store and its CleverTap project."""

    name: str
    app_key: str
    app_token: str
    clevertap_account_id: str
    clevertap_passcode: str


@dataclass
class Faults:
    """How one service misbehaves.

    :ivar latency_ms: added to every answer.
    :ivar error_rate: share of requests answered ``error_status`` (503 unless set).
    :ivar script: statuses for the next requests, one consumed per request (200 = behave).
    :ivar retry_after: the ``Retry-After`` seconds of a scripted 429.
    :ivar rate_per_min: requests per minute per account; beyond it 429 with ``Retry-After``.
    :ivar max_concurrency: requests in flight per account; beyond it 429 (CleverTap allows 15).
    :ivar accounts: the sandbox account names (not CleverTap ids) all of the above applies to;
        ``None`` means every account.  Other accounts' requests neither suffer these faults nor
        consume the script.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    script: list[int] = field(default_factory=list)
    retry_after: int = 1
    rate_per_min: int | None = None
    max_concurrency: int | None = None
    accounts: list[str] | None = None

    def applies_to(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts


@dataclass
class CatalogSpec:
    """A generated catalog: SKU ids ``1..size``; some inactive, some failing on every fetch."""

    size: int = 0
    inactive_rate: float = 0.05
    failing_rate: float = 0.005

    def _fraction(self, sku_id: int, salt: str) -> float:
        digest = hashlib.sha256(f"{salt}:{sku_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def is_failing(self, sku_id: int) -> bool:
        return self._fraction(sku_id, "failing") < self.failing_rate

    def is_active(self, sku_id: int) -> bool:
        return self._fraction(sku_id, "inactive") >= self.inactive_rate


class SandboxState:
    """The sandbox's memory.  Methods are thread-safe."""

    def __init__(self, accounts: list[SandboxAccount], *, auto_orders: bool = True) -> None:
        self.lock = threading.RLock()
        self.accounts = {a.name: a for a in accounts}
        self.auto_orders = auto_orders
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.orders: dict[tuple[str, str], dict[str, Any]] = {}
            self.customers: dict[tuple[str, str], dict[str, Any]] = {}
            self.md_misses: dict[tuple[str, str], int] = {}
            self.rejections: dict[tuple[str, str], list[int]] = {}
            self.faults: dict[str, Faults] = {name: Faults() for name in SERVICES}
            self.catalogs: dict[str, CatalogSpec] = {}
            self.received: list[dict[str, Any]] = []
            self.counts: collections.Counter[str] = collections.Counter()
            self.s3_objects: dict[str, dict[str, Any]] = {}
            self.presigned: dict[str, str] = {}
            self.catalog_completions: list[dict[str, Any]] = []
            self.existing_catalogs: set[tuple[str, str]] = set()
            self.hook_configs: dict[str, dict[str, Any]] = {}
            self.feed_configs: dict[str, dict[str, Any]] = {}
            self.feeds: dict[str, FeedQueue] = collections.defaultdict(FeedQueue)
            self.in_flight: collections.Counter[tuple[str, str]] = collections.Counter()
            self.max_in_flight: collections.Counter[tuple[str, str]] = collections.Counter()
            self.windows: dict[tuple[str, str], collections.deque[float]] = collections.defaultdict(collections.deque)

    # -- configuration -------------------------------------------------------------------------

    def set_faults(self, service: str, **changes: Any) -> None:
        if service not in SERVICES:
            raise KeyError(f"unknown service {service!r}; one of {SERVICES}")
        with self.lock:
            if isinstance(changes.get("accounts"), str):
                # A bare name would match as a substring ("a" in "ab"); insist on a list.
                raise TypeError("accounts must be a list of account names or null")
            current = asdict(self.faults[service])
            current.update(changes)
            self.faults[service] = Faults(**current)

    def add_order(self, account: str, order: dict[str, Any]) -> None:
        with self.lock:
            self.orders[(account, order["orderId"])] = order
            user = order.get("clientProfileData", {}).get("userProfileId")
            if user and (account, user) not in self.customers:
                self.customers[(account, user)] = make_customer(user)

    def add_customer(self, account: str, customer: dict[str, Any]) -> None:
        with self.lock:
            self.customers[(account, customer["userId"])] = customer

    def remove_customer(self, account: str, user_id: str) -> None:
        with self.lock:
            self.customers.pop((account, user_id), None)

    def delay_customer(self, account: str, user_id: str, misses: int) -> None:
        """Answer the next ``misses`` CL searches for ``user_id`` with ``[]``, like Master Data's lag."""
        with self.lock:
            self.md_misses[(account, user_id)] = misses

    def reject_event(self, account: str, order_id: str, codes: list[int]) -> None:
        """Put the next event records of ``order_id`` in ``unprocessed`` with these codes, one per upload."""
        with self.lock:
            self.rejections[(account, order_id)] = list(codes)

    def set_catalog(self, account: str, spec: CatalogSpec) -> None:
        with self.lock:
            self.catalogs[account] = spec

    def push_feed(self, account: str, items: list[dict[str, Any]]) -> int:
        """Queue feed items; returns how many were kept.

        Like VTEX, a ``FromWorkflow`` config drops items whose state it does not list.  With no
        config yet every item is kept, so a test may fill the feed before the client configures it.
        """
        with self.lock:
            allowed = (self.feed_configs.get(account) or {}).get("filter", {}).get("status")
            kept = [new_item(item) for item in items]
            kept = [item for item in kept if allowed is None or item.state in allowed]
            for item in kept:
                self.feeds[account].push(item)
            return len(kept)

    # -- lookups used by the routes ---------------------------------------------------------------

    def order(self, account: str, order_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.orders.get((account, order_id))
            if found is None and self.auto_orders and order_id.startswith("gen"):
                found = make_order(account, order_id)
                self.add_order(account, found)
            return found

    def customer(self, account: str, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            misses = self.md_misses.get((account, user_id), 0)
            if misses > 0:
                self.md_misses[(account, user_id)] = misses - 1
                return None
            return self.customers.get((account, user_id))

    def next_rejection(self, account: str, order_id: str) -> int | None:
        with self.lock:
            codes = self.rejections.get((account, order_id))
            return codes.pop(0) if codes else None

    def sku(self, account: str, sku_id: int) -> dict[str, Any] | None | str:
        """The SKU document, ``None`` if unknown, or ``"failing"`` for an id that always errors."""
        spec = self.catalogs.get(account)
        if spec is None or not 1 <= sku_id <= spec.size:
            return None
        if spec.is_failing(sku_id):
            return "failing"
        return make_sku(sku_id, active=spec.is_active(sku_id), store=account)

    # -- recording -------------------------------------------------------------------------------

    def record_upload(self, account: str, records: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.lock:
            self.received.extend({"account": account, "at": now, "record": r} for r in records)

    def received_records(self, account: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.received if account is None or r["account"] == account]

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counts": dict(self.counts),
                "received": len(self.received),
                "max_in_flight": {f"{s}:{a}": n for (s, a), n in self.max_in_flight.items()},
            }
