"""The catalog sync's steps as plain Python over injected clients and stores.

1. :func:`list_skus` pages through SKU ids and stores them as chunks of the run.
2. :func:`fetch_chunk` fetches one chunk's SKUs concurrently, under the shared rate limit,
   and stores its CSV rows; a SKU that keeps failing is reported, never fatal.
3. :func:`assemble_and_upload` streams the parts in order to the presigned URL and
   completes the upload, or skips it when nothing changed since the last success.
"""

from __future__ import annotations

import hashlib
import logging
import os
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, Protocol

from shared.catalog.mapping import HEADER, encode_rows, sku_row
from shared.catalog.runs import FINAL_STATES, SUCCEEDED, UPLOADING, Run, RunStore
from shared.clients.clevertap import CatalogMissing
from shared.errors import NotFound, PermanentError, RateLimited, Throttled, TransientError, UpstreamRejected
from shared.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# VTEX's documented maximum page size for stockkeepingunitids.
PAGE_SIZE = 1000


@dataclass(frozen=True)
class FetchPolicy:
    """How hard one SKU is tried before it is reported as failed."""

    attempts: int = 4
    backoff: float = 0.5
    # VTEX asks for about a minute of silence after a 429; cap what one header may ask.
    max_retry_after: float = 60.0
    threads: int = 8
    # Pacing under the shared limit is a wait of milliseconds; a longer one (a 429's silence,
    # another process's burst) pauses the chunk so that its worker slot serves other work.
    max_inline_wait: float = 2.0


class Catalog(Protocol):
    def list_sku_ids(self, page: int, page_size: int) -> list[int]: ...

    def get_sku(self, sku_id: int) -> dict[str, Any]: ...


class CatalogUploader(Protocol):
    def get_catalog_url(self) -> str: ...

    def complete_catalog_upload(self, *, name: str, email: str, url: str, replace: bool) -> None: ...


class PartsMissing(PermanentError):
    reason = "catalog_parts_missing"


def _with_retries(call: Callable[[], Any], limiter: RateLimiter, policy: FetchPolicy) -> Any:
    """Run ``call`` under the rate limit, retrying transient errors; re-raise the last one.

    :raises Throttled: if the next slot is more than ``policy.max_inline_wait`` away, after a
        429 too (its ``Retry-After`` holds back the shared limit), without counting a try.
    """
    for attempt in range(policy.attempts):
        try:
            limiter.acquire_or_throttle(max_wait=policy.max_inline_wait)
            return call()
        except Throttled:
            raise
        except RateLimited as exc:
            wait = min(exc.retry_after or policy.backoff * 2 ** attempt, policy.max_retry_after)
            limiter.penalize(wait)
            if attempt == policy.attempts - 1:
                raise
        except TransientError:
            if attempt == policy.attempts - 1:
                raise
            time.sleep(policy.backoff * 2 ** attempt)
    raise AssertionError("unreachable: the loop returns or raises")


def list_skus(run: Run, runs: RunStore, catalog: Catalog, limiter: RateLimiter, chunk_size: int,
              policy: FetchPolicy = FetchPolicy()) -> tuple[int, int]:
    """Store the run's SKU ids as chunks of ``chunk_size``.

    :returns: ``(SKU count, chunk count)``.
    """
    page, total, chunks, buffer = 1, 0, 0, []
    while True:
        ids = _with_retries(lambda: catalog.list_sku_ids(page, PAGE_SIZE), limiter, policy)
        buffer.extend(ids)
        total += len(ids)
        while len(buffer) >= chunk_size:
            runs.save_chunk_ids(run, chunks, buffer[:chunk_size])
            buffer, chunks = buffer[chunk_size:], chunks + 1
        # A short page is the last one: the endpoint has no total.
        if len(ids) < PAGE_SIZE:
            break
        page += 1
    if buffer:
        runs.save_chunk_ids(run, chunks, buffer)
        chunks += 1
    return total, chunks


def fetch_chunk(run: Run, index: int, runs: RunStore, catalog: Catalog, limiter: RateLimiter,
                policy: FetchPolicy = FetchPolicy()) -> dict[str, Any]:
    """Fetch chunk ``index`` and store its rows.

    :returns: a small summary that depends only on the catalog's content, so that a chunk
        run twice returns the same value (the chord's result set then counts it once).
    :raises Throttled: when the rate limit asks for a long wait; the SKUs handled so far are
        kept, and the next try of the chunk fetches only the others.
    """
    ids = runs.chunk_ids(run, index)
    # Per position: ["row", [fields]], ["inactive", None] or ["failed", reason]; None = to fetch.
    results: list[list[Any] | None] = runs.chunk_results(run, index) or [None] * len(ids)
    handled = sum(r is not None for r in results)
    counter = threading.Lock()
    paused = threading.Event()
    waits: list[float] = []

    def fetch(position: int) -> None:
        nonlocal handled
        if results[position] is not None or paused.is_set():
            return
        sku_id = ids[position]
        try:
            sku = _with_retries(lambda: catalog.get_sku(sku_id), limiter, policy)
            row = sku_row(sku) if isinstance(sku, dict) else None
            results[position] = ["inactive", None] if row is None else ["row", list(row)]
        except Throttled as exc:
            waits.append(exc.retry_after or policy.max_inline_wait)
            paused.set()
            return
        except NotFound:
            results[position] = ["failed", "not_found"]
        except (TransientError, UpstreamRejected) as exc:
            results[position] = ["failed", exc.reason]
        with counter:
            handled += 1
            if handled % 100 == 0:
                runs.set_progress(run, index, handled)

    with ThreadPoolExecutor(policy.threads, thread_name_prefix=f"chunk{index}") as pool:
        list(pool.map(fetch, range(len(ids))))

    if paused.is_set():
        runs.save_chunk_results(run, index, results)
        runs.set_progress(run, index, handled)
        runs.count_pause(run)
        raise Throttled(f"catalog chunk {index}: rate limit spent after {handled} of {len(ids)} SKUs",
                        retry_after=max(waits))

    rows, inactive, failed = [], 0, []
    for sku_id, (outcome, value) in zip(ids, results):
        if outcome == "failed":
            failed.append([sku_id, value])
        elif outcome == "inactive":
            inactive += 1
        else:
            rows.append(value)
    data = encode_rows(rows)
    summary = {"index": index, "skus": len(ids), "rows": len(rows), "inactive": inactive,
               "failed": sorted(failed), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    runs.save_part(run, index, data, summary)
    runs.set_progress(run, index, len(ids))
    return summary


class PartsReader:
    """The CSV as one read-only file: the header, then each part, fetched from Redis when reached.

    Only one part is in memory at a time, whatever the size of the catalog.

    :param sizes: each part's size in bytes, from the chunk summaries, for ``Content-Length``.
    """

    def __init__(self, runs: RunStore, run: Run, sizes: list[int]) -> None:
        self._runs, self._run = runs, run
        self._chunks = len(sizes)
        self._length = len(HEADER) + sum(sizes)
        self._next = 0
        self._buffer = memoryview(HEADER)

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if not self._buffer:
                if self._next == self._chunks:
                    break
                part = self._runs.part(self._run, self._next)
                if part is None:
                    raise PartsMissing(f"catalog part {self._next} expired before the upload")
                self._buffer = memoryview(part)
                self._next += 1
                continue
            take = len(self._buffer) if size < 0 else min(size - len(out), len(self._buffer))
            out += self._buffer[:take]
            self._buffer = self._buffer[take:]
        return bytes(out)


def combined_digest(summaries: list[dict[str, Any]]) -> str:
    """One digest of the whole CSV from the parts' digests, in order."""
    digest = hashlib.sha256(HEADER)
    for summary in summaries:
        digest.update(bytes.fromhex(summary["sha256"]))
    return digest.hexdigest()


def assemble_and_upload(
    run: Run,
    runs: RunStore,
    uploader: CatalogUploader,
    put: Callable[[str, IO[bytes], int], None],
    *,
    email: str,
) -> dict[str, Any] | None:
    """Upload the run's CSV and finish the run.

    :param put: uploads ``length`` bytes of a file to a presigned URL.
    :returns: the run's report, or ``None`` if the run had already ended (a duplicate callback).
    :raises PartsMissing: if a chunk's rows are gone.
    """
    record = runs.get(run)
    if record is None or record["state"] in FINAL_STATES:
        return None
    runs.update(run, state=UPLOADING)
    summaries_by_index = runs.summaries(run)
    missing = [i for i in range(record["chunks"]) if i not in summaries_by_index]
    if missing:
        raise PartsMissing(f"run {run.id}: chunks {missing[:10]} have no rows stored")
    summaries = [summaries_by_index[i] for i in range(record["chunks"])]
    failed = [pair for s in summaries for pair in s["failed"]]
    report: dict[str, Any] = {
        "skus": sum(s["skus"] for s in summaries),
        "rows": sum(s["rows"] for s in summaries),
        "inactive": sum(s["inactive"] for s in summaries),
        "failed": len(failed),
        "failed_skus": failed[:1000],
        "digest": combined_digest(summaries),
        # Chunks that gave their worker slot back on a long rate-limit wait and came again.
        "rate_limit_pauses": record["pauses"],
    }
    last = runs.last_success(run.account)
    if last.get("digest") == report["digest"]:
        report["upload"] = f"skipped: unchanged since run {last.get('run_id')}"
    else:
        reader = PartsReader(runs, run, [s["bytes"] for s in summaries])
        url = uploader.get_catalog_url()
        put(url, reader, len(reader))
        name = f"catalog_{run.account}"
        replace = record["replace"]
        try:
            uploader.complete_catalog_upload(name=name, email=email, url=url, replace=replace)
        except CatalogMissing:
            # First sync of this store: there is nothing to replace yet. Only this call is repeated.
            replace = False
            uploader.complete_catalog_upload(name=name, email=email, url=url, replace=False)
        report.update({"upload": "uploaded", "bytes": len(reader), "replace": replace, "catalog": name})
    report["duration_s"] = round(time.time() - record["started_at"], 3)
    # Memory stays flat in the catalog size because parts are streamed; this shows it per run.
    report["assembler"] = {"pid": os.getpid(), "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    runs.finish(run, SUCCEEDED, report=report, digest=report["digest"], rows=report["rows"])
    log.info("catalog sync %s: %s", run.id, report["upload"], extra={"account": run.account})
    return report
