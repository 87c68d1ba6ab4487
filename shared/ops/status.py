"""``vtexct status``: per account, what is queued, what failed, the last catalog sync, what was delivered."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import redis

from shared.catalog.runs import RunStore
from shared.clients.vtex import VtexClient
from shared.deliveries import DeliveryCounters
from shared.errors import IntegrationError
from shared.failures import FailureStore
from shared.ops.notifications import hook_problems
from shared.orders.feed import FeedStatus
from shared.publisher import CeleryPublisher
from shared.settings import Settings


def collect(settings: Settings, state: redis.Redis, publisher: CeleryPublisher, account: str | None = None,
            *, check_vtex: bool = True) -> dict[str, Any]:
    """Everything ``vtexct status`` shows, as plain data.

    :param check_vtex: ask VTEX for each account's hook configuration, which VTEX deletes
        after 3 days without notifications.
    """
    failures = FailureStore(state)
    runs = RunStore(state, settings.catalog_lock_ttl)
    deliveries = DeliveryCounters(state)
    feeds = FeedStatus(state)
    now = time.time()
    by_account: dict[str, Any] = {}
    for name in [account] if account else list(settings.accounts):
        latest = runs.latest(name)
        by_account[name] = {
            "failures": dict(Counter(f.reason for f in failures.iter(name)).most_common()),
            "delivered": {"last_hour": deliveries.since(name, 3600, now), "last_day": deliveries.since(name, 86400, now)},
            "catalog": None if latest is None else {
                k: latest.get(k) for k in ("id", "trigger", "state", "started_at", "finished_at", "total", "done",
                                           "error")} | {"report": _short_report(latest.get("report"))},
            "catalog_last_success": runs.last_success(name) or None,
            "hook": _hook(settings, name) if check_vtex else None,
            "feed": {"last_poll": feeds.get(name)} if settings.accounts[name].feed_safety_net else None,
        }
    return {"queues": _queues(publisher), "accounts": by_account}


def _queues(publisher: CeleryPublisher) -> dict[str, int] | dict[str, str]:
    """Queue lengths, or why the broker gave none: status is read when something is down."""
    try:
        return publisher.queue_lengths()
    except Exception as exc:
        # kombu raises several unrelated types for a broker that is down; each means the same here.
        return {"error": f"broker did not answer: {type(exc).__name__}"}


def _hook(settings: Settings, name: str) -> dict[str, Any]:
    """The account's hook on VTEX, and what is wrong with it, in words."""
    client = VtexClient(settings.accounts[name], min(5.0, settings.http_timeout))
    try:
        config = client.hook_config()
    except IntegrationError as exc:
        return {"configured": None, "problems": [f"could not ask VTEX: {exc}"]}
    url = (config.get("hook") or {}).get("url") if config else None
    return {"configured": config is not None, "url": url, "problems": hook_problems(config)}


def _short_report(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if not report:
        return None
    return {k: report.get(k) for k in ("skus", "rows", "inactive", "failed", "upload", "duration_s")}


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))


def _feed_line(feed: dict[str, Any] | None) -> str:
    if feed is None:
        return "  feed: safety net on, not polled yet"
    line = f"  feed: last poll {_when(feed['at'])}: {feed['outcome']}"
    if feed["outcome"] == "not_configured":
        return line + " (run vtexct feed configure)"
    if feed["error"]:
        return line + f" ({feed['error']})"
    report = feed["report"] or {}
    return line + f", {report.get('read', 0)} read, {report.get('submitted', 0)} submitted; " \
                  f"{feed['submitted_total']} submitted in all"


def render(data: dict[str, Any]) -> str:
    queues = data["queues"]
    lines = ["queues: " + (f"unknown, {queues['error']}" if "error" in queues else
                           ", ".join(f"{q}={n}" for q, n in queues.items()))]
    for name, info in data["accounts"].items():
        lines.append(f"\n{name}")
        delivered = info["delivered"]
        lines.append(f"  delivered: {delivered['last_hour']} in the last hour, {delivered['last_day']} in the last day")
        hook = info.get("hook")
        if hook is not None:
            shown = {True: hook.get("url"), False: "none on VTEX", None: "unknown"}[hook["configured"]]
            lines.append(f"  hook: {shown}")
            lines += [f"  WARNING: {problem}" for problem in hook["problems"]]
        if info.get("feed") is not None:
            lines.append(_feed_line(info["feed"]["last_poll"]))
        failed = info["failures"]
        lines.append("  failures: " + (", ".join(f"{r}={n}" for r, n in failed.items()) if failed else "none"))
        run = info["catalog"]
        if run is None:
            lines.append("  catalog: no sync yet")
        else:
            outcome = (run["report"] or {}).get("upload") or run.get("error") or ""
            lines.append(f"  catalog: last run {run['id']} ({run['trigger']}) {run['state']} at "
                         f"{_when(run['finished_at'] or run['started_at'])}; {run['done']}/{run['total']} SKUs"
                         + (f"; {outcome}" if outcome else ""))
            success = info["catalog_last_success"]
            if success:
                lines.append(f"  catalog: last success {success.get('run_id')} at {_when(success.get('finished_at'))}, "
                             f"{success.get('rows')} rows")
    return "\n".join(lines)
