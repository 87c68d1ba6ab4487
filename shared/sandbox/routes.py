"""The sandbox's API surface: VTEX, CleverTap and S3 endpoints as plain functions.

Each handler takes the state and a :class:`Call` and returns a :class:`Reply`.  Auth and
faults are applied before a handler runs, by :mod:`shared.sandbox.server`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests

from shared.sandbox.state import SandboxState

# The maximum page size VTEX documents for stockkeepingunitids.
MAX_SKU_PAGE = 1000
# Record codes CleverTap documents for malformed records.
MISSING_IDENTITY = 523
BAD_TS = 525
NO_EVENT_NAME = 509


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    account: str = ""
    base_url: str = ""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


# -- VTEX -----------------------------------------------------------------------------------------

def get_order(state: SandboxState, call: Call, order_id: str) -> Reply:
    order = state.order(call.account, order_id)
    if order is None:
        return _error(404, f"Order {order_id} not found")
    return Reply(200, order)


_WHERE_RE = re.compile(r"^userId=([0-9a-fA-F-]{36})$")


def search_cl(state: SandboxState, call: Call) -> Reply:
    if "REST-Range".lower() not in call.headers:
        return _error(400, "REST-Range header is required")
    where = (call.query.get("_where") or [""])[0]
    match = _WHERE_RE.match(where)
    if not match:
        return _error(400, f"unsupported _where {where!r}")
    doc = state.customer(call.account, match.group(1).lower())
    fields = (call.query.get("_fields") or ["email"])[0].split(",")
    found = [{k: doc.get(k) for k in fields}] if doc else []
    return Reply(200, found, {"REST-Content-Range": f"resources=0-{len(found)}/{len(found)}"})


def sku_ids(state: SandboxState, call: Call) -> Reply:
    try:
        page = int(call.query["page"][0])
        size = int(call.query["pagesize"][0])
    except (KeyError, ValueError):
        return _error(400, "page and pagesize are required integers")
    if page < 1 or not 1 <= size <= MAX_SKU_PAGE:
        return _error(400, f"page >= 1 and 1 <= pagesize <= {MAX_SKU_PAGE}")
    spec = state.catalogs.get(call.account)
    total = spec.size if spec else 0
    start = (page - 1) * size + 1
    return Reply(200, list(range(start, min(total, start + size - 1) + 1)))


def sku_by_id(state: SandboxState, call: Call, sku_id: str) -> Reply:
    if not sku_id.isdigit():
        return _error(400, "skuId must be an integer")
    found = state.sku(call.account, int(sku_id))
    if found is None:
        return _error(404, "SKU not found")
    if found == "failing":
        return _error(500, "internal error")
    return Reply(200, found)


def set_hook_config(state: SandboxState, call: Call) -> Reply:
    """Like VTEX: ping the hook URL with its headers first, and refuse the config unless it answers 200."""
    try:
        body = call.json()
        hook = body["hook"]
        url, headers = hook["url"], dict(hook.get("headers") or {})
        statuses = body["filter"].get("status")
    except (ValueError, KeyError, TypeError, AttributeError):
        return _error(400, "filter and hook{url, headers} are required")
    if statuses is not None and ("expression" in body["filter"] or "disableSingleFire" in body["filter"]):
        return _error(409, "status cannot be combined with expression or disableSingleFire")
    try:
        answer = requests.post(url, json={"hookConfig": "ping"}, headers=headers, timeout=5)
        pinged = answer.status_code
    except requests.RequestException as exc:
        pinged = f"unreachable ({type(exc).__name__})"
    if pinged != 200:
        return _error(400, f"hook url did not answer the ping with 200: {pinged}")
    with state.lock:
        state.hook_configs[call.account] = body
    return Reply(200, body)


def get_hook_config(state: SandboxState, call: Call) -> Reply:
    with state.lock:
        config = state.hook_configs.get(call.account)
    return Reply(200, config) if config else _error(404, "no hook configured")


def delete_hook_config(state: SandboxState, call: Call) -> Reply:
    with state.lock:
        state.hook_configs.pop(call.account, None)
    return Reply(200, b"")


# -- CleverTap ----------------------------------------------------------------------------------

def _record_problem(record: Any) -> tuple[int, str] | None:
    if not isinstance(record, dict):
        return 512, "invalid record"
    identity = record.get("identity")
    if not (isinstance(identity, str) and identity.strip()) and not record.get("objectId"):
        return MISSING_IDENTITY, "identity missing"
    if "ts" in record and not isinstance(record["ts"], int):
        return BAD_TS, "ts is not epoch seconds"
    if record.get("type") == "event" and not record.get("evtName"):
        return NO_EVENT_NAME, "event name is mandatory"
    if record.get("type") not in ("event", "profile"):
        return 524, "neither event nor profile"
    return None


def upload(state: SandboxState, call: Call) -> Reply:
    try:
        body = call.json()
    except ValueError:
        return _error(400, "body is not JSON")
    records = body.get("d") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        return _error(400, "body must be {\"d\": [records]}")
    if len(records) > 1000:
        return _error(400, "at most 1000 records per request")
    accepted, unprocessed = [], []
    for record in records:
        problem = _record_problem(record)
        if problem is None and record.get("type") == "event":
            order_id = (record.get("evtData") or {}).get("order_id")
            code = state.next_rejection(call.account, order_id) if order_id else None
            if code is not None:
                problem = (code, "rejected by sandbox script")
        if problem:
            unprocessed.append({"status": "fail", "code": problem[0], "error": problem[1], "record": record})
        else:
            accepted.append(record)
    state.record_upload(call.account, accepted)
    status = "success" if not unprocessed else ("partial" if accepted else "fail")
    return Reply(200, {"status": status, "processed": len(accepted), "unprocessed": unprocessed})


def get_catalog_url(state: SandboxState, call: Call) -> Reply:
    key = f"{call.account}/{secrets.token_hex(8)}.csv"
    signature = secrets.token_hex(16)
    with state.lock:
        state.presigned[key] = signature
    url = (f"{call.base_url}/s3/{key}?X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
           f"&X-Amz-Signature={signature}")
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    return Reply(200, {"presignedS3URL": url, "expiryEpoch": {"$date": expiry}, "status": "success"})


def upload_catalog_completed(state: SandboxState, call: Call) -> Reply:
    try:
        body = call.json()
    except ValueError:
        return _error(400, "body is not JSON")
    required = ("name", "email", "creator", "url", "replace")
    if not isinstance(body, dict) or any(k not in body for k in required):
        return _error(400, f"fields required: {', '.join(required)}")
    key = urlparse(body["url"]).path.removeprefix("/s3/")
    with state.lock:
        if key not in state.s3_objects:
            return _error(400, "no file was uploaded to this url")
        if body["replace"] and (call.account, body["name"]) not in state.existing_catalogs:
            return _error(400, "No Catalog with given name exists for replacement")
        state.existing_catalogs.add((call.account, body["name"]))
        state.catalog_completions.append({"account": call.account, **body, "key": key})
    return Reply(200, {"status": "success"})


def s3_put(state: SandboxState, call: Call, key: str) -> Reply:
    with state.lock:
        expected = state.presigned.get(key)
    if expected is None or (call.query.get("X-Amz-Signature") or [""])[0] != expected:
        return Reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", {"Content-Type": "application/xml"})
    if "content-type" in call.headers:
        # The sandbox signs "host" only, like the URLs CleverTap hands out: any Content-Type breaks the signature.
        return Reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", {"Content-Type": "application/xml"})
    with state.lock:
        state.s3_objects[key] = {"body": call.body, "size": len(call.body), "at": time.time()}
    return Reply(200, b"")
