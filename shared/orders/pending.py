"""Events between the pipeline's steps, kept in Redis so that task messages carry ids only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from shared.keys import account_key

# Long enough for every retry of the profile and upload steps; a missing entry is rebuilt from OMS.
PENDING_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class EventRef:
    """What identifies one order event: the task arguments of every pipeline step."""

    account: str
    order_id: str
    state: str
    changed_at: datetime

    def to_kwargs(self) -> dict[str, str]:
        return {
            "account": self.account,
            "order_id": self.order_id,
            "state": self.state,
            "changed_at": self.changed_at.isoformat(),
        }

    @classmethod
    def from_kwargs(cls, account: str, order_id: str, state: str, changed_at: str) -> EventRef:
        return cls(account, order_id, state, datetime.fromisoformat(changed_at))


@dataclass
class PendingEvent:
    """An event record built from the order, waiting for its identity and its upload.

    ``client_profile`` keeps only the name and phone of ``clientProfileData``: its e-mail
    is masked by VTEX and never used.
    """

    account: str
    order_id: str
    state: str
    changed_at: str
    event: dict[str, Any]
    user_profile_id: str
    client_profile: dict[str, Any]
    identity: str | None = None
    profile: dict[str, Any] | None = None

    @property
    def ref(self) -> EventRef:
        return EventRef.from_kwargs(self.account, self.order_id, self.state, self.changed_at)


class PendingStore:
    """Save, load and drop :class:`PendingEvent` entries, one per ``(account, order, state)``."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @staticmethod
    def _key(ref: EventRef) -> str:
        return account_key(ref.account, "pending", ref.order_id, ref.state)

    def save(self, pending: PendingEvent) -> None:
        # vars(), not asdict(): the fields are already plain JSON, and asdict deep-copies them.
        self._redis.set(self._key(pending.ref), json.dumps(vars(pending)), ex=PENDING_TTL)

    def load(self, ref: EventRef) -> PendingEvent | None:
        raw = self._redis.get(self._key(ref))
        return PendingEvent(**json.loads(raw)) if raw else None

    def drop(self, ref: EventRef) -> None:
        self._redis.delete(self._key(ref))
