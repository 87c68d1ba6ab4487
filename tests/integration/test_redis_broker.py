"""The one-``LPUSH`` publisher writes what kombu's Redis transport would have written."""

from __future__ import annotations

import base64
import json

import redis
from celery import Celery

from shared.names import TaskName
from shared.redis_broker import RedisTaskWriter

KWARGS = {"account": "teststore", "order_id": "v1000001tst-01", "state": "payment-approved",
          "changed_at": "2026-11-27T10:02:13.123456+00:00"}
# Per-message values, and the kwargs' reprs that Celery's send_task also copies into the properties.
VARYING = {"delivery_tag", "reply_to", "origin"}
SEND_TASK_ONLY = {"argsrepr", "kwargsrepr"}


def _pop(client: redis.Redis, queue: str) -> dict:
    raw = client.rpop(queue)
    assert raw is not None, f"nothing in {queue}"
    return json.loads(raw)


def test_envelope_matches_kombus_own_field_by_field(redis_server):
    url = redis_server.url(7)
    client = redis.Redis.from_url(url)
    client.flushdb()
    app = Celery("envelope-test", broker=url, set_as_current=False)
    app.conf.update(task_routes={str(TaskName.ORDERS_HANDLE_STATUS_CHANGE): {"queue": "orders"}},
                    task_send_sent_event=False)
    kwargsrepr = json.dumps(KWARGS, separators=(",", ":"))

    app.send_task(TaskName.ORDERS_HANDLE_STATUS_CHANGE, kwargs=KWARGS, task_id="id-1", ignore_result=True,
                  argsrepr="()", kwargsrepr=kwargsrepr)
    theirs = _pop(client, "orders")
    writer = RedisTaskWriter(app, url)
    writer.publish(TaskName.ORDERS_HANDLE_STATUS_CHANGE, KWARGS, "id-1", kwargsrepr)
    ours = _pop(client, "orders")
    writer.close()

    assert set(ours) == set(theirs)
    assert base64.b64decode(ours["body"]) == base64.b64decode(theirs["body"])
    assert {k: v for k, v in ours.items() if k not in ("body", "headers", "properties")} == \
        {k: v for k, v in theirs.items() if k not in ("body", "headers", "properties")}
    assert {k: v for k, v in ours["headers"].items() if k not in VARYING} == \
        {k: v for k, v in theirs["headers"].items() if k not in VARYING}
    assert set(ours["headers"]) == set(theirs["headers"])
    their_properties = {k: v for k, v in theirs["properties"].items() if k not in SEND_TASK_ONLY}
    assert set(ours["properties"]) == set(their_properties)
    assert {k: v for k, v in ours["properties"].items() if k not in VARYING} == \
        {k: v for k, v in their_properties.items() if k not in VARYING}
    assert client.llen("orders") == 0
