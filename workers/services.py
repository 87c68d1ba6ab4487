"""The clients and stores a task needs, built once per worker process.

Built lazily so that a prefork child opens its own connections after the fork.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import redis
import requests

from shared.catalog.runs import RunStore
from shared.clients.clevertap import CleverTapClient
from shared.clients.http import CONNECT_TIMEOUT, make_session
from shared.clients.vtex import VtexClient
from shared.errors import PermanentError
from shared.deliveries import DeliveryCounters
from shared.failures import FailureStore
from shared.idempotency import Ledger
from shared.orders.mapping import EventOptions
from shared.orders.journal import Journal
from shared.orders.outbox import Outbox
from shared.orders.pending import EventRef, PendingStore
from shared.ratelimit import RateLimiter
from shared.semaphore import RedisSemaphore
from shared.redaction import redactor
from shared.settings import AccountSettings, Settings


class UnknownAccount(PermanentError):
    reason = "unknown_account"


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    ledger: Ledger
    pending: PendingStore
    failures: FailureStore
    runs: RunStore
    deliveries: DeliveryCounters
    session: requests.Session
    _vtex: dict[str, VtexClient] = field(default_factory=dict)
    _clevertap: dict[str, CleverTapClient] = field(default_factory=dict)
    _limiters: dict[tuple[str, str], RateLimiter] = field(default_factory=dict)

    def account(self, name: str) -> AccountSettings:
        try:
            return self.settings.account(name)
        except KeyError:
            raise UnknownAccount(f"account {name!r} is not configured") from None

    def options(self, name: str) -> EventOptions:
        return EventOptions.from_account(self.account(name))

    def limiter(self, name: str, endpoint: str) -> RateLimiter:
        """The account's shared rate limit for ``endpoint`` (``oms``, ``md``, ``catalog_ids`` ...)."""
        if (name, endpoint) not in self._limiters:
            budget = getattr(self.account(name), f"{endpoint.split('_')[0]}_rate_per_min")
            self._limiters[(name, endpoint)] = RateLimiter(self.redis, name, endpoint, budget)
        return self._limiters[(name, endpoint)]

    def limited_vtex(self, name: str) -> LimitedVtex:
        """The account's VTEX client behind its OMS and Master Data rate limits."""
        return LimitedVtex(self.vtex(name), self.limiter(name, "oms"), self.limiter(name, "md"))

    def journal(self, name: str) -> Journal:
        return Journal(self.redis, name)

    def outbox(self, name: str) -> Outbox:
        return Outbox(self.redis, name)

    def clevertap_slots(self, name: str) -> RedisSemaphore:
        """At most ``clevertap_max_concurrency`` uploads in flight for the account, in all processes."""
        hold_ms = int((self.settings.http_timeout + CONNECT_TIMEOUT) * 1000) + 5000
        return RedisSemaphore(self.redis, name, "clevertap", self.account(name).clevertap_max_concurrency, hold_ms)

    def vtex(self, name: str) -> VtexClient:
        if name not in self._vtex:
            self._vtex[name] = VtexClient(self.account(name), self.settings.http_timeout, self.session)
        return self._vtex[name]

    def clevertap(self, name: str) -> CleverTapClient:
        if name not in self._clevertap:
            self._clevertap[name] = CleverTapClient(self.account(name), self.settings.http_timeout, self.session)
        return self._clevertap[name]


class LimitedVtex:
    """OMS and Master Data calls that each take a slot of the account's shared budget first.

    Every task path uses it: the usual one, and those that call VTEX only sometimes (an event
    rebuilt because its pending entry expired, a requeue), so that a ``requeue --all`` of old
    events cannot outrun the budget either.

    :raises Throttled: from a call whose budget is spent, so that the task gives its slot back.
    """

    def __init__(self, vtex: VtexClient, oms: RateLimiter, md: RateLimiter) -> None:
        self._vtex, self._oms, self._md = vtex, oms, md

    def get_order(self, order_id: str) -> dict[str, Any]:
        self._oms.acquire_or_throttle()
        return self._vtex.get_order(order_id)

    def find_customer(self, user_id: str) -> dict[str, Any] | None:
        self._md.acquire_or_throttle()
        return self._vtex.find_customer(user_id)


def build_services(settings: Settings) -> Services:
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=3, health_check_interval=25
    )
    return Services(
        settings=settings,
        redis=client,
        ledger=Ledger(client, done_ttl=settings.dedupe_ttl_days * 86400),
        pending=PendingStore(client),
        failures=FailureStore(client, redactor(settings)),
        runs=RunStore(client, settings.catalog_lock_ttl),
        deliveries=DeliveryCounters(client),
        # One pool slot per catalog fetch thread, so that no thread waits for a connection.
        session=make_session(pool_size=max(10, settings.catalog_fetch_threads)),
    )


@functools.cache
def services() -> Services:
    from workers.app import settings

    return build_services(settings)


def settle_failed_event(kwargs: dict, exc: BaseException) -> None:
    """An order-event task failed for good: its failure-store entry now answers for the event."""
    services().journal(kwargs["account"]).settle(EventRef.from_kwargs(**{k: kwargs[k] for k in (
        "account", "order_id", "state", "changed_at")}))
