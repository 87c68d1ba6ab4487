"""The receiver's pure core and its WSGI adapter, with a stub publisher."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from receiver import create_app
from receiver.http import MAX_BODY, Request
from shared.publisher import PublishError
from shared.settings import load_settings
from tests.conftest import ACCOUNT_ENV

SECRET = ACCOUNT_ENV["VTEXCT_HOOK_SECRET"]
APP_KEY = ACCOUNT_ENV["VTEXCT_VTEX_APP_KEY"]


class StubPublisher:
    def __init__(self, fail=False):
        self.fail = fail
        self.published = []

    def publish(self, task_name, kwargs):
        if self.fail:
            raise PublishError("broker down")
        self.published.append((task_name, kwargs))
        return f"task-{len(self.published)}"

    def ping(self):
        return not self.fail


@pytest.fixture
def publisher():
    return StubPublisher()


@pytest.fixture
def app(account_env, publisher):
    return create_app(load_settings(), publisher)


def hook(state="payment-approved", **overrides):
    body = {"Domain": "Marketplace", "OrderId": "v40484048naf-01", "State": state, "LastState": "approve-payment",
            "LastChange": "2019-07-29T23:17:30.0617185Z", "CurrentChange": "2019-07-29T23:17:31.0617185Z",
            "Origin": {"Account": "teststore", "Key": APP_KEY}}
    body.update(overrides)
    return body


def post(app, body, *, secret=SECRET, content_type="application/json", path="/hooks/vtex/orders", raw=None):
    headers = {"content-type": content_type}
    if secret is not None:
        headers["x-hook-secret"] = secret
    data = raw if raw is not None else json.dumps(body).encode()
    return app.handle(Request("POST", path, headers, data, body_too_large=len(data) > MAX_BODY))


def test_hook_is_published_by_name_with_ids_only(app, publisher):
    response = post(app, hook())

    assert response.status == 200 and response.body["status"] == "accepted"
    assert publisher.published == [("orders.handle_status_change", {
        "account": "teststore", "order_id": "v40484048naf-01", "state": "payment-approved",
        "changed_at": "2019-07-29T23:17:31.061718+00:00"})]


def test_feed_body_and_account_path(app, publisher):
    body = {"orderId": "1172452900788-01", "currentState": "canceled", "lastState": "cancel",
            "currentChangeDate": "2024-02-04T20:46:11.7010747Z", "domain": "Fulfillment"}

    assert post(app, body).status == 200
    assert post(app, body, path="/hooks/vtex/orders/teststore").status == 200
    assert [k["state"] for _, k in publisher.published] == ["canceled", "canceled"]


def test_unknown_account_in_path(app, publisher):
    body = {"orderId": "1172452900788-01", "currentState": "canceled"}

    response = post(app, body, path="/hooks/vtex/orders/otherstore")

    assert (response.status, response.body["error"]) == (403, "unknown_account")
    assert publisher.published == []


def test_ping_gets_200(app, publisher):
    response = post(app, {"hookConfig": "ping"}, secret=None)

    assert (response.status, response.body) == (200, {"status": "pong"})
    assert publisher.published == []


def test_unhandled_state_is_acknowledged_not_enqueued(app, publisher):
    response = post(app, hook(state="invoiced"))

    assert (response.status, response.body["status"]) == (200, "ignored")
    assert publisher.published == []


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"raw": b"x" * (MAX_BODY + 1)}, 413, "payload_too_large"),
        ({"raw": b"{not json"}, 400, "invalid_json"),
        ({"raw": b"\xff\xfe"}, 400, "invalid_json"),
        ({"raw": b"[" * 100000 + b"]" * 100000}, 413, "payload_too_large"),
        ({"raw": b"[" * 30000 + b"]" * 30000}, 400, "invalid_json"),
        ({"content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"content_type": ""}, 415, "unsupported_media_type"),
        ({"secret": "wrong"}, 401, "bad_secret"),
        ({"secret": None}, 401, "bad_secret"),
        ({"path": "/hooks/vtex/orders/otherstore"}, 403, "account_mismatch"),
    ],
)
def test_bad_requests_get_clear_errors_and_enqueue_nothing(app, publisher, kwargs, status, code):
    response = post(app, hook(), **kwargs)

    assert (response.status, response.body["error"]) == (status, code)
    assert response.body["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        (hook(OrderId=None), 422, "missing_fields", ["OrderId"]),
        ({"Origin": {"Account": "teststore"}}, 422, "missing_fields", ["OrderId", "State"]),
        (hook(State=12), 422, "invalid_fields", ["State"]),
        ([1, 2, 3], 422, "invalid_body", None),
        (hook(Origin={"Account": "otherstore"}), 403, "unknown_account", None),
        (hook(Origin={"Account": "teststore", "Key": "vtexappkey-someone-else"}), 403, "unknown_app_key", None),
    ],
)
def test_bad_bodies(app, publisher, body, status, code, fields):
    response = post(app, body)

    assert (response.status, response.body["error"]) == (status, code)
    if fields is not None:
        assert response.body["fields"] == fields
    assert publisher.published == []


def test_broker_down_answers_503_with_retry_after(account_env):
    app = create_app(load_settings(), StubPublisher(fail=True))

    response = post(app, hook())

    assert response.status == 503 and response.body["error"] == "broker_unavailable"
    assert dict(response.headers)["Retry-After"]


def test_health_and_readiness(account_env):
    healthy = create_app(load_settings(), StubPublisher(), checks={"broker": lambda: True, "redis": lambda: True})
    broken = create_app(load_settings(), StubPublisher(), checks={"broker": lambda: True, "redis": lambda: 1 / 0})

    assert healthy.handle(Request("GET", "/healthz")).status == 200
    assert healthy.handle(Request("GET", "/readyz")).status == 200
    response = broken.handle(Request("GET", "/readyz"))
    assert response.status == 503 and response.body["checks"] == {"broker": True, "redis": False}


def test_routing_errors(app):
    assert app.handle(Request("GET", "/hooks/vtex/orders")).status == 405
    assert dict(app.handle(Request("GET", "/hooks/vtex/orders")).headers)["Allow"] == "POST"
    assert app.handle(Request("POST", "/healthz")).status == 405
    assert app.handle(Request("GET", "/nope")).status == 404


def _wsgi(app, method, path, body=b"", headers=None, content_length=None, stream=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": stream or io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body) if content_length is None else content_length)}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, response_headers):
        captured["status"], captured["headers"] = status, dict(response_headers)

    payload = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], json.loads(payload)


def test_wsgi_adapter_round_trip(app, publisher):
    status, headers, body = _wsgi(app, "POST", "/hooks/vtex/orders", json.dumps(hook()).encode(),
                                  {"Content-Type": "application/json; charset=utf-8", "X-Hook-Secret": SECRET})

    assert status == "200 OK" and headers["Content-Type"] == "application/json"
    assert body["status"] == "accepted" and len(publisher.published) == 1


def test_wsgi_refuses_declared_large_body_without_reading_it(app, publisher):
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body must not be read")

    status, _, body = _wsgi(app, "POST", "/hooks/vtex/orders", b"", {"Content-Type": "application/json"},
                            content_length=10 * 1024 * 1024, stream=Unreadable())

    assert status.startswith("413") and body["error"] == "payload_too_large"
    assert publisher.published == []


def test_unexpected_error_is_a_json_500_without_details(account_env):
    class Exploding(StubPublisher):
        def publish(self, task_name, kwargs):
            raise RuntimeError("SENTINEL internal detail")

    app = create_app(load_settings(), Exploding())
    status, _, body = _wsgi(app, "POST", "/hooks/vtex/orders", json.dumps(hook()).encode(),
                            {"Content-Type": "application/json", "X-Hook-Secret": SECRET})

    assert status.startswith("500") and "SENTINEL" not in json.dumps(body)


def test_during_a_rotation_both_hook_secrets_work_and_only_they(account_env, monkeypatch, publisher):
    monkeypatch.setenv("VTEXCT_HOOK_SECRET", "new-hook-secret")
    monkeypatch.setenv("VTEXCT_HOOK_SECRET_PREVIOUS", SECRET)
    app = create_app(load_settings(), publisher)

    statuses = [post(app, hook(), secret=s).status for s in ("new-hook-secret", SECRET, "other", "")]

    assert statuses == [200, 200, 401, 401] and len(publisher.published) == 2
    monkeypatch.delenv("VTEXCT_HOOK_SECRET_PREVIOUS")
    assert post(create_app(load_settings(), publisher), hook(), secret=SECRET).status == 401


def test_during_a_rotation_both_admin_tokens_work_and_only_they(account_env, monkeypatch):
    from receiver.admin import authorize

    old = ACCOUNT_ENV["VTEXCT_ADMIN_TOKEN"]
    monkeypatch.setenv("VTEXCT_ADMIN_TOKEN", "new-admin-token")
    monkeypatch.setenv("VTEXCT_ADMIN_TOKEN_PREVIOUS", old)
    settings = load_settings()

    def denied(token):
        refusal = authorize(Request("POST", "/catalog/sync", {"authorization": f"Bearer {token}"}, b""), settings)
        return refusal.status if refusal else None

    assert [denied(t) for t in ("new-admin-token", old, "other", "")] == [None, None, 401, 401]
