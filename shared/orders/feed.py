"""The Feed v3 safety net: read the VTEX Orders Feed and submit what a hook delivery missed.

VTEX keeps every status change in the account's feed until it is committed (4 days at most),
so reading it now and then catches events our receiver never got: our downtime, a hook VTEX
deleted, a delivery that ran out of retries.  Each item goes through the same idempotent
path as a hook, so an event already delivered costs one Redis lookup and is not sent again.

Every item read is committed, ignored states and unreadable items included: an uncommitted
item comes back after the feed's visibility timeout, forever.  Items are committed only
after their events were submitted, so a crash in between means a re-read, never a loss.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import redis

from shared.errors import NotFound
from shared.keys import account_key
from shared.orders.hooks import HookBodyError, Ping, parse_hook_body
from shared.orders.mapping import HANDLED_STATES
from shared.orders.pending import EventRef

log = logging.getLogger(__name__)

#: The most items VTEX hands out per read.
MAX_LOT = 10


class FeedSource(Protocol):
    def read_feed(self, max_items: int) -> list[dict[str, Any]]: ...

    def commit_feed(self, handles: list[str]) -> None: ...


@dataclass
class FeedReport:
    read: int = 0
    submitted: int = 0
    already_delivered: int = 0
    ignored: int = 0
    malformed: int = 0
    committed: int = 0
    #: The account has no feed configured on VTEX (the feed answered 404).
    not_configured: bool = False
    #: Stopped at the item cap with more waiting: the caller should read again soon.
    more: bool = False

    def summary(self) -> str:
        if self.not_configured:
            return "feed not configured on VTEX (run vtexct feed configure)"
        return (f"{self.read} read: {self.submitted} submitted, {self.already_delivered} already delivered, "
                f"{self.ignored} ignored, {self.malformed} malformed; {self.committed} committed"
                + ("; more waiting" if self.more else ""))


def drain_feed(
    feed: FeedSource,
    account: str,
    submit: Callable[[EventRef], None],
    delivered: Callable[[EventRef], bool],
    *,
    wait_for_slot: Callable[[], None],
    max_items: int = 1000,
) -> FeedReport:
    """Read the feed ``MAX_LOT`` items at a time until it is empty or ``max_items`` were read.

    :param submit: sends an event into the pipeline (journal, then publish).
    :param delivered: whether an event was already delivered, to skip it cheaply.
    :param wait_for_slot: blocks or raises until the account's rate limit allows one read.
    """
    report = FeedReport()
    while report.read < max_items:
        wait_for_slot()
        try:
            items = feed.read_feed(MAX_LOT)
        except NotFound:
            report.not_configured = True
            return report
        if not items:
            return report
        handles = [handle for item in items if isinstance(handle := item.get("handle"), str) and handle]
        for item in items:
            report.read += 1
            _submit_item(item, account, submit, delivered, report)
        feed.commit_feed(handles)
        report.committed += len(handles)
    report.more = True
    return report


def _submit_item(item: dict[str, Any], account: str, submit: Callable[[EventRef], None],
                 delivered: Callable[[EventRef], bool], report: FeedReport) -> None:
    try:
        change = parse_hook_body(item)
    except HookBodyError as exc:
        # Committed anyway: an item we cannot read now we cannot read later either.
        log.warning("feed item unreadable, committed without an event: %s", exc, extra={"account": account})
        report.malformed += 1
        return
    if isinstance(change, Ping) or change.state not in HANDLED_STATES:
        report.ignored += 1
        return
    ref = EventRef(account, change.order_id, change.state, change.changed_at)
    if delivered(ref):
        report.already_delivered += 1
        return
    submit(ref)
    report.submitted += 1


class FeedStatus:
    """The last poll of each account's feed, for ``vtexct status``: ``vtexct:<account>:feed``."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def record(self, account: str, report: FeedReport | None, error: str | None = None) -> None:
        outcome = "error" if error else ("not_configured" if report and report.not_configured else "ok")
        fields: dict[str, Any] = {"at": time.time(), "outcome": outcome, "error": error or ""}
        if report is not None:
            fields["report"] = json.dumps(asdict(report))
        key = account_key(account, "feed")
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping=fields)
            if report is not None:
                pipe.hincrby(key, "submitted_total", report.submitted)
            pipe.execute()

    def get(self, account: str) -> dict[str, Any] | None:
        raw = self._redis.hgetall(account_key(account, "feed"))
        if not raw:
            return None
        return {"at": float(raw["at"]), "outcome": raw["outcome"], "error": raw.get("error") or None,
                "report": json.loads(raw["report"]) if raw.get("report") else None,
                "submitted_total": int(raw.get("submitted_total", 0))}
