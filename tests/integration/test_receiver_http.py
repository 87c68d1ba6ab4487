"""The receiver under gunicorn over real HTTP: every refusal is a clear JSON error and enqueues nothing."""

import json
import socket
import time

import pytest
import requests

from shared.devstack import free_port, start_receiver
from tests.conftest import ACCOUNT_ENV
from tests.integration.conftest import ACCOUNT, hook_body, post_hook

SECRET = ACCOUNT_ENV["VTEXCT_HOOK_SECRET"]


def _raw(url, data, content_type="application/json", secret=SECRET):
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Hook-Secret"] = secret
    return requests.post(url + "/hooks/vtex/orders", data=data, headers=headers, timeout=5)


@pytest.mark.usefixtures("worker")
def test_bad_input_gets_json_errors_and_nothing_is_enqueued(receiver_url, control):
    before = control.stats()["counts"].get("oms:200", 0) + control.stats()["counts"].get("oms:404", 0)
    good = json.dumps(hook_body("gen77bad-01")).encode()
    cases = [
        (_raw(receiver_url, b"{" + b" " * (64 * 1024 + 10) + b"}"), 413, "payload_too_large"),
        (_raw(receiver_url, b"{nope"), 400, "invalid_json"),
        (_raw(receiver_url, good, content_type="text/plain"), 415, "unsupported_media_type"),
        (_raw(receiver_url, json.dumps({"Origin": {"Account": ACCOUNT}}).encode()), 422, "missing_fields"),
        (_raw(receiver_url, good, secret="wrong"), 401, "bad_secret"),
        (_raw(receiver_url, good, secret=None), 401, "bad_secret"),
        (_raw(receiver_url, json.dumps({**hook_body("gen77bad-01"), "Origin": {"Account": "nobody"}}).encode()),
         403, "unknown_account"),
    ]
    time.sleep(1.0)

    for response, status, code in cases:
        assert response.status_code == status, (code, response.text)
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["error"] == code and body["detail"]
    after = control.stats()["counts"].get("oms:200", 0) + control.stats()["counts"].get("oms:404", 0)
    assert after == before
    missing = cases[3][0].json()
    assert missing["fields"] == ["OrderId", "State"]


def test_ping_and_health(receiver_url):
    assert _raw(receiver_url, b'{"hookConfig":"ping"}', secret=None).json() == {"status": "pong"}
    assert requests.get(receiver_url + "/healthz", timeout=5).status_code == 200
    ready = requests.get(receiver_url + "/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"] == {"broker": True, "redis": True}


@pytest.mark.parametrize("how", ["refused", "stalled"])
@pytest.mark.parametrize(("dead", "error"), [("VTEXCT_BROKER_URL", "broker_unavailable"),
                                             ("VTEXCT_REDIS_URL", "state_store_unavailable")])
def test_broker_or_state_store_down_answers_503_fast(stack_env, log_dir, dead, error, how):
    # "stalled": a server that takes the connection and never answers (a hung Redis, a black-holed
    # route), the case a refused port does not show.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)
    port = black_hole.getsockname()[1] if how == "stalled" else free_port()
    child, url = start_receiver({**stack_env, dead: f"redis://127.0.0.1:{port}/0"}, log_dir / f"dead-{error}-{how}",
                                workers=1, threads=2)
    try:
        started = time.monotonic()
        response = post_hook(url, hook_body("gen78dead-01"))
        elapsed = time.monotonic() - started

        assert response.status_code == 503 and response.json()["error"] == error
        assert response.headers["Retry-After"]
        # VTEX waits 5 s for an answer; leave room for the network.
        assert elapsed < 4.0
        if how == "refused":
            assert requests.get(url + "/readyz", timeout=10).status_code == 503
            # The metrics page answers when it matters most, and says which source is down.
            metrics = requests.get(url + "/metrics", timeout=10)
            source = "broker" if dead == "VTEXCT_BROKER_URL" else "state_store"
            assert metrics.status_code == 200 and f'vtexct_source_up{{source="{source}"}} 0.0' in metrics.text
    finally:
        child.stop()
        black_hole.close()


def test_sandbox_hook_config_pings_the_receiver(receiver_url, sandbox):
    from tests.conftest import ACCOUNT_ENV as ENV

    url = f"{sandbox.vtex_base_url.format(account=ACCOUNT)}/api/orders/hook/config"
    auth = {"X-VTEX-API-AppKey": ENV["VTEXCT_VTEX_APP_KEY"], "X-VTEX-API-AppToken": ENV["VTEXCT_VTEX_APP_TOKEN"]}
    config = {"filter": {"type": "FromWorkflow", "status": ["payment-approved", "canceled"]},
              "hook": {"url": receiver_url + "/hooks/vtex/orders", "headers": {"X-Hook-Secret": SECRET}}}

    accepted = requests.post(url, json=config, headers=auth, timeout=10)
    refused = requests.post(url, json={**config, "hook": {"url": receiver_url + "/nowhere", "headers": {}}},
                            headers=auth, timeout=10)

    assert accepted.status_code == 200
    assert refused.status_code == 400 and "ping" in refused.json()["error"]
    assert requests.get(url, headers=auth, timeout=10).json()["hook"]["url"].endswith("/hooks/vtex/orders")


def test_slow_and_stalled_clients_get_answers_and_leave_the_receiver_serving(receiver_url):
    host, port = receiver_url.removeprefix("http://").split(":")
    body = json.dumps({"hookConfig": "ping"}).encode()
    head = (f"POST /hooks/vtex/orders HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    # A client that stalls after half its headers, and one that dribbles its body a byte at a time.
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(head[:20])
    slow = socket.create_connection((host, int(port)))
    slow.sendall(head)
    for byte in body:
        slow.sendall(bytes([byte]))
        time.sleep(0.05)
    answer = slow.recv(4096).decode()

    healthy = requests.get(receiver_url + "/healthz", timeout=5)
    stalled.close()
    slow.close()

    assert answer.startswith("HTTP/1.1 200") and '"pong"' in answer
    assert healthy.status_code == 200
