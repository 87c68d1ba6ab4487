"""CleverTap's Upload API (``/1/upload``) with per-record results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from shared.clients.http import HttpClient
from shared.errors import RecordRejected, UpstreamRejected, UpstreamUnavailable
from shared.settings import AccountSettings

NO_CATALOG_TO_REPLACE = "No Catalog with given name exists for replacement"

# 555 is CleverTap's "miscellaneous server error" for one record: the same record can succeed later.
RETRYABLE_CODES = frozenset({555})


class CatalogMissing(UpstreamRejected):
    """``replace: true`` named a catalog that does not exist yet; create it with ``replace: false``."""

    reason = "catalog_missing"


@dataclass(frozen=True)
class RecordFailure:
    """One record CleverTap listed in ``unprocessed``."""

    code: int
    error: str

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES


@dataclass
class UploadResult:
    """``failed`` maps the index of each unprocessed record in the request to why."""

    status: str
    processed: int
    failed: dict[int, RecordFailure] = field(default_factory=dict)


def _canonical(record: Any) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def parse_upload_response(body: Any, sent: list[dict[str, Any]]) -> UploadResult:
    """Match ``unprocessed`` entries back to the records sent, by their echoed ``record``.

    A record is delivered only if the answer says ``success`` or ``partial`` and the record
    is not listed.  An answer that cannot be read that way is an error, never a success.

    :raises UpstreamUnavailable: for a body that does not have that shape.
    :raises RecordRejected: when an unprocessed entry cannot be matched to a sent record.
    """
    if not isinstance(body, dict) or body.get("status") not in ("success", "partial", "fail"):
        raise UpstreamUnavailable("clevertap upload: unexpected answer shape")
    unprocessed = body.get("unprocessed") or []
    if not isinstance(unprocessed, list):
        raise UpstreamUnavailable("clevertap upload: 'unprocessed' is not a list")
    index_of: dict[str, list[int]] = {}
    for i, record in enumerate(sent):
        index_of.setdefault(_canonical(record), []).append(i)
    failed: dict[int, RecordFailure] = {}
    for entry in unprocessed:
        entry = entry if isinstance(entry, dict) else {}
        code = entry.get("code") if isinstance(entry.get("code"), int) else 0
        error = str(entry.get("error") or "")[:200]
        slots = index_of.get(_canonical(entry.get("record")), [])
        if slots:
            failed[slots.pop(0)] = RecordFailure(code, error)
        elif len(sent) == 1:
            failed[0] = RecordFailure(code, error)
        else:
            # Which record failed is unknown, and a blind retry could send a Charged twice:
            # park the whole event for ops instead.
            raise RecordRejected(f"clevertap upload: unprocessed record not matched to a sent one ({code} {error})",
                                 code=code)
    if body["status"] == "fail" and not failed:
        raise UpstreamUnavailable("clevertap upload: status fail without record errors")
    processed = body.get("processed")
    return UploadResult(str(body["status"]), processed if isinstance(processed, int) else 0, failed)


class CleverTapClient:
    """One CleverTap project, authenticated with its account id and passcode."""

    def __init__(self, account: AccountSettings, timeout: float, session: requests.Session | None = None) -> None:
        self.account = account.name
        self._http = HttpClient(
            "clevertap",
            account.clevertap_url,
            {
                "X-CleverTap-Account-Id": account.clevertap_account_id,
                "X-CleverTap-Passcode": account.clevertap_passcode.get_secret_value(),
                "Content-Type": "application/json; charset=utf-8",
            },
            timeout,
            session,
        )

    def upload(self, records: list[dict[str, Any]]) -> UploadResult:
        """``POST /1/upload`` with ``{"d": records}`` (at most 1,000 records)."""
        response = self._http.request("POST", "/1/upload", json={"d": records})
        try:
            body = response.json()
        except ValueError:
            raise UpstreamUnavailable("clevertap upload: answer is not JSON") from None
        return parse_upload_response(body, records)

    def get_catalog_url(self) -> str:
        """``POST /get_catalog_url``: a presigned S3 URL, valid for up to 24 hours."""
        response = self._http.request("POST", "/get_catalog_url", json={})
        try:
            url = response.json().get("presignedS3URL")
        except (ValueError, AttributeError):
            url = None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise UpstreamUnavailable("clevertap get_catalog_url: no presignedS3URL in the answer")
        return url

    def complete_catalog_upload(self, *, name: str, email: str, url: str, replace: bool) -> None:
        """``POST /upload_catalog_completed``; CleverTap then imports the file and mails ``email``.

        :raises CatalogMissing: when ``replace`` names a catalog that does not exist.
        """
        body = {"name": name, "email": email, "creator": email, "url": url, "replace": replace}
        try:
            response = self._http.request("POST", "/upload_catalog_completed", json=body)
        except UpstreamRejected as exc:
            if NO_CATALOG_TO_REPLACE in str(exc):
                raise CatalogMissing(f"clevertap upload_catalog_completed: {NO_CATALOG_TO_REPLACE}",
                                     status=exc.status) from None
            raise
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        # CleverTap does not document the status of this error; it may come with HTTP 200 too.
        error = str(answer.get("error") or "") if isinstance(answer, dict) else ""
        if NO_CATALOG_TO_REPLACE in error:
            raise CatalogMissing(f"clevertap upload_catalog_completed: {NO_CATALOG_TO_REPLACE}", status=200)
        if error or (isinstance(answer, dict) and answer.get("status") not in (None, "success")):
            raise UpstreamRejected(f"clevertap upload_catalog_completed: {error or answer.get('status')}"[:300],
                                   status=response.status_code)
