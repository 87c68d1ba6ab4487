"""``create_app(settings, publisher)``: the receiver as a WSGI callable around a pure core.

:meth:`Receiver.handle` maps a :class:`~receiver.http.Request` to a
:class:`~receiver.http.Response` and is what the tests call; ``__call__`` only adapts WSGI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from receiver.admin import get_catalog_run, trigger_catalog_sync
from receiver.hooks import handle_order_hook
from receiver.http import MAX_BODY, Request, Response, error, ok
from shared.catalog.runs import RunStore
from shared.orders.pending import EventRef
from shared.ops.metrics import CONTENT_TYPE, ReceiverMetrics
from shared.publisher import Publisher
from shared.settings import Settings

log = logging.getLogger(__name__)

HOOK_PATH = "/hooks/vtex/orders"
SYNC_PATH = "/catalog/sync"
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
            415: "Unsupported Media Type", 422: "Unprocessable Entity", 500: "Internal Server Error",
            503: "Service Unavailable"}


class Receiver:
    """Routes requests to handlers; holds the injected settings, publisher and readiness checks."""

    def __init__(self, settings: Settings, publisher: Publisher, runs: RunStore | None,
                 checks: Mapping[str, Callable[[], bool]], metrics: ReceiverMetrics | None,
                 journal: Callable[[EventRef], None] | None) -> None:
        self.settings = settings
        self.publisher = _Timed(publisher) if metrics else publisher
        self.runs = runs
        self.checks = dict(checks)
        self.metrics = metrics
        self.journal = journal

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == HOOK_PATH or path.startswith(HOOK_PATH + "/"):
            if request.method != "POST":
                return error(405, "method_not_allowed", "use POST", allow="POST")
            account = path[len(HOOK_PATH) + 1:] or None
            response = handle_order_hook(request, account, self.settings, self.publisher, self.journal)
            if self.metrics:
                self.metrics.hook(response.outcome, response.account, getattr(self.publisher, "last_seconds", None))
            return response
        if path == SYNC_PATH or path.startswith(SYNC_PATH + "/"):
            return self._catalog(request, path)
        if path == "/metrics" and self.metrics is not None:
            if request.method not in ("GET", "HEAD"):
                return error(405, "method_not_allowed", "use GET", allow="GET, HEAD")
            return Response(200, {}, raw=self.metrics.render(), content_type=CONTENT_TYPE)
        if path in ("/healthz", "/readyz"):
            if request.method not in ("GET", "HEAD"):
                return error(405, "method_not_allowed", "use GET", allow="GET, HEAD")
            return ok(status="ok") if path == "/healthz" else self._ready()
        return error(404, "not_found", f"no route for {path}")

    def _catalog(self, request: Request, path: str) -> Response:
        if self.runs is None:
            return error(503, "no_state_store", "this receiver was built without the Redis state store")
        if path == SYNC_PATH:
            if request.method != "POST":
                return error(405, "method_not_allowed", "use POST", allow="POST")
            if request.body_too_large:
                return error(413, "payload_too_large", "body is larger than 64 KiB")
            return trigger_catalog_sync(request, self.settings, self.publisher, self.runs)
        if request.method not in ("GET", "HEAD"):
            return error(405, "method_not_allowed", "use GET", allow="GET, HEAD")
        return get_catalog_run(request, path[len(SYNC_PATH) + 1:], self.settings, self.runs)

    def _ready(self) -> Response:
        results = {}
        for name, check in self.checks.items():
            try:
                results[name] = bool(check())
            except Exception as exc:
                log.warning("readiness check %s raised %s", name, type(exc).__name__)
                results[name] = False
        status = 200 if all(results.values()) else 503
        return Response(status, {"status": "ready" if status == 200 else "not_ready", "checks": results})

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            response = self.handle(_request_from(environ))
        except Exception:
            # Never answer with a traceback; the log keeps it and VTEX retries on the 500.
            log.exception("unhandled error in receiver")
            response = error(500, "internal_error", "unexpected error; the request was not accepted")
        body = response.encode()
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(body))), *response.headers]
        start_response(f"{response.status} {_REASONS.get(response.status, '')}".strip(), headers)
        return [body]


class _Timed:
    """The publisher, remembering how long this thread's last publish took, for the metrics."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._local = threading.local()

    @property
    def last_seconds(self) -> float | None:
        seconds = getattr(self._local, "seconds", None)
        self._local.seconds = None
        return seconds

    def publish(self, task_name: str, kwargs: dict[str, Any]) -> str:
        started = time.perf_counter()
        task_id = self._publisher.publish(task_name, kwargs)
        self._local.seconds = time.perf_counter() - started
        return task_id

    def ping(self) -> bool:
        return self._publisher.ping()


def _request_from(environ: dict[str, Any]) -> Request:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    method = environ.get("REQUEST_METHOD", "GET").upper()
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        # Refuse before reading: a large body must not cost memory or time.
        return Request(method, environ.get("PATH_INFO", "/"), headers, b"", body_too_large=True)
    body = b""
    if method == "POST":
        stream = environ.get("wsgi.input")
        body = stream.read(declared if declared else MAX_BODY + 1) if stream else b""
    return Request(method, environ.get("PATH_INFO", "/"), headers, body, body_too_large=len(body) > MAX_BODY)


def create_app(
    settings: Settings,
    publisher: Publisher,
    *,
    runs: RunStore | None = None,
    checks: Mapping[str, Callable[[], bool]] | None = None,
    metrics: ReceiverMetrics | None = None,
    journal: Callable[[EventRef], None] | None = None,
) -> Receiver:
    """Build the receiver.

    :param settings: validated settings; the accounts and their hook secrets come from here.
    :param publisher: sends tasks by name; the receiver never imports worker code.
    :param runs: the catalog runs in the state store, for the admin endpoints.
    :param checks: readiness checks by name for ``/readyz``; defaults to the publisher's broker ping.
    :param metrics: where hook outcomes and enqueue latencies are counted; ``/metrics`` serves them.
    :param journal: records each accepted event before it is published, for the reconciler.
    """
    return Receiver(settings, publisher, runs, checks if checks is not None else {"broker": publisher.ping}, metrics,
                    journal)
