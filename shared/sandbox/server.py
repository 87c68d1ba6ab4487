"""The sandbox over real HTTP on loopback: VTEX under ``/vtex/<account>``, CleverTap under
``/clevertap``, S3 under ``/s3``, and a control API under ``/_sandbox``.

Point an account at it with ``VTEXCT_VTEX_BASE_URL=http://127.0.0.1:<port>/vtex/{account}``
and ``VTEXCT_CLEVERTAP_BASE_URL=http://127.0.0.1:<port>/clevertap``.
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.sandbox import feed_routes, routes
from shared.sandbox.factory import make_order_history, parse_date
from shared.sandbox.routes import Call, Reply
from shared.sandbox.state import CatalogSpec, Faults, SandboxAccount, SandboxState

log = logging.getLogger(__name__)

Handler = Callable[..., Reply]
# (method, path pattern, service for faults, auth scheme, handler)
_ROUTES: list[tuple[str, re.Pattern[str], str, str, Handler]] = [
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/oms/pvt/orders$"), "oms_list", "vtex", feed_routes.list_orders),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/oms/pvt/orders/(?P<order_id>[^/]+)$"), "oms", "vtex",
     routes.get_order),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/dataentities/CL/search$"), "md", "vtex", routes.search_cl),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/catalog_system/pvt/sku/stockkeepingunitids$"), "catalog_ids",
     "vtex", routes.sku_ids),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/catalog_system/pvt/sku/stockkeepingunitbyid/(?P<sku_id>[^/]+)$"),
     "catalog_sku", "vtex", routes.sku_by_id),
    ("POST", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/hook/config$"), "hook", "vtex", routes.set_hook_config),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/hook/config$"), "hook", "vtex", routes.get_hook_config),
    ("DELETE", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/hook/config$"), "hook", "vtex",
     routes.delete_hook_config),
    ("POST", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/feed/config$"), "feed", "vtex",
     feed_routes.set_feed_config),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/feed/config$"), "feed", "vtex",
     feed_routes.get_feed_config),
    ("DELETE", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/feed/config$"), "feed", "vtex",
     feed_routes.delete_feed_config),
    ("GET", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/feed$"), "feed", "vtex", feed_routes.get_feed),
    ("POST", re.compile(r"^/vtex/(?P<account>[^/]+)/api/orders/feed$"), "feed", "vtex", feed_routes.commit_feed),
    ("POST", re.compile(r"^/clevertap/1/upload$"), "clevertap", "clevertap", routes.upload),
    ("POST", re.compile(r"^/clevertap/get_catalog_url$"), "clevertap_catalog", "clevertap", routes.get_catalog_url),
    ("POST", re.compile(r"^/clevertap/upload_catalog_completed$"), "clevertap_catalog", "clevertap",
     routes.upload_catalog_completed),
    ("PUT", re.compile(r"^/s3/(?P<key>.+)$"), "s3", "none", routes.s3_put),
]


class Sandbox:
    """A running sandbox: its state plus a threaded HTTP server.

    :param accounts: the credentials it accepts.
    :param port: 0 picks a free port.
    """

    def __init__(self, accounts: list[SandboxAccount], *, host: str = "127.0.0.1", port: int = 0,
                 auto_orders: bool = True) -> None:
        self.state = SandboxState(accounts, auto_orders=auto_orders)
        self._server = ThreadingHTTPServer((host, port), _RequestHandler)
        self._server.daemon_threads = True
        self._server.sandbox = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._rng = random.Random(7)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def vtex_base_url(self) -> str:
        return self.url + "/vtex/{account}"

    @property
    def clevertap_base_url(self) -> str:
        return self.url + "/clevertap"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- request handling ---------------------------------------------------------------------------

    def _authorized(self, scheme: str, call: Call) -> bool:
        state = self.state
        if scheme == "vtex":
            account = state.accounts.get(call.account)
            return bool(account) and _same(call.headers.get("x-vtex-api-appkey"), account.app_key) and _same(
                call.headers.get("x-vtex-api-apptoken"), account.app_token)
        if scheme == "clevertap":
            by_id = {a.clevertap_account_id: a for a in state.accounts.values()}
            account = by_id.get(call.headers.get("x-clevertap-account-id", ""))
            if account is None or not _same(call.headers.get("x-clevertap-passcode"), account.clevertap_passcode):
                return False
            call.account = account.name
        return True

    def _fault(self, service: str, account: str) -> Reply | None:
        """Apply the service's configured faults; a reply here replaces the real answer."""
        state = self.state
        with state.lock:
            faults = state.faults[service]
            if not faults.applies_to(account):
                return None
            scripted = faults.script.pop(0) if faults.script else None
            if scripted and scripted != 200:
                return Reply(scripted, {"error": f"scripted {scripted}"},
                             {"Retry-After": str(faults.retry_after)} if scripted == 429 else {})
            if faults.rate_per_min:
                window = state.windows[(service, account)]
                now = time.monotonic()
                while window and window[0] <= now - 60:
                    window.popleft()
                if len(window) >= faults.rate_per_min:
                    wait = max(1, int(window[0] + 60 - now + 0.999))
                    return Reply(429, {"error": "Too many requests"}, {"Retry-After": str(wait)})
                window.append(now)
            if faults.error_rate and self._rng.random() < faults.error_rate:
                return Reply(faults.error_status, {"error": f"injected {faults.error_status}"})
        return None

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        if parts.path.startswith("/_sandbox/"):
            return self._control(method, parts.path[len("/_sandbox/"):], query, body)
        for route_method, pattern, service, scheme, handler in _ROUTES:
            match = pattern.match(parts.path)
            if not match or route_method != method:
                continue
            params = match.groupdict()
            call = Call(method, parts.path, query, headers, body, params.pop("account", ""), self.url)
            if not self._authorized(scheme, call):
                self.state.count(f"{service}:401")
                return Reply(401, {"error": "unauthorized"})
            faults = self.state.faults[service]
            # S3 requests carry no credentials; their key starts with the account that asked for the URL.
            fault_account = call.account or params.get("key", "").split("/")[0]
            if not faults.applies_to(fault_account):
                faults = _NO_FAULTS
            key = (service, call.account)
            # A request is in flight for its whole latency: that is what a concurrency cap counts.
            with self.state.lock:
                self.state.in_flight[key] += 1
                self.state.max_in_flight[key] = max(self.state.max_in_flight[key], self.state.in_flight[key])
                over = faults.max_concurrency is not None and self.state.in_flight[key] > faults.max_concurrency
            try:
                if over:
                    # Refused at the door, at once, like CleverTap: a refusal holds no slot for long.
                    reply = Reply(429, {"error": "Too many concurrent requests"})
                else:
                    if faults.latency_ms:
                        time.sleep(faults.latency_ms / 1000)
                    reply = self._fault(service, fault_account) or handler(self.state, call, **params)
            finally:
                with self.state.lock:
                    self.state.in_flight[key] -= 1
            self.state.count(f"{service}:{reply.status}")
            return reply
        return Reply(404, {"error": f"no sandbox route for {method} {parts.path}"})

    # -- control API ----------------------------------------------------------------------------------

    def _control(self, method: str, name: str, query: dict[str, list[str]], body: bytes) -> Reply:
        state = self.state
        data = json.loads(body or b"{}") if method == "POST" else {}
        account = (query.get("account") or [data.get("account")])[0] if isinstance(data, dict) else None
        try:
            if method == "GET" and name == "health":
                return Reply(200, {"status": "ok"})
            if method == "GET" and name == "received":
                return Reply(200, state.received_records(account))
            if method == "GET" and name == "stats":
                return Reply(200, state.stats())
            if method == "GET" and name == "faults":
                return Reply(200, {k: asdict(v) for k, v in state.faults.items()})
            if method == "GET" and name == "catalog/completions":
                with state.lock:
                    return Reply(200, list(state.catalog_completions))
            if method == "GET" and name.startswith("s3/"):
                with state.lock:
                    found = state.s3_objects.get(name[3:])
                return Reply(200, found["body"]) if found else Reply(404, {"error": "no such object"})
            if method == "POST" and name == "reset":
                state.reset()
                return Reply(200, {"status": "reset"})
            if method == "POST" and name == "faults":
                for service, changes in data.items():
                    state.set_faults(service, **changes)
                return Reply(200, {"status": "ok"})
            if method == "POST" and name == "orders":
                for order in data["orders"]:
                    state.add_order(data["account"], order)
                return Reply(200, {"status": "ok", "count": len(data["orders"])})
            if method == "POST" and name == "customers":
                for customer in data["customers"]:
                    state.add_customer(data["account"], customer)
                return Reply(200, {"status": "ok"})
            if method == "POST" and name == "md-lag":
                state.delay_customer(data["account"], data["user_id"], int(data["misses"]))
                return Reply(200, {"status": "ok"})
            if method == "POST" and name == "reject":
                state.reject_event(data["account"], data["order_id"], [int(c) for c in data["codes"]])
                return Reply(200, {"status": "ok"})
            if method == "POST" and name == "catalog":
                state.set_catalog(data["account"], CatalogSpec(**{k: v for k, v in data.items() if k != "account"}))
                return Reply(200, {"status": "ok"})
            if method == "POST" and name == "order-history":
                return self._order_history(data)
            if method == "POST" and name == "feed":
                kept = state.push_feed(data["account"], data["items"])
                return Reply(200, {"status": "ok", "count": kept, "dropped": len(data["items"]) - kept})
            if method == "GET" and name == "feed":
                with state.lock:
                    return Reply(200, state.feeds[_required(account)].stats())
            if method == "GET" and name in ("feed-config", "hook-config"):
                configs = state.feed_configs if name == "feed-config" else state.hook_configs
                with state.lock:
                    return Reply(200, configs.get(_required(account)))
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": f"bad control request: {type(exc).__name__}: {exc}"})
        return Reply(404, {"error": f"no control endpoint {method} {name}"})

    def _order_history(self, data: dict[str, Any]) -> Reply:
        """``POST /_sandbox/order-history``: generated past orders, fetchable one by one and listed."""
        options = {k: data[k] for k in ("canceled_rate", "unauthorized_cancel_rate", "prefix") if k in data}
        orders = make_order_history(data["account"], int(data["count"]), parse_date(data["since"]),
                                    parse_date(data["until"]), **options)
        for order in orders:
            self.state.add_order(data["account"], order)
        return Reply(200, {"status": "ok", "count": len(orders)})


# Stands in for a service's faults on requests of accounts those faults do not target.
_NO_FAULTS = Faults()


def _required(account: str | None) -> str:
    if not account:
        raise KeyError("account")
    return account


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed
        # ACK adds ~40 ms to every answer, which would swamp the latency we mean to simulate.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.sandbox.dispatch(self.command, self.path, headers, body)
        except Exception as exc:
            log.exception("sandbox handler failed")
            reply = Reply(500, {"error": f"sandbox bug: {type(exc).__name__}"})
        payload = reply.encode()
        try:
            self._send(reply, payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (its timeout is shorter than the injected latency): counted, not raised.
            self.server.sandbox.state.count("client_gone")
            self.close_connection = True

    def _send(self, reply: Reply, payload: bytes) -> None:
        self.send_response(reply.status)
        content_type = reply.headers.pop("Content-Type", None) or (
            "application/octet-stream" if isinstance(reply.body, bytes) else "application/json")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request would drown the test and demo output; counts are in /_sandbox/stats.
        return
