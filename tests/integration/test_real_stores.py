"""Setting a store up on VTEX and catching up with it: ``vtexct hook``, the Feed v3 safety net and
``vtexct backfill``, each against the sandbox over loopback with the real worker."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from shared.devstack import wait_until
from shared.names import TaskName
from shared.orders.hooks import parse_timestamp
from tests.integration.conftest import ACCOUNT, ACCOUNT_ENV, events_for, post_hook, hook_body, vtexct

SECRET = ACCOUNT_ENV["VTEXCT_HOOK_SECRET"]
pytestmark = pytest.mark.usefixtures("worker")


def test_hook_register_is_pinged_through_the_receiver_show_and_delete(stack_env, receiver_url, control):
    # when: registered with the receiver's real URL (the sandbox pings it first, like VTEX)
    url = receiver_url + "/hooks/vtex/orders"
    registered = vtexct(stack_env, "hook", "register", "--url", url)

    # then: VTEX holds our states and our secret, and the command showed the answer without the secret
    assert registered.returncode == 0, registered.stderr
    stored = control.hook_config(ACCOUNT)
    assert stored["filter"] == {"type": "FromWorkflow",
                                "status": ["canceled", "incomplete", "payment-approved", "payment-denied"]}
    assert stored["hook"] == {"url": url, "headers": {"X-Hook-Secret": SECRET}}
    assert url in registered.stdout and SECRET not in registered.stdout + registered.stderr
    assert "WARNING" not in vtexct(stack_env, "status").stdout

    shown = vtexct(stack_env, "hook", "show")
    assert url in shown.stdout and SECRET not in shown.stdout

    # when: VTEX cannot reach the URL, it refuses the hook and the command says so
    refused = vtexct(stack_env, "hook", "register", "--url", "http://127.0.0.1:9/hooks/vtex/orders")
    assert refused.returncode == 1 and "did not answer the ping" in refused.stdout
    assert control.hook_config(ACCOUNT)["hook"]["url"] == url

    # when: deleted, status warns, as it would once VTEX drops an idle hook after 3 days
    assert vtexct(stack_env, "hook", "delete").returncode == 0
    assert control.hook_config(ACCOUNT) is None
    status = vtexct(stack_env, "status")
    assert "WARNING: no hook on VTEX" in status.stdout and "3 days" in status.stdout


def test_the_feed_safety_net_submits_what_the_hook_missed_and_commits_every_item(
        stack_env, receiver_url, publisher, control, settle):
    # given: one event delivered by the hook; the feed also holds it, two missed ones, others
    assert post_hook(receiver_url, hook_body("gen7001feed-01")).status_code == 200
    wait_until(lambda: events_for(control, "gen7001feed-01"), 30, "the hooked event")
    assert vtexct(stack_env, "feed", "configure").returncode == 0
    assert control.feed_config(ACCOUNT)["filter"]["status"] == ["canceled", "incomplete", "payment-approved",
                                                               "payment-denied"]
    change = "2026-11-28T09:00:00.1234567Z"
    items = [{"orderId": "gen7001feed-01", "state": "payment-approved", "currentChange": change},
             {"orderId": "gen7002feed-01", "state": "payment-approved", "currentChange": change},
             {"orderId": "gen7003feed-01", "state": "canceled", "currentChange": change}]
    items += [{"orderId": f"gen71{n:02d}feed-01", "state": "payment-approved", "currentChange": change}
              for n in range(12)]
    assert control.push_feed(ACCOUNT, items)["count"] == 15

    # when: the safety net runs (beat's task, published by name)
    publisher.publish(TaskName.ORDERS_POLL_FEED, {"account": ACCOUNT})
    missed = ["gen7002feed-01", "gen7003feed-01"] + [f"gen71{n:02d}feed-01" for n in range(12)]
    wait_until(lambda: all(events_for(control, o) for o in missed), 60, "the missed events")
    settle()

    # then: each event once, the hooked one not again, and nothing left in the feed
    sent = Counter(e["evtData"]["order_id"] for e in control.events(ACCOUNT) if "feed-01" in e["evtData"]["order_id"])
    assert sent == Counter({o: 1 for o in ["gen7001feed-01", *missed]})
    assert events_for(control, "gen7002feed-01")[0]["ts"] == int(parse_timestamp(change).timestamp())
    stats = control.feed_stats(ACCOUNT)
    assert (stats["visible"], stats["invisible"], stats["committed"]) == (0, 0, 15)
    status = json.loads(vtexct(stack_env, "status", "--json", "--skip-vtex").stdout)
    assert status["accounts"][ACCOUNT]["feed"] is None  # the safety net's beat is off for this account

    # when: the feed is gone on VTEX, a poll says so instead of failing
    assert vtexct(stack_env, "feed", "delete").returncode == 0
    publisher.publish(TaskName.ORDERS_POLL_FEED, {"account": ACCOUNT})
    settle()
    from shared.orders.feed import FeedStatus
    import redis

    last = FeedStatus(redis.Redis.from_url(stack_env["VTEXCT_REDIS_URL"], decode_responses=True)).get(ACCOUNT)
    assert last["outcome"] == "not_configured" and last["error"] is None


def _backfill(env, *args):
    return subprocess.Popen([sys.executable, "-m", "shared.cli", "backfill", "--account", ACCOUNT, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_backfill_sends_history_with_its_own_times_and_resumes_after_an_interruption(
        stack_env, control, state, settle):
    # given: 400 past orders over 40 days, a tenth canceled; a slow list API, so there is time to interrupt
    since, until = "2026-03-01", "2026-04-10"
    control.order_history(ACCOUNT, 400, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC),
                          canceled_rate=0.1, unauthorized_cancel_rate=0.5, prefix="hist")
    control.faults(oms_list={"latency_ms": 300})
    args = ["--since", since, "--until", until]

    dry = subprocess.run([sys.executable, "-m", "shared.cli", "backfill", "--account", ACCOUNT, *args, "--dry-run"],
                         env=stack_env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    would = json.loads(dry.stdout)
    assert would["orders"] == 400 and would["dry_run"] and sum(would["submitted"].values()) == 400 + 20

    # when: interrupted (Ctrl-C) as soon as its first window is done
    first = _backfill(stack_env, *args)
    wait_until(lambda: any(state.hget(k, "next_from") for k in state.scan_iter(f"vtexct:{ACCOUNT}:backfill:*")),
               60, "the backfill's first cursor")
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130 and "run the same command to resume" in err

    # when: the same command again
    control.faults(oms_list={"latency_ms": 0})
    second = _backfill(stack_env, *args)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    report = json.loads(out)
    assert report["resumed_from"] and report["orders"] == 400
    assert "order" in err  # the progress bar

    # then: every past event delivered once, at the time it happened
    wait_until(lambda: len([e for e in control.events(ACCOUNT) if e["evtData"]["order_id"].startswith("hist")]) >= 420,
               120, "the backfilled events")
    settle()
    events = [e for e in control.events(ACCOUNT) if e["evtData"]["order_id"].startswith("hist")]
    assert Counter(Counter((e["evtData"]["order_id"], e["evtName"]) for e in events).values()) == Counter({1: 420})
    names = Counter(e["evtName"] for e in events)
    assert names == Counter({"Charged": 380, "Order Cancelled": 20, "Checkout Failed": 20})
    assert all(e["ts"] < time.mktime((2026, 4, 12, 0, 0, 0, 0, 0, 0)) for e in events)

    # and: running it once more sends nothing new
    again = subprocess.run([sys.executable, "-m", "shared.cli", "backfill", "--account", ACCOUNT, *args, "--restart"],
                           env=stack_env, capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["already_delivered"] == 420 and not json.loads(again.stdout)["submitted"]
