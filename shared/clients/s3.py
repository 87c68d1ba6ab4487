"""PUT a file to a presigned S3 URL, streamed, without credentials of ours."""

from __future__ import annotations

from typing import IO
from urllib.parse import urlsplit

import requests

from shared.clients.http import HttpClient


def put_presigned(
    url: str,
    body: IO[bytes],
    length: int,
    *,
    timeout: float,
    content_type: str | None = None,
    session: requests.Session | None = None,
) -> None:
    """Upload ``length`` bytes read from ``body``.

    No ``Content-Type`` is sent unless given: the URL's signature covers the headers it
    was signed with, and CleverTap's URLs are signed without one.  Only the URL's path
    appears in errors; its query string is the credential.
    """
    headers = {"Content-Length": str(length)}
    if content_type:
        headers["Content-Type"] = content_type
    client = HttpClient("s3", "", {}, timeout, session)
    client.request("PUT", urlsplit(url).path, url=url, data=body, headers=headers)
