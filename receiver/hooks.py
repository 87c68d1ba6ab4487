"""``POST /hooks/vtex/orders[/<account>]``: check one order notification and enqueue it."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis

from receiver.http import Request, Response, error, ok
from shared.orders.hooks import HookBodyError, Ping, is_ping, parse_hook_body
from shared.orders.intake import submit
from shared.orders.mapping import HANDLED_STATES
from shared.orders.pending import EventRef
from shared.publisher import PublishError, Publisher
from shared.settings import AccountSettings, Settings

log = logging.getLogger(__name__)

# VTEX retries a hook that did not get 200, so a 503 here loses nothing; this tells it when.
BROKER_RETRY_AFTER = 5


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(type(exc).__name__) from None


def _origin_account(body: dict[str, Any]) -> str | None:
    origin = body.get("Origin")
    account = origin.get("Account") if isinstance(origin, dict) else None
    return account if isinstance(account, str) and account else None


def _resolve_account(path_account: str | None, body: dict[str, Any], settings: Settings) -> AccountSettings | Response:
    origin = _origin_account(body)
    if path_account and origin and path_account != origin:
        return error(403, "account_mismatch", "Origin.Account does not match the account in the path")
    name = path_account or origin
    if name is None:
        if len(settings.accounts) != 1:
            return error(422, "missing_fields", "missing field: Origin.Account (or post to /hooks/vtex/orders/<account>)",
                         fields=["Origin.Account"])
        name = next(iter(settings.accounts))
    account = settings.accounts.get(name)
    if account is None:
        return error(403, "unknown_account", "this account is not configured here")
    return account


def handle_order_hook(request: Request, path_account: str | None, settings: Settings, publisher: Publisher,
                      journal: Callable[[EventRef], None] | None = None) -> Response:
    """Answer 200 only once the broker holds the task; every refusal enqueues nothing.

    Checks run cheapest first and authentication before the body's details, so that an
    unauthenticated caller learns nothing about what a valid body looks like.
    """
    if request.body_too_large:
        return error(413, "payload_too_large", "body is larger than 64 KiB")
    if not _is_json(request.headers.get("content-type", "")):
        return error(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        body = _decode(request.body)
    except ValueError as exc:
        return error(400, "invalid_json", f"body is not valid UTF-8 JSON ({exc})")
    if is_ping(body):
        # VTEX pings the URL while the hook is being configured; answering it changes nothing.
        return ok(status="pong")
    if not isinstance(body, dict):
        return error(422, "invalid_body", "body must be a JSON object")

    account = _resolve_account(path_account, body, settings)
    if isinstance(account, Response):
        return account
    return replace(_authenticated_hook(request, body, account, publisher, journal), account=account.name)


def _authenticated_hook(request: Request, body: dict[str, Any], account: AccountSettings, publisher: Publisher,
                        journal: Callable[[EventRef], None] | None) -> Response:
    secret = request.headers.get("x-hook-secret", "").encode()
    # Every candidate is compared, so the time taken says nothing about which one nearly matched.
    if not sum(hmac.compare_digest(secret, expected) for expected in account.hook_secrets()):
        return error(401, "bad_secret", "X-Hook-Secret is missing or wrong")

    try:
        change = parse_hook_body(body)
    except HookBodyError as exc:
        return error(422, exc.code, str(exc), fields=list(exc.fields))
    assert not isinstance(change, Ping)  # answered above, before authentication
    if change.origin_key is not None and not hmac.compare_digest(change.origin_key, account.vtex_app_key):
        return error(403, "unknown_app_key", "Origin.Key is not this account's app key")

    if change.state not in HANDLED_STATES:
        return ok(status="ignored", order_id=change.order_id, state=change.state)
    ref = EventRef(account.name, change.order_id, change.state, change.changed_at)
    try:
        task_id = submit(ref, journal, publisher.publish)
    except redis.RedisError as exc:
        log.error("journal write failed, answering 503: %s", type(exc).__name__, extra={"account": account.name})
        return error(503, "state_store_unavailable", "could not record the event; retry later", retry_after=BROKER_RETRY_AFTER)
    except PublishError as exc:
        log.error("enqueue failed, answering 503: %s", exc, extra={"account": account.name, "order_id": change.order_id})
        return error(503, "broker_unavailable", "could not enqueue; retry later", retry_after=BROKER_RETRY_AFTER)
    log.info("accepted %s %s", change.order_id, change.state,
             extra={"account": account.name, "order_id": change.order_id, "task_id": task_id})
    return ok(status="accepted", order_id=change.order_id, state=change.state, task_id=task_id)
