"""One account's Feed v3 queue: items handed out, hidden for a visibility timeout, gone once committed.

Like the SQS queue behind VTEX's feed, every retrieval gives an item a new handle and only the
latest handle commits it, so a consumer that outlived the timeout cannot commit a redelivered item.
Not thread-safe by itself: :class:`~shared.sandbox.state.SandboxState` calls it under its lock.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.sandbox.factory import vtex_date

# VTEX's default when the feed config names no visibility timeout.
DEFAULT_VISIBILITY_S = 240
ITEM_FIELDS = ("eventId", "handle", "domain", "state", "lastState", "orderId", "lastChange", "currentChange")


@dataclass
class FeedItem:
    eventId: str
    orderId: str
    state: str
    lastState: str
    domain: str
    lastChange: str
    currentChange: str
    handle: str | None = None
    visible_at: float = 0.0

    def body(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ITEM_FIELDS}


def new_item(pushed: dict[str, Any]) -> FeedItem:
    """A queue item from a control-API push: ``orderId`` and ``state`` required, the rest defaulted."""
    current = pushed.get("currentChange") or vtex_date(datetime.now(timezone.utc), zulu=True)
    return FeedItem(eventId=uuid.uuid4().hex.upper(), orderId=str(pushed["orderId"]), state=str(pushed["state"]),
                    lastState=pushed.get("lastState") or "", domain=pushed.get("domain") or "Marketplace",
                    lastChange=pushed.get("lastChange") or current, currentChange=current)


class FeedQueue:
    """Items in arrival order, each visible once ``visible_at`` (monotonic seconds) has passed."""

    def __init__(self) -> None:
        self.items: list[FeedItem] = []
        self.committed = 0
        self.retrievals = 0

    def push(self, item: FeedItem) -> None:
        self.items.append(item)

    def retrieve(self, maxlot: int, visibility_s: float) -> list[dict[str, Any]]:
        now = time.monotonic()
        lot = [item for item in self.items if item.visible_at <= now][:maxlot]
        for item in lot:
            item.handle = secrets.token_urlsafe(48)
            item.visible_at = now + visibility_s
        self.retrievals += len(lot)
        return [item.body() for item in lot]

    def commit(self, handles: list[str]) -> int:
        """Drop the items whose *current* handle is listed; stale and unknown handles do nothing."""
        wanted = set(handles)
        kept = [item for item in self.items if item.handle is None or item.handle not in wanted]
        done = len(self.items) - len(kept)
        self.items = kept
        self.committed += done
        return done

    def stats(self) -> dict[str, int]:
        now = time.monotonic()
        visible = sum(1 for item in self.items if item.visible_at <= now)
        return {"visible": visible, "invisible": len(self.items) - visible, "committed": self.committed,
                "retrievals": self.retrievals}
