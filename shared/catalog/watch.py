"""``vtexct catalog-sync``: start runs, and with ``--wait`` follow them with a progress bar."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

import redis
from tqdm import tqdm

from shared.catalog.runs import FAILED, FINAL_STATES, Run, RunStore, SyncInProgress
from shared.catalog.trigger import trigger_sync
from shared.publisher import CeleryPublisher, PublishError
from shared.settings import ConfigError, Settings


def follow(runs: RunStore, run: Run, *, out: TextIO = sys.stderr, poll: float = 0.5) -> dict:
    """Show SKUs done / total with rate and ETA until the run ends; return its final record."""
    bar = tqdm(total=0, unit="SKU", desc=f"{run.account} listing", file=out, dynamic_ncols=True)
    try:
        while True:
            record = runs.get(run)
            if record is None:
                raise RuntimeError(f"run {run.id} disappeared from the state store")
            if record["total"] and bar.total != record["total"]:
                bar.reset(total=record["total"])
            paused = f", {record['pauses']} rate-limit pauses" if record["pauses"] else ""
            bar.set_description(f"{run.account} {record['state']}{paused}")
            bar.update(max(0, record["done"] - bar.n))
            if record["state"] in FINAL_STATES:
                return record
            time.sleep(poll)
    finally:
        bar.close()


def catalog_sync(settings: Settings, account: str | None, *, wait: bool, replace: bool) -> int:
    """Start a sync for ``account`` (or every account with catalog sync on); 0 when all went well."""
    names = [account] if account else [a.name for a in settings.accounts.values() if a.catalog_sync]
    for name in names:
        if name not in settings.accounts:
            raise ConfigError(f"account {name!r} is not configured")
        if not settings.accounts[name].catalog_sync:
            raise ConfigError(f"catalog sync is off for {name} (VTEXCT_CATALOG_SYNC)")
    runs = RunStore(redis.Redis.from_url(settings.redis_url, decode_responses=True), settings.catalog_lock_ttl)
    publisher = CeleryPublisher(settings)
    status = 0
    for name in names:
        try:
            run = trigger_sync(runs, publisher, name, "cli", replace=replace)
        except SyncInProgress as exc:
            print(f"{name}: not started, a sync is already running ({exc.run_id})", file=sys.stderr)
            status = 1
            continue
        except PublishError as exc:
            print(f"{name}: not started: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: started run {run.id}")
        if wait:
            record = follow(runs, run)
            print(json.dumps({k: record.get(k) for k in ("id", "account", "state", "total", "error", "report")},
                             indent=2))
            status = max(status, 1 if record["state"] == FAILED else 0)
    return status
