"""``vtexct status``: per account, what is queued, what failed, the last catalog sync, what was delivered."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import redis

from shared.catalog.runs import RunStore
from shared.deliveries import DeliveryCounters
from shared.failures import FailureStore
from shared.publisher import CeleryPublisher
from shared.settings import Settings


def collect(settings: Settings, state: redis.Redis, publisher: CeleryPublisher, account: str | None = None
            ) -> dict[str, Any]:
    """Everything ``vtexct status`` shows, as plain data."""
    failures = FailureStore(state)
    runs = RunStore(state, settings.catalog_lock_ttl)
    deliveries = DeliveryCounters(state)
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
        }
    return {"queues": publisher.queue_lengths(), "accounts": by_account}


def _short_report(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if not report:
        return None
    return {k: report.get(k) for k in ("skus", "rows", "inactive", "failed", "upload", "duration_s")}


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))


def render(data: dict[str, Any]) -> str:
    lines = ["queues: " + ", ".join(f"{q}={n}" for q, n in data["queues"].items())]
    for name, info in data["accounts"].items():
        lines.append(f"\n{name}")
        delivered = info["delivered"]
        lines.append(f"  delivered: {delivered['last_hour']} in the last hour, {delivered['last_day']} in the last day")
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
