"""The receiver benchmark's floor: a WSGI app that only LPUSHes the raw body to Redis."""

import os

import redis

_redis = redis.Redis.from_url(os.environ["VTEXCT_BROKER_URL"])


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    _redis.lpush("floor", environ["wsgi.input"].read(length))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]
