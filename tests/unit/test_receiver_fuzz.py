"""Generated requests against the receiver's core and its WSGI adapter.

Properties: never a 5xx, always a JSON body that says what happened, and a task is published
only for a well-formed notification of a handled state, for a configured account, carrying
the right secret, with arguments the worker's own decoder accepts. About 12,000 requests per run.
"""

from __future__ import annotations

import io
import json
import string
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver import create_app
from receiver.http import MAX_BODY, Request
from shared.orders.hooks import ORDER_ID_RE
from shared.orders.mapping import HANDLED_STATES
from shared.orders.pending import EventRef
from shared.settings import load_settings
from tests.conftest import ACCOUNT_ENV

SECRET = ACCOUNT_ENV["VTEXCT_HOOK_SECRET"]
APP_KEY = ACCOUNT_ENV["VTEXCT_VTEX_APP_KEY"]
ACCOUNT = ACCOUNT_ENV["VTEXCT_VTEX_ACCOUNT"]
FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))


class Recorder:
    def __init__(self):
        self.published = []

    def publish(self, task_name, kwargs):
        self.published.append(kwargs)
        return "t"

    def ping(self):
        return True


@pytest.fixture(scope="module")
def core():
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, ACCOUNT_ENV, clear=True):
        settings_ = load_settings()
    recorder = Recorder()
    return create_app(settings_, recorder), recorder


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
states = st.sampled_from(sorted(HANDLED_STATES) + ["invoiced", "handling", "", "Canceled", "payment_approved"])
order_ids = st.one_of(st.from_regex(r"\A[a-z0-9]{1,14}-0[1-3]\Z"), texts, st.integers(), st.none())
accounts = st.sampled_from([ACCOUNT, "otherstore", "", None, 7])
hook_bodies = st.fixed_dictionaries(
    {"OrderId": order_ids, "State": states | texts, "Origin": st.fixed_dictionaries(
        {"Account": accounts, "Key": st.sampled_from([APP_KEY, "vtexappkey-x", None])}) | json_values},
    optional={"Domain": json_values, "LastState": json_values, "CurrentChange": texts | json_values,
              "LastChange": texts},
)
feed_bodies = st.fixed_dictionaries(
    {"orderId": order_ids, "currentState": states | texts},
    optional={"currentChangeDate": texts | st.just("2026-11-27T10:02:13.1234567Z"), "domain": json_values},
)
secrets_ = st.sampled_from([SECRET, "", "wrong", SECRET + " ", SECRET.upper()]) | texts
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "",
                                 "application/x-www-form-urlencoded", "application/vnd.api+json"]) | texts
paths = st.sampled_from(["/hooks/vtex/orders", f"/hooks/vtex/orders/{ACCOUNT}", "/hooks/vtex/orders/otherstore",
                         "/hooks/vtex/orders/", "/healthz", "/readyz", "/nope"]) | texts.map(lambda t: "/" + t)
methods = st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "HEAD"])


def _check(response, request, recorder, before):
    assert response.status < 500, (response.status, response.body)
    body = json.loads(response.encode())
    assert ("error" in body and body.get("detail")) or "status" in body
    new = recorder.published[before:]
    if new:
        # Whatever got through is a valid event for the configured account, and carried the secret.
        assert len(new) == 1 and response.status == 200 and body["status"] == "accepted"
        [kwargs] = new
        assert kwargs["account"] == ACCOUNT and kwargs["state"] in HANDLED_STATES
        assert ORDER_ID_RE.match(kwargs["order_id"])
        assert request.headers.get("x-hook-secret") == SECRET
        # The worker's first step decodes exactly these arguments: what got through cannot crash it.
        assert EventRef.from_kwargs(**kwargs).changed_at.tzinfo is not None


def _request(method, path, content_type, secret, raw):
    headers = {"content-type": content_type}
    if secret is not None:
        headers["x-hook-secret"] = secret
    return Request(method, path, headers, raw, body_too_large=len(raw) > MAX_BODY)


@FUZZ
@given(body=hook_bodies | feed_bodies, secret=secrets_, path=paths, content_type=content_types)
def test_shaped_bodies(core, body, secret, path, content_type):
    app, recorder = core
    request = _request("POST", path, content_type, secret, json.dumps(body).encode())
    before = len(recorder.published)
    _check(app.handle(request), request, recorder, before)


@FUZZ
@given(body=json_values, secret=secrets_, content_type=content_types, method=methods, path=paths)
def test_any_json(core, body, secret, content_type, method, path):
    app, recorder = core
    request = _request(method, path, content_type, secret, json.dumps(body).encode())
    before = len(recorder.published)
    _check(app.handle(request), request, recorder, before)


@FUZZ
@given(raw=st.binary(max_size=2048), secret=secrets_, content_type=content_types)
def test_any_bytes(core, raw, secret, content_type):
    app, recorder = core
    request = _request("POST", "/hooks/vtex/orders", content_type, secret, raw)
    before = len(recorder.published)
    _check(app.handle(request), request, recorder, before)


@FUZZ
@given(body=hook_bodies, headers=st.dictionaries(
    st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=20), st.text(max_size=60), max_size=6),
    length=st.one_of(st.none(), st.integers(min_value=-5, max_value=10**9), st.text(max_size=8)))
def test_wsgi_with_odd_headers_and_lengths(core, body, headers, length):
    app, recorder = core
    raw = json.dumps(body).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/hooks/vtex/orders", "wsgi.input": io.BytesIO(raw),
               "CONTENT_TYPE": "application/json", "HTTP_X_HOOK_SECRET": SECRET}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    captured = {}
    before = len(recorder.published)

    payload = b"".join(app(environ, lambda status, h: captured.update(status=status)))

    assert int(captured["status"].split()[0]) < 500
    json.loads(payload)
    assert len(recorder.published) - before <= 1


@pytest.mark.parametrize("depth", [1_000, 100_000, 1_000_000])
def test_deeply_nested_json(core, depth):
    app, recorder = core
    raw = b'{"a":' * depth + b"1" + b"}" * depth
    request = _request("POST", "/hooks/vtex/orders", "application/json", SECRET, raw)
    before = len(recorder.published)

    response = app.handle(request)

    assert response.status in (400, 413) and len(recorder.published) == before
