"""``vtexct failed list|show|requeue|purge``: look at the failure store and act on it."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from shared.failures import Failure, FailureStore
from shared.publisher import PublishError, Publisher

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``3d`` -> seconds.

    :raises ValueError: for anything else.
    """
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a duration like 90s, 15m, 2h or 3d: {text!r}")
    return float(match[1]) * _UNIT[match[2]]


@dataclass(frozen=True)
class Filters:
    account: str | None = None
    task: str | None = None
    reason: str | None = None
    older_than: float | None = None
    newer_than: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def match(self, entry: Failure, now: float) -> bool:
        age = now - entry.last_failed_at
        return ((self.account is None or entry.account == self.account)
                and (self.task is None or entry.task == self.task)
                and (self.reason is None or entry.reason == self.reason)
                and (self.older_than is None or age >= self.older_than)
                and (self.newer_than is None or age <= self.newer_than))


def select(store: FailureStore, filters: Filters) -> list[Failure]:
    now = time.time()
    return [f for f in store.iter(filters.account) if filters.match(f, now)]


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _subject(entry: Failure) -> str:
    kwargs = entry.kwargs
    if "order_id" in kwargs:
        return f"{kwargs['order_id']} {kwargs.get('state', '')}".strip()
    if "run_id" in kwargs:
        return f"run {kwargs['run_id']}" + (f" chunk {kwargs['index']}" if "index" in kwargs else "")
    return ""


def render_table(entries: list[Failure]) -> str:
    header = ["id", "account", "task", "subject", "reason", "code", "tries", "age", "message"]
    now = time.time()
    rows = [[e.id, e.account, e.task, _subject(e), e.reason, "" if e.code is None else str(e.code),
             str(e.attempts), _age(now - e.last_failed_at), e.message[:60]] for e in entries]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines + [f"{len(entries)} failure(s)"])


def requeue(store: FailureStore, publisher: Publisher, entries: Iterable[Failure]) -> tuple[list[str], list[str]]:
    """Send each entry's task again, with the same arguments and so the same idempotency key.

    An entry is removed only once the broker accepted its message; its counts are kept, so
    that the same work failing again continues the entry.

    :returns: ``(requeued ids, ids the broker refused)``.
    """
    done, refused = [], []
    for entry in entries:
        try:
            publisher.publish(entry.task, entry.kwargs)
        except PublishError:
            refused.append(entry.id)
            continue
        store.delete(entry.id, keep_history=True)
        done.append(entry.id)
    return done, refused


def run_command(store: FailureStore, publisher: Publisher | None, command: str, ids: list[str], filters: Filters,
                *, all_: bool = False, as_json: bool = False) -> int:
    """The body of ``vtexct failed``; prints to stdout and returns the exit code."""
    if command == "list":
        entries = select(store, filters)
        print(json.dumps([asdict(e) for e in entries], indent=2) if as_json else render_table(entries))
        return 0
    if command == "show":
        missing = 0
        for fid in ids:
            entry = store.get(fid)
            if entry is None:
                print(f"no failure {fid}", file=sys.stderr)
                missing += 1
            else:
                print(json.dumps(asdict(entry), indent=2))
        return 1 if missing else 0
    if ids and (all_ or filters.any):
        print("give failure ids, or --all/filters, not both", file=sys.stderr)
        return 2
    if not ids and not all_ and not filters.any:
        print(f"{command} needs failure ids, or --all, or filters", file=sys.stderr)
        return 2
    if ids:
        entries = [e for e in (store.get(fid) for fid in ids) if e is not None]
        unknown = sorted(set(ids) - {e.id for e in entries})
        if unknown:
            print(f"no such failure(s): {', '.join(unknown)}", file=sys.stderr)
    else:
        entries, unknown = select(store, filters), []
    if command == "purge":
        for entry in entries:
            store.delete(entry.id)
        print(f"purged {len(entries)} failure(s)")
        return 1 if unknown else 0
    assert publisher is not None
    done, refused = requeue(store, publisher, entries)
    print(f"requeued {len(done)} failure(s)" + (f"; the broker refused {len(refused)}: {' '.join(refused)}"
                                                 if refused else ""))
    return 1 if refused or unknown else 0
