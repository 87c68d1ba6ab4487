"""Admin endpoints: ``POST /catalog/sync`` and ``GET /catalog/sync/<run_id>``, behind a bearer token."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from receiver.http import Request, Response, error
from shared.catalog.runs import RunStore, SyncInProgress
from shared.catalog.trigger import trigger_sync
from shared.publisher import PublishError, Publisher
from shared.settings import Settings

log = logging.getLogger(__name__)

_SYNC_FIELDS = {"account": str, "replace": bool}


def authorize(request: Request, settings: Settings) -> Response | None:
    """``None`` when the request carries the admin token, else the error to answer."""
    tokens = settings.admin_tokens()
    if not tokens:
        return error(403, "admin_disabled", "set VTEXCT_ADMIN_TOKEN to enable the admin API")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    matched = sum(hmac.compare_digest(given, expected) for expected in tokens)
    if scheme.lower() != "bearer" or not matched:
        return error(401, "bad_token", "Authorization: Bearer <admin token> is missing or wrong")
    return None


def _sync_body(request: Request, settings: Settings) -> dict[str, Any] | Response:
    if not request.body.strip():
        body: Any = {}
    elif request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return error(415, "unsupported_media_type", "Content-Type must be application/json")
    else:
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return error(400, "invalid_json", "body is not valid JSON")
    if not isinstance(body, dict):
        return error(422, "invalid_body", "body must be a JSON object: {account, replace}")
    unknown = sorted(set(body) - set(_SYNC_FIELDS))
    wrong = [k for k, kind in _SYNC_FIELDS.items() if k in body and not isinstance(body[k], kind)]
    if unknown or wrong:
        return error(422, "invalid_fields", "allowed: account (string), replace (boolean)", fields=unknown + wrong)
    if "account" not in body:
        if len(settings.accounts) != 1:
            return error(422, "missing_fields", "missing field: account", fields=["account"])
        body["account"] = next(iter(settings.accounts))
    return body


def trigger_catalog_sync(request: Request, settings: Settings, publisher: Publisher, runs: RunStore) -> Response:
    denied = authorize(request, settings)
    if denied:
        return denied
    body = _sync_body(request, settings)
    if isinstance(body, Response):
        return body
    account = settings.accounts.get(body["account"])
    if account is None:
        return error(404, "unknown_account", f"account {body['account']!r} is not configured")
    if not account.catalog_sync:
        return error(409, "catalog_sync_disabled", f"catalog sync is off for {account.name}")
    try:
        run = trigger_sync(runs, publisher, account.name, "api", replace=body.get("replace", True))
    except SyncInProgress as exc:
        return error(409, "sync_in_progress", str(exc), run_id=exc.run_id)
    except PublishError:
        return error(503, "broker_unavailable", "could not enqueue; retry later", retry_after=5)
    log.info("catalog sync %s started by the admin API", run.id, extra={"account": run.account})
    return Response(202, {"status": "started", "run_id": run.id, "account": run.account,
                          "status_url": f"/catalog/sync/{run.id}"})


def get_catalog_run(request: Request, run_id: str, settings: Settings, runs: RunStore) -> Response:
    denied = authorize(request, settings)
    if denied:
        return denied
    record = runs.find(run_id, list(settings.accounts))
    if record is None:
        return error(404, "unknown_run", f"no catalog sync run {run_id}")
    return Response(200, record)
