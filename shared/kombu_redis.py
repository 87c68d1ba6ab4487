"""kombu's Redis transport, reusing one client object per channel for publishing.

kombu builds a new ``redis.Redis`` object for every message it publishes; the object's
construction (its ~170 response callbacks) was a third of the receiver's cost of a hook.
The client is stateless apart from its connection pool, which kombu shares anyway, so one
per channel does the same work.  Selected for the receiver's publisher only (the workers
consume through kombu's asynchronous client, which this does not touch).
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publish_client = None

    def _create_client(self, asynchronous: bool = False):  # noqa: ANN202 - kombu's signature
        if asynchronous:
            return super()._create_client(asynchronous=True)
        if self._publish_client is None:
            self._publish_client = super()._create_client(asynchronous=False)
        return self._publish_client


class Transport(kombu_redis.Transport):
    Channel = Channel
