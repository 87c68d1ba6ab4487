"""Typed errors of the domain and the API clients.

Every error says whether trying again can help: :class:`TransientError` subclasses are
retried by the base task with backoff, :class:`PermanentError` subclasses go straight to
the failure store.  ``reason`` is a short stable string that ops filter the failure store
by; messages never carry credentials, only service, method, path and status.

Every error must survive a pickle round trip with its attributes: Celery replaces an
exception it cannot pickle with its nearest picklable base class, which would lose the
type the failure store reports.  So constructors take the message alone, the rest by keyword.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every error this project raises on purpose."""

    reason = "integration_error"

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientError(IntegrationError):
    """A failure that may go away by itself; ``retry_after`` is the server's hint in seconds."""

    reason = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, code: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RateLimited(TransientError):
    reason = "rate_limited"


class UpstreamUnavailable(TransientError):
    """5xx, timeouts and connection errors."""

    reason = "upstream_unavailable"


class CustomerNotFoundYet(TransientError):
    """Master Data search is eventually consistent: a new customer's CL document may lag the order."""

    reason = "customer_not_found"


class RecordRetryable(TransientError):
    """CleverTap kept a record in ``unprocessed`` with a code that may succeed later (555)."""

    reason = "clevertap_record_retryable"


class Throttled(TransientError):
    """Our own rate limit for an upstream is spent: run again in ``retry_after`` seconds.

    Not a failure, so it does not count as a try.
    """

    reason = "throttled"


class PermanentError(IntegrationError):
    """A failure that the same request will hit again: do not retry."""

    reason = "permanent"


class UpstreamRejected(PermanentError):
    """A 4xx other than 429."""

    reason = "upstream_rejected"

    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


class NotFound(UpstreamRejected):
    reason = "not_found"


class RecordRejected(PermanentError):
    """CleverTap refused a record with a final code (509, 512, 523, 525 ...)."""

    reason = "clevertap_record_rejected"


class InvalidOrderData(PermanentError):
    """The order lacks what the event needs, e.g. a well-formed ``userProfileId``."""

    reason = "invalid_order_data"
