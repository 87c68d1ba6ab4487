"""The catalog sync's steps on fakeredis with stub VTEX and CleverTap clients."""

import csv
import io
import time

import fakeredis
import pytest

from shared.catalog import sync
from shared.catalog.mapping import COLUMNS
from shared.catalog.runs import FAILED, SUCCEEDED, RunStore, SyncInProgress
from shared.clients.clevertap import CatalogMissing
from shared.errors import RateLimited, Throttled, UpstreamUnavailable
from shared.ratelimit import RateLimiter
from shared.sandbox.factory import make_sku

FAST = sync.FetchPolicy(attempts=3, backoff=0.001, max_retry_after=0.01, threads=4)


class Catalog:
    def __init__(self, size, failing=(), inactive=(), flaky=(), retry_after=0.001):
        self.size, self.failing, self.inactive = size, set(failing), set(inactive)
        self.flaky = {i: 1 for i in flaky}
        self.retry_after = retry_after
        self.pages = []
        self.fetched = []

    def list_sku_ids(self, page, page_size):
        self.pages.append((page, page_size))
        start = (page - 1) * page_size + 1
        return list(range(start, min(self.size, start + page_size - 1) + 1))

    def get_sku(self, sku_id):
        if sku_id in self.failing:
            raise UpstreamUnavailable("vtex: HTTP 500")
        if self.flaky.get(sku_id):
            self.flaky[sku_id] -= 1
            raise RateLimited("vtex: HTTP 429", retry_after=self.retry_after)
        self.fetched.append(sku_id)
        return make_sku(sku_id, active=sku_id not in self.inactive)


class Uploader:
    def __init__(self, existing=False):
        self.existing = existing
        self.completions = []
        self.urls = 0

    def get_catalog_url(self):
        self.urls += 1
        return f"https://s3.example.com/bucket/{self.urls}.csv?X-Amz-Signature=abc"

    def complete_catalog_upload(self, *, name, email, url, replace):
        self.completions.append({"name": name, "email": email, "url": url, "replace": replace})
        if replace and not self.existing:
            raise CatalogMissing("No Catalog with given name exists for replacement", status=400)
        self.existing = True


@pytest.fixture
def runs():
    return RunStore(fakeredis.FakeRedis(decode_responses=True), lock_ttl=60)


@pytest.fixture
def limiter(runs):
    return RateLimiter(runs.redis, "acme", "catalog", per_minute=10**7, burst=100)


def _sync(runs, limiter, catalog, uploader, chunk_size=7):
    run = runs.begin("acme", "test")
    total, chunks = sync.list_skus(run, runs, catalog, limiter, chunk_size, FAST)
    runs.update(run, total=total, chunks=chunks)
    summaries = [sync.fetch_chunk(run, i, runs, catalog, limiter, FAST) for i in range(chunks)]
    uploads = []

    def put(url, body, length):
        data = body.read()
        assert len(data) == length
        uploads.append(data)

    report = sync.assemble_and_upload(run, runs, uploader, put, email="ops@acme.example")
    return run, summaries, report, uploads


def test_list_pages_by_1000_and_stops_on_a_short_page(runs, limiter):
    catalog = Catalog(2500)
    run = runs.begin("acme", "test")

    total, chunks = sync.list_skus(run, runs, catalog, limiter, 1000, FAST)

    assert (total, chunks) == (2500, 3)
    assert catalog.pages == [(1, 1000), (2, 1000), (3, 1000)]
    assert runs.chunk_ids(run, 2) == list(range(2001, 2501))


def test_full_sync_writes_one_csv_in_order_and_reports_failures(runs, limiter):
    catalog = Catalog(30, failing=[4, 17], inactive=[9], flaky=[5, 6])
    uploader = Uploader()

    run, summaries, report, [csv_bytes] = _sync(runs, limiter, catalog, uploader)

    rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8"), newline="")))
    assert rows[0] == list(COLUMNS)
    assert [int(r[0]) for r in rows[1:]] == [i for i in range(1, 31) if i not in (4, 17, 9)]
    assert (report["skus"], report["rows"], report["inactive"], report["failed"]) == (30, 27, 1, 2)
    assert report["failed_skus"] == [[4, "upstream_unavailable"], [17, "upstream_unavailable"]]
    assert runs.get(run)["state"] == SUCCEEDED
    assert runs.lock("acme").holder() is None
    assert not list(runs.redis.scan_iter(f"vtexct:acme:catalog:run:{run.id}:part:*"))


def test_replace_fallback_repeats_only_the_completion(runs, limiter):
    uploader = Uploader(existing=False)

    _, _, report, uploads = _sync(runs, limiter, Catalog(10), uploader)

    assert uploader.urls == 1 and len(uploads) == 1
    assert [c["replace"] for c in uploader.completions] == [True, False]
    assert uploader.completions[0]["url"] == uploader.completions[1]["url"]
    assert uploader.completions[0]["name"] == "catalog_acme" and report["replace"] is False


def test_unchanged_catalog_skips_the_upload(runs, limiter):
    uploader = Uploader(existing=True)
    _sync(runs, limiter, Catalog(10), uploader)

    _, _, report, uploads = _sync(runs, limiter, Catalog(10), uploader)

    assert uploads == [] and report["upload"].startswith("skipped: unchanged")
    _, _, changed, uploads = _sync(runs, limiter, Catalog(11), uploader)
    assert changed["upload"] == "uploaded" and len(uploads) == 1


def test_chunk_rerun_is_idempotent(runs, limiter):
    catalog = Catalog(20)
    run = runs.begin("acme", "test")
    sync.list_skus(run, runs, catalog, limiter, 10, FAST)

    first = sync.fetch_chunk(run, 1, runs, catalog, limiter, FAST)
    again = sync.fetch_chunk(run, 1, runs, catalog, limiter, FAST)

    assert first == again
    assert runs.part(run, 1).count(b"\r\n") == 10


def test_lock_keeps_a_second_run_out_until_the_first_ends(runs):
    first = runs.begin("acme", "beat")

    with pytest.raises(SyncInProgress) as error:
        runs.begin("acme", "cli")
    runs.finish(first, FAILED, error="test")

    assert error.value.run_id == first.id
    assert runs.begin("acme", "cli").id != first.id
    assert runs.begin("other", "cli")


def test_duplicate_callback_does_nothing(runs, limiter):
    uploader = Uploader(existing=True)
    run, _, _, _ = _sync(runs, limiter, Catalog(5), uploader)

    assert sync.assemble_and_upload(run, runs, uploader, lambda *a: None, email="x@y.z") is None
    assert len(uploader.completions) == 1


def test_parts_reader_streams_in_small_reads(runs, limiter):
    run = runs.begin("acme", "test")
    sync.list_skus(run, runs, Catalog(25), limiter, 10, FAST)
    for i in range(3):
        sync.fetch_chunk(run, i, runs, Catalog(25), limiter, FAST)

    sizes = [runs.summaries(run)[i]["bytes"] for i in range(3)]
    reader = sync.PartsReader(runs, run, sizes)
    pieces = []
    while piece := reader.read(100):
        assert len(piece) <= 100
        pieces.append(piece)

    data = b"".join(pieces)
    assert len(data) == len(reader)
    assert data.count(b"\r\n") >= 26


def test_a_long_retry_after_pauses_the_chunk_and_the_next_try_fetches_only_the_rest(runs, limiter):
    # given: SKU 8 answers 429 asking for more silence than a chunk waits with its slot held
    patient = sync.FetchPolicy(attempts=3, backoff=0.001, max_retry_after=5, threads=2, max_inline_wait=0.05)
    catalog = Catalog(20, inactive=[3], flaky=[8], retry_after=0.3)
    run = runs.begin("acme", "test")
    sync.list_skus(run, runs, catalog, limiter, 20, patient)

    # when
    with pytest.raises(Throttled) as paused:
        sync.fetch_chunk(run, 0, runs, catalog, limiter, patient)
    kept = runs.chunk_results(run, 0)
    first_try = list(catalog.fetched)
    time.sleep(paused.value.retry_after)
    summary = sync.fetch_chunk(run, 0, runs, catalog, limiter, patient)

    # then: the wait is the 429's, what the first try fetched was kept and not fetched again
    assert 0.2 < paused.value.retry_after <= 0.31
    assert 0 < sum(r is not None for r in kept) < 20 and kept[7] is None
    assert sorted(catalog.fetched) == list(range(1, 21)) and len(set(first_try)) == len(first_try)
    fresh = runs.begin("other", "test")
    sync.list_skus(fresh, runs, Catalog(20, inactive=[3]), limiter, 20, FAST)
    assert summary == sync.fetch_chunk(fresh, 0, runs, Catalog(20, inactive=[3]), limiter, FAST)
    assert runs.chunk_results(run, 0) is None and runs.get(run)["pauses"] == 1
