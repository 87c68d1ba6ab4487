"""``vtexct backfill``: run :mod:`shared.orders.backfill` for one account with a progress bar."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

import redis
from tqdm import tqdm

from shared.clients.http import make_session
from shared.clients.vtex import VtexClient
from shared.errors import IntegrationError
from shared.idempotency import Ledger
from shared.orders.backfill import STATES, Backfill, Cursor, parse_day_or_instant
from shared.orders.intake import submit
from shared.orders.journal import Journal
from shared.publisher import CeleryPublisher, PublishError
from shared.ratelimit import RateLimiter
from shared.settings import ConfigError, Settings

#: How often the orders queue's length is read, in submitted events.
QUEUE_CHECK_EVERY = 100


def parse_states(value: str | None) -> tuple[str, ...]:
    states = tuple(s.strip() for s in value.split(",") if s.strip()) if value else STATES
    unknown = sorted(set(states) - set(STATES))
    if unknown or not states:
        raise ConfigError(f"--states: {unknown or 'none given'}; choose from {','.join(STATES)}")
    return states


class _QueueGate:
    """Hold the backfill while the orders queue is longer than ``limit``: live events go first."""

    def __init__(self, publisher: CeleryPublisher, limit: int) -> None:
        self._publisher, self._limit, self._count = publisher, limit, 0

    def __call__(self) -> None:
        self._count += 1
        if self._limit <= 0 or self._count % QUEUE_CHECK_EVERY:
            return
        while self._publisher.queue_lengths().get("orders", 0) > self._limit:
            time.sleep(1.0)


def backfill_command(settings: Settings, account: str, since: str, until: str | None, states: str | None, *,
                     dry_run: bool, restart: bool, max_queue: int) -> int:
    """Run one account's backfill in this process and print its report; 0 when it finished."""
    if account not in settings.accounts:
        raise ConfigError(f"account {account!r} is not configured")
    try:
        start = parse_day_or_instant(since)
        fixed_end = parse_day_or_instant(until) if until else None
    except ValueError as exc:
        raise ConfigError(f"backfill: {exc}") from None
    end = fixed_end or datetime.now(UTC)
    if start >= end:
        raise ConfigError("backfill: --since must be before --until")
    chosen = parse_states(states)

    store = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    settings_of = settings.accounts[account]
    vtex = VtexClient(settings_of, settings.http_timeout, make_session())
    # The OMS budget the workers use too: backfill and live events share VTEX's limit, never exceed it.
    limiter = RateLimiter(store, account, "oms", settings_of.oms_rate_per_min)
    publisher = CeleryPublisher(settings)
    journal, ledger = Journal(store, account), Ledger(store, done_ttl=settings.dedupe_ttl_days * 86400)
    cursor = None if dry_run else Cursor(store, account, start, fixed_end, chosen)
    if cursor is not None and restart:
        cursor.clear()

    bar = tqdm(total=0, unit="order", desc=f"{account} backfill", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, total: int, label: str) -> None:
        if bar.total != total:
            bar.reset(total=total)
            bar.update(done)
        bar.update(max(0, done - bar.n))
        if label:
            bar.set_postfix_str(label, refresh=False)

    job = Backfill(
        vtex, account,
        submit=lambda ref: submit(ref, journal.accept, publisher.publish),
        delivered=lambda ref: ledger.is_done(Ledger.done_key(account, ref.order_id, ref.state, "event")),
        wait_for_slot=lambda: limiter.acquire(max_wait=120.0),
        wait_for_room=_QueueGate(publisher, max_queue),
        progress=progress)
    try:
        report = job.run(start, end, chosen, cursor, dry_run=dry_run)
    except (IntegrationError, PublishError, TimeoutError, redis.RedisError) as exc:
        bar.close()
        where = f"; run the same command to resume from {cursor.position()}" if cursor and cursor.position() else ""
        print(f"{account}: backfill stopped: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        print(f"{account}: interrupted; run the same command to resume", file=sys.stderr)
        return 130
    bar.close()
    print(json.dumps({"account": account, "since": since, "until": until or "now", "states": list(chosen),
                      **report.as_dict()}, indent=2))
    return 0
