"""The VTEX endpoints that find orders without a hook: the OMS order list (backfill) and Feed v3.

Handlers follow :mod:`shared.sandbox.routes`: ``(state, call, **params) -> Reply``, with auth and
faults already applied by the server.
"""

from __future__ import annotations

import math
import re
from typing import Any

from shared.sandbox.factory import parse_date
from shared.sandbox.feed import DEFAULT_VISIBILITY_S
from shared.sandbox.routes import Call, Reply, _error
from shared.sandbox.state import SandboxState

# VTEX's list limits: beyond page 30 a client must narrow the date window instead.
MAX_LIST_PAGE = 30
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 15
MAX_LOT = 10
_WINDOW_RE = re.compile(r"^creationDate:\[(\S+) TO (\S+)\]$")
_STATUS_DESCRIPTIONS = {
    "order-created": "Processando", "payment-pending": "Pagamento Pendente",
    "payment-approved": "Pagamento Aprovado", "ready-for-handling": "Pronto para o manuseio",
    "handling": "Preparando Entrega", "invoiced": "Faturado", "canceled": "Cancelado",
    "cancellation-requested": "Cancelamento Solicitado", "window-to-cancel": "Carência para Cancelamento",
}


# -- OMS order list ---------------------------------------------------------------------------------

def _int_param(call: Call, name: str, default: int) -> int:
    """The query parameter as an int; ``ValueError`` if it is not one."""
    values = call.query.get(name)
    return int(values[0]) if values else default


def _list_row(order: dict[str, Any]) -> dict[str, Any]:
    """An order as the list shows it: a summary, with ``items`` null as VTEX leaves it."""
    client = order.get("clientProfileData") or {}
    payments = [p.get("paymentSystemName") for t in (order.get("paymentData") or {}).get("transactions", [])
                for p in t.get("payments", [])]
    return {
        "orderId": order["orderId"],
        "creationDate": order["creationDate"],
        "clientName": f"{client.get('firstName', '')} {client.get('lastName', '')}".strip(),
        "totalValue": order.get("value"),
        "paymentNames": ", ".join(p for p in payments if p),
        "status": order.get("status"),
        "statusDescription": _STATUS_DESCRIPTIONS.get(order.get("status"), order.get("status")),
        "authorizedDate": order.get("authorizedDate"),
        "currencyCode": (order.get("storePreferencesData") or {}).get("currencyCode"),
        "items": None,
        "lastChange": order.get("lastChange") or order["creationDate"],
    }


def list_orders(state: SandboxState, call: Call) -> Reply:
    """``GET /api/oms/pvt/orders``: the account's orders in a creation window, paged, 30 pages at most.

    ``paging.total`` counts the whole window even past 30 pages: that is how a client knows to split it.
    """
    try:
        page = _int_param(call, "page", 1)
        per_page = _int_param(call, "per_page", DEFAULT_PER_PAGE)
    except ValueError:
        return _error(400, "page and per_page must be integers")
    if page > MAX_LIST_PAGE:
        return _error(400, f"Max page exceed ( {MAX_LIST_PAGE} ), refine filter")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        return _error(400, f"page >= 1 and 1 <= per_page <= {MAX_PER_PAGE}")
    window = (call.query.get("f_creationDate") or [None])[0]
    match = _WINDOW_RE.match(window) if window is not None else None
    if window is not None and not match:
        return _error(400, "f_creationDate must be creationDate:[<from> TO <to>]")
    order_by = (call.query.get("orderBy") or ["creationDate,desc"])[0]
    if order_by not in ("creationDate,asc", "creationDate,desc"):
        return _error(400, "the sandbox sorts by creationDate,asc or creationDate,desc only")
    try:
        low, high = (parse_date(match.group(1)), parse_date(match.group(2))) if match else (None, None)
        with state.lock:
            found = [(parse_date(o["creationDate"]), o["orderId"], o) for (a, _), o in state.orders.items()
                     if a == call.account and o.get("creationDate")]
    except ValueError as exc:
        return _error(400, f"bad date: {exc}")
    found = [entry for entry in found if low is None or low <= entry[0] <= high]
    # The order id breaks creation ties so pages never overlap or skip.
    found.sort(key=lambda entry: entry[:2], reverse=order_by.endswith("desc"))
    rows = [_list_row(order) for _, _, order in found[(page - 1) * per_page:page * per_page]]
    return Reply(200, {"list": rows, "facets": [], "stats": {"stats": {}}, "paging": {
        "total": len(found), "pages": math.ceil(len(found) / per_page), "currentPage": page, "perPage": per_page}})


# -- Feed v3 -----------------------------------------------------------------------------------------

def _config_problem(body: Any) -> tuple[int, str] | None:
    """Why VTEX would refuse this feed config, as (status, message), or ``None``."""
    filt = body.get("filter") if isinstance(body, dict) else None
    if not isinstance(filt, dict):
        return 400, "filter is required"
    if "status" in filt and ("expression" in filt or "disableSingleFire" in filt):
        return 409, "status cannot be combined with expression or disableSingleFire"
    if filt.get("type") == "FromWorkflow":
        statuses = filt.get("status")
        if not (isinstance(statuses, list) and statuses and all(isinstance(s, str) for s in statuses)):
            return 400, "a FromWorkflow filter needs a status list"
    elif filt.get("type") == "FromOrders":
        if not isinstance(filt.get("expression"), str):
            return 400, "a FromOrders filter needs an expression"
    else:
        return 400, "filter.type must be FromWorkflow or FromOrders"
    timeout = (body.get("queue") or {}).get("visibilityTimeoutInSeconds", DEFAULT_VISIBILITY_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        return 400, "queue.visibilityTimeoutInSeconds must be a positive number"
    return None


def set_feed_config(state: SandboxState, call: Call) -> Reply:
    try:
        body = call.json()
    except ValueError:
        return _error(400, "body is not JSON")
    problem = _config_problem(body)
    if problem:
        return _error(*problem)
    with state.lock:
        state.feed_configs[call.account] = body
    return Reply(200, b"")


def get_feed_config(state: SandboxState, call: Call) -> Reply:
    with state.lock:
        config = state.feed_configs.get(call.account)
    return Reply(200, config) if config else _error(404, "feed not configured")


def delete_feed_config(state: SandboxState, call: Call) -> Reply:
    # Queued items stay: configuring the feed again brings them back, as a test may want.
    with state.lock:
        state.feed_configs.pop(call.account, None)
    return Reply(200, b"")


def get_feed(state: SandboxState, call: Call) -> Reply:
    """``GET /api/orders/feed?maxlot=N``: up to N visible items, each hidden and re-handled for the timeout."""
    try:
        maxlot = _int_param(call, "maxlot", 1)
    except ValueError:
        return _error(400, "maxlot must be an integer")
    if not 1 <= maxlot <= MAX_LOT:
        return _error(400, f"maxlot must be between 1 and {MAX_LOT}")
    with state.lock:
        config = state.feed_configs.get(call.account)
        if config is None:
            return _error(404, "feed not configured")
        timeout = (config.get("queue") or {}).get("visibilityTimeoutInSeconds", DEFAULT_VISIBILITY_S)
        return Reply(200, state.feeds[call.account].retrieve(maxlot, timeout))


def commit_feed(state: SandboxState, call: Call) -> Reply:
    """``POST /api/orders/feed`` with ``{"handles": [...]}``: remove the items those current handles name."""
    try:
        handles = call.json().get("handles")
    except (ValueError, AttributeError):
        handles = None
    if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
        return _error(400, "body must be {\"handles\": [handle, ...]}")
    with state.lock:
        if call.account not in state.feed_configs:
            return _error(404, "feed not configured")
        state.feeds[call.account].commit(handles)
    return Reply(200, b"")
