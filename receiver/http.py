"""Framework-free request and response values for the receiver's pure core."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Request:
    """What the core needs of an HTTP request; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_too_large: bool = False


@dataclass(frozen=True)
class Response:
    """A JSON body, or ``raw`` bytes of ``content_type`` (the metrics page)."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = None
    content_type: str = "application/json"
    #: The configured account the request was for, once known; a label of the metrics.
    account: str | None = None

    def encode(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.body, separators=(",", ":")).encode()

    @property
    def outcome(self) -> str:
        """``status`` of a success or ``error`` of a refusal, for the metrics."""
        return str(self.body.get("status") or self.body.get("error") or self.status)


def ok(**body: Any) -> Response:
    return Response(200, body)


def error(status: int, code: str, detail: str, **extra: Any) -> Response:
    """A JSON error: ``{"error": code, "detail": human text, ...}``."""
    headers: tuple[tuple[str, str], ...] = ()
    if "allow" in extra:
        headers = (("Allow", extra.pop("allow")),)
    if "retry_after" in extra:
        headers = (("Retry-After", str(extra.pop("retry_after"))),)
    return Response(status, {"error": code, "detail": detail, **extra}, headers)
