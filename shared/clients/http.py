"""One HTTP session wrapper that turns transport failures into the typed errors of :mod:`shared.errors`."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from shared.errors import NotFound, RateLimited, UpstreamRejected, UpstreamUnavailable

# Connect fast, read patiently: a dead host should fail in seconds, a slow API still answers.
CONNECT_TIMEOUT = 3.05


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a ``Retry-After`` header given in seconds or as an HTTP date.

    :returns: seconds to wait (never negative), or ``None`` when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def make_session(pool_size: int = 10) -> requests.Session:
    """Build a session whose connection pool fits ``pool_size`` concurrent requests.

    Proxy variables (``HTTPS_PROXY``, ``NO_PROXY``) are read once here: with ``trust_env``
    requests reads the environment and ``.netrc`` on every call, an eighth of a worker's CPU.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies("https://example.com"))
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class HttpClient:
    """A base URL, fixed headers and timeouts, and typed errors for every non-2xx answer.

    :param service: a short name used in error messages, e.g. ``"vtex-oms"``.
    :param base_url: prefix of every request path.
    :param headers: sent with every request; may hold credentials, which never reach messages.
    :param timeout: read timeout in seconds.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._timeout = (CONNECT_TIMEOUT, timeout)
        self._session = session or make_session()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request and return the 2xx response.

        :param url: an absolute URL that replaces ``base_url + path`` (presigned S3 URLs);
            only ``path`` is ever shown in messages.
        :raises RateLimited: on 429, with the ``Retry-After`` hint.
        :raises UpstreamUnavailable: on 5xx, timeouts and connection errors.
        :raises NotFound: on 404.
        :raises UpstreamRejected: on any other 4xx.
        """
        where = f"{self.service} {method} {path}"
        merged = {**self._headers, **(headers or {})}
        try:
            response = self._session.request(
                method,
                url or self.base_url + path,
                params=params,
                json=json,
                headers=merged,
                timeout=self._timeout,
                **kwargs,
            )
        # "from None" on both: requests' messages hold the full URL, and a presigned URL's
        # query string is a credential that must not reach logs or the failure store.
        except requests.Timeout:
            raise UpstreamUnavailable(f"{where}: timed out") from None
        except requests.ConnectionError as exc:
            raise UpstreamUnavailable(f"{where}: connection failed ({type(exc).__name__})") from None
        status = response.status_code
        if status < 400:
            return response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        snippet = response.text[:200].replace("\n", " ")
        if status == 429:
            raise RateLimited(f"{where}: HTTP 429", retry_after=retry_after)
        if status >= 500:
            raise UpstreamUnavailable(f"{where}: HTTP {status}", retry_after=retry_after)
        if status == 404:
            raise NotFound(f"{where}: HTTP 404 {snippet}", status=status)
        raise UpstreamRejected(f"{where}: HTTP {status} {snippet}", status=status)
