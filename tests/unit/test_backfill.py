"""The backfill's windows, events and resume, against a stub of VTEX's list API and its limits."""

from datetime import UTC, datetime, timedelta

import fakeredis
import pytest

from shared.errors import UpstreamUnavailable
from shared.orders.backfill import Backfill, Cursor, events_of, parse_day_or_instant, vtex_instant
from shared.orders.hooks import parse_timestamp

ACCOUNT = "teststore"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


class StubOms:
    """Rows sorted by creation date; refuses what VTEX refuses; can fail after N list calls."""

    def __init__(self, rows, fail_after=None):
        self.rows, self.fail_after, self.list_calls, self.fetched = rows, fail_after, [], []

    def list_orders(self, created_from, created_to, page, per_page):
        assert 1 <= page <= 30 and 1 <= per_page <= 100, "VTEX answers 400 beyond 30 pages of 100"
        if self.fail_after is not None and len(self.list_calls) >= self.fail_after:
            raise UpstreamUnavailable("vtex list orders: HTTP 503")
        self.list_calls.append((created_from, created_to, page))
        low, high = parse_timestamp(created_from), parse_timestamp(created_to)
        held = [r for r in self.rows if low <= parse_timestamp(r["creationDate"]) <= high]
        return {"list": held[(page - 1) * per_page: page * per_page],
                "paging": {"total": len(held), "pages": -(-len(held) // per_page), "perPage": per_page}}

    def get_order(self, order_id):
        self.fetched.append(order_id)
        return {"orderId": order_id, "lastChange": "2026-02-01T00:00:00.0000000+00:00"}


def rows(count, span, canceled_every=0):
    out = []
    for n in range(count):
        created = SINCE + span * n / count
        canceled = canceled_every and n % canceled_every == 0
        out.append({"orderId": f"v{n:07d}bf-01", "creationDate": vtex_instant(created),
                    "status": "canceled" if canceled else "invoiced",
                    "authorizedDate": None if canceled else vtex_instant(created + timedelta(minutes=5)),
                    "lastChange": vtex_instant(created + timedelta(hours=2))})
    return out


def _job(oms, submitted, delivered=frozenset()):
    return Backfill(oms, ACCOUNT, submit=submitted.append, delivered=lambda ref: ref.order_id in delivered,
                    wait_for_slot=lambda: None)


def test_a_dense_range_is_split_so_no_query_needs_more_than_30_pages():
    # 7,000 orders in one day: the first window holds more than 3,000 and must shrink.
    oms, submitted = StubOms(rows(7000, timedelta(days=1))), []

    report = _job(oms, submitted).run(SINCE, SINCE + timedelta(days=3), ("payment-approved",), None)

    assert sorted(r.order_id for r in submitted) == [f"v{n:07d}bf-01" for n in range(7000)]
    assert report.orders == 7000 and report.submitted["payment-approved"] == 7000 and report.beyond_cap == 0
    assert all(page <= 30 for _, _, page in oms.list_calls)
    # The historical time travels with the event: authorized 5 minutes after creation.
    first = min(submitted, key=lambda r: r.order_id)
    assert first.changed_at == SINCE + timedelta(minutes=5)


def test_events_follow_the_order_history_and_the_chosen_states():
    approved = {"orderId": "a", "status": "canceled", "authorizedDate": "2026-01-01T00:05:00.000Z",
                "lastChange": "2026-01-02T00:00:00.000Z"}
    never = {"orderId": "b", "status": "canceled", "authorizedDate": None}
    fetched = []

    def fetch(order_id):
        fetched.append(order_id)
        return {"lastChange": "2026-01-03T00:00:00.0000000Z"}

    assert [s for s, _ in events_of(approved, ("payment-approved", "canceled"), fetch)] == ["payment-approved", "canceled"]
    assert [s for s, _ in events_of(approved, ("canceled",), fetch)] == ["canceled"]
    assert events_of(never, ("canceled",), fetch) == [("canceled", datetime(2026, 1, 3, tzinfo=UTC))]
    assert fetched == ["b"]  # only a row without its last change costs a fetch
    assert events_of({"orderId": "c", "status": "payment-pending"}, ("payment-approved", "canceled"), fetch) == []


def test_an_interrupted_backfill_resumes_from_its_cursor_and_reports_the_whole_job():
    client = fakeredis.FakeRedis(decode_responses=True)
    data = rows(900, timedelta(days=9), canceled_every=10)
    until = SINCE + timedelta(days=10)
    states = ("payment-approved", "canceled")
    first_run = []

    with pytest.raises(UpstreamUnavailable):
        _job(StubOms(data, fail_after=4), first_run).run(SINCE, until, states, Cursor(client, ACCOUNT, SINCE, until, states))
    cursor = Cursor(client, ACCOUNT, SINCE, until, states)
    stopped_at = cursor.position()
    assert stopped_at is not None and SINCE < stopped_at < until and first_run

    # The same command again: everything before the cursor is not listed again.
    second_run, oms = [], StubOms(data)
    report = _job(oms, second_run).run(SINCE, until, states, cursor)

    assert report.resumed_from == vtex_instant(stopped_at)
    assert all(parse_timestamp(start) >= stopped_at for start, _, _ in oms.list_calls)
    events = {(r.order_id, r.state) for r in first_run + second_run}
    expected = {(r["orderId"], "canceled" if r["status"] == "canceled" else "payment-approved") for r in data}
    assert events == expected
    assert report.orders == 900 and sum(report.submitted.values()) == 900
    assert report.submitted["canceled"] == 90


def test_a_dry_run_sends_nothing_and_skips_what_was_delivered():
    oms, submitted = StubOms(rows(50, timedelta(days=1))), []

    report = _job(oms, submitted, delivered={"v0000001bf-01"}).run(
        SINCE, SINCE + timedelta(days=2), ("payment-approved",), None, dry_run=True)

    assert submitted == [] and report.submitted["payment-approved"] == 49 and report.already_delivered == 1


def test_dates_are_days_or_instants():
    assert parse_day_or_instant("2026-01-01") == SINCE
    assert parse_day_or_instant("2026-01-01T03:00:00Z") == SINCE + timedelta(hours=3)
    with pytest.raises(ValueError, match="2026-01-01"):
        parse_day_or_instant("yesterday")
