"""Parse the three bodies VTEX posts about order status changes.

* the Orders hook: ``Domain, OrderId, State, LastState, LastChange, CurrentChange, Origin{Account, Key}``;
* the Feed v3 item / IO broadcaster body: ``orderId, currentState (or state), lastState,
  currentChangeDate (or currentChange), domain``;
* the hook ping ``{"hookConfig": "ping"}`` that VTEX sends when the hook is configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Order ids look like "1172452900788-01" or "v52277740atmc-01"; they end up in URL paths and Redis keys.
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
STATE_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
# VTEX writes 7 fractional digits ("2019-08-14T17:12:48.0965893Z"); Python keeps 6.
_TIMESTAMP_RE = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)


class HookBodyError(ValueError):
    """The body is JSON but not a usable order notification.

    :param fields: the body fields at fault, for the JSON error.
    :param missing: whether they are missing rather than malformed.
    """

    def __init__(self, message: str, *, fields: tuple[str, ...] = (), missing: bool = False) -> None:
        super().__init__(message)
        self.fields = fields
        self.code = "missing_fields" if missing else "invalid_fields"


@dataclass(frozen=True)
class Ping:
    """VTEX's ``{"hookConfig": "ping"}`` check."""


@dataclass(frozen=True)
class OrderStatusChange:
    """One order moving to ``state``: what the receiver enqueues.

    ``origin_account`` and ``origin_key`` come from the hook's ``Origin`` and are only used
    to authenticate the sender; they are not part of the task arguments.
    """

    order_id: str
    state: str
    changed_at: datetime
    last_state: str | None = None
    domain: str | None = None
    origin_account: str | None = None
    origin_key: str | None = None


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 UTC timestamp with up to 9 fractional digits.

    :raises ValueError: if ``value`` is not such a timestamp.
    """
    match = _TIMESTAMP_RE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    moment = datetime.fromisoformat(f"{match['base']}.{frac}{'+00:00' if tz == 'Z' else tz}")
    return moment.astimezone(UTC)


def _string(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise HookBodyError(f"missing field: {key}", fields=(key,), missing=True)
        return None
    if not isinstance(value, str):
        raise HookBodyError(f"{key} must be a string", fields=(key,))
    return value


def _missing(body: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in keys if body.get(k) in (None, ""))


def is_ping(body: Any) -> bool:
    return isinstance(body, dict) and body.get("hookConfig") == "ping"


def parse_hook_body(body: Any, *, now: datetime | None = None) -> Ping | OrderStatusChange:
    """Turn a decoded JSON body into a :class:`Ping` or an :class:`OrderStatusChange`.

    :param now: the receive time, used as the change time when the body carries none.
    :raises HookBodyError: naming the missing or malformed fields.
    """
    if not isinstance(body, dict):
        raise HookBodyError("body must be a JSON object")
    if is_ping(body):
        return Ping()

    if "OrderId" in body or "State" in body or "Origin" in body:
        keys = {"order": "OrderId", "state": "State", "last": "LastState", "domain": "Domain",
                "changed": ("CurrentChange", "LastChange")}
    elif "orderId" in body or "currentState" in body or "state" in body:
        keys = {"order": "orderId", "state": "state" if "state" in body and "currentState" not in body else "currentState",
                "last": "lastState", "domain": "domain", "changed": ("currentChangeDate", "currentChange")}
    else:
        raise HookBodyError(
            "missing fields: OrderId, State (hook body) or orderId, currentState (feed body)",
            fields=("OrderId", "State"),
            missing=True,
        )

    missing = _missing(body, (keys["order"], keys["state"]))
    if missing:
        raise HookBodyError("missing fields: " + ", ".join(missing), fields=missing, missing=True)
    order_id = _string(body, keys["order"], required=True)
    state = _string(body, keys["state"], required=True)
    if not ORDER_ID_RE.match(order_id):
        raise HookBodyError(f"{keys['order']} is not a VTEX order id", fields=(keys["order"],))
    if not STATE_RE.match(state):
        raise HookBodyError(f"{keys['state']} is not an order state", fields=(keys["state"],))

    changed_at = None
    for key in keys["changed"]:
        raw = _string(body, key, required=False)
        if raw is not None:
            try:
                changed_at = parse_timestamp(raw)
            except ValueError:
                raise HookBodyError(f"{key} is not an ISO-8601 timestamp", fields=(key,)) from None
            break
    if changed_at is None:
        changed_at = now or datetime.now(UTC)

    origin_account = origin_key = None
    if "Origin" in body:
        origin = body["Origin"]
        if not isinstance(origin, dict):
            raise HookBodyError("Origin must be an object", fields=("Origin",))
        try:
            origin_account = _string(origin, "Account", required=False)
            origin_key = _string(origin, "Key", required=False)
        except HookBodyError as exc:
            raise HookBodyError(f"Origin.{exc}", fields=tuple(f"Origin.{f}" for f in exc.fields)) from None

    return OrderStatusChange(
        order_id=order_id,
        state=state,
        changed_at=changed_at,
        last_state=_string(body, keys["last"], required=False),
        domain=_string(body, keys["domain"], required=False),
        origin_account=origin_account,
        origin_key=origin_key,
    )
