"""The Feed v3 loop against a stub feed: what is submitted, what is committed, and when."""

from shared.errors import NotFound
from shared.orders.feed import FeedStatus, drain_feed

ACCOUNT = "teststore"


class StubFeed:
    """Hands out items ten at a time and records every call, in order."""

    def __init__(self, items, *, configured=True):
        self.items, self.configured, self.calls = list(items), configured, []

    def read_feed(self, max_items):
        self.calls.append(("read", max_items))
        if not self.configured:
            raise NotFound("vtex GET /api/orders/feed: HTTP 404")
        lot, self.items = self.items[:max_items], self.items[max_items:]
        return lot

    def commit_feed(self, handles):
        self.calls.append(("commit", list(handles)))


def item(n, state="payment-approved", **extra):
    return {"eventId": f"E{n}", "handle": f"h{n}", "domain": "Marketplace", "orderId": f"v{n}feed-01",
            "state": state, "lastState": "", "currentChange": "2026-11-27T10:02:13.1234567Z", **extra}


def _drain(feed, delivered=frozenset(), max_items=1000):
    submitted, slots = [], []
    report = drain_feed(feed, ACCOUNT, lambda ref: (submitted.append(ref), feed.calls.append(("submit", ref.order_id))),
                        lambda ref: ref.order_id in delivered, wait_for_slot=lambda: slots.append(1),
                        max_items=max_items)
    return report, submitted, slots


def test_every_item_is_committed_after_its_event_was_submitted():
    items = [item(n) for n in range(12)] + [item(12, state="invoiced"), {"handle": "h13", "junk": True},
                                            item(14, state="canceled")]
    feed = StubFeed(items)

    report, submitted, slots = _drain(feed, delivered={"v3feed-01"})

    assert [r.order_id for r in submitted] == [f"v{n}feed-01" for n in range(12) if n != 3] + ["v14feed-01"]
    assert submitted[0].account == ACCOUNT and submitted[0].changed_at.microsecond == 123456
    commits = [c for c in feed.calls if c[0] == "commit"]
    assert [h for _, handles in commits for h in handles] == [f"h{n}" for n in range(15)]
    # A lot's handles are committed only once all its events went in.
    first_commit = feed.calls.index(commits[0])
    assert ("submit", "v9feed-01") in feed.calls[:first_commit] and ("submit", "v10feed-01") not in feed.calls[:first_commit]
    assert (report.read, report.submitted, report.already_delivered, report.ignored, report.malformed,
            report.committed) == (15, 12, 1, 1, 1, 15)
    assert len(slots) == 3 and not report.more and not report.not_configured


def test_no_feed_configured_is_a_status_not_an_error():
    report, submitted, _ = _drain(StubFeed([item(1)], configured=False))

    assert report.not_configured and submitted == []
    assert "vtexct feed configure" in report.summary()


def test_a_run_stops_at_its_cap_and_says_more_is_waiting():
    feed = StubFeed([item(n) for n in range(35)])

    report, submitted, _ = _drain(feed, max_items=20)

    assert (report.read, report.committed, report.more) == (20, 20, True) and len(feed.items) == 15


def test_status_keeps_the_last_poll_and_a_running_total():
    import fakeredis

    status = FeedStatus(fakeredis.FakeRedis(decode_responses=True))
    report, _, _ = _drain(StubFeed([item(n) for n in range(3)]))
    status.record(ACCOUNT, report)
    status.record(ACCOUNT, report)
    status.record(ACCOUNT, None, "UpstreamUnavailable: HTTP 503")

    last = status.get(ACCOUNT)
    assert (last["outcome"], last["error"], last["submitted_total"]) == ("error", "UpstreamUnavailable: HTTP 503", 6)
    assert status.get("other") is None
