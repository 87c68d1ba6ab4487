"""Drive a sandbox over its ``/_sandbox`` HTTP control API, in this process or another."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests


class SandboxControl:
    """Configure a sandbox and read what it recorded.

    :param url: the sandbox's base URL, e.g. ``http://127.0.0.1:8900``.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()

    def _get(self, name: str, **params: Any) -> Any:
        response = self._session.get(f"{self.url}/_sandbox/{name}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def _post(self, name: str, body: dict[str, Any]) -> Any:
        response = self._session.post(f"{self.url}/_sandbox/{name}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def health(self) -> bool:
        try:
            return self._get("health").get("status") == "ok"
        except requests.RequestException:
            return False

    def reset(self) -> None:
        self._post("reset", {})

    def add_orders(self, account: str, orders: list[dict[str, Any]]) -> None:
        self._post("orders", {"account": account, "orders": orders})

    def add_customers(self, account: str, customers: list[dict[str, Any]]) -> None:
        self._post("customers", {"account": account, "customers": customers})

    def md_lag(self, account: str, user_id: str, misses: int) -> None:
        """Answer the next ``misses`` CL searches for ``user_id`` with an empty list."""
        self._post("md-lag", {"account": account, "user_id": user_id, "misses": misses})

    def reject_event(self, account: str, order_id: str, codes: list[int]) -> None:
        """Refuse the next event records of ``order_id`` with these record codes, one per upload."""
        self._post("reject", {"account": account, "order_id": order_id, "codes": codes})

    def faults(self, **services: dict[str, Any]) -> None:
        """Change faults per service, e.g. ``faults(clevertap={"script": [503]}, oms={"latency_ms": 20})``.

        Add ``"accounts": ["a"]`` to aim a service's faults at those accounts only (``None``: all).
        """
        self._post("faults", services)

    def current_faults(self) -> dict[str, dict[str, Any]]:
        return self._get("faults")

    def order_history(self, account: str, count: int, since: str | datetime, until: str | datetime,
                      **options: Any) -> dict[str, Any]:
        """Generate ``count`` past orders created evenly over ``[since, until)`` (ISO instants with Z
        or an offset); options: ``canceled_rate`` (0.1), ``unauthorized_cancel_rate`` (0.5), ``prefix``."""
        since, until = (t.isoformat() if isinstance(t, datetime) else t for t in (since, until))
        return self._post("order-history", {"account": account, "count": count, "since": since, "until": until,
                                            **options})

    def push_feed(self, account: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Queue Feed v3 items (``orderId``, ``state``; optional ``lastState``, ``currentChange``,
        ``lastChange``, ``domain``).  Returns ``{"count": kept, "dropped": n}``: a ``FromWorkflow``
        config drops states it does not list; with no config every item is kept."""
        return self._post("feed", {"account": account, "items": items})

    def feed_stats(self, account: str) -> dict[str, int]:
        """``{"visible", "invisible", "committed", "retrievals"}``; retrievals counts items handed out."""
        return self._get("feed", account=account)

    def feed_config(self, account: str) -> dict[str, Any] | None:
        """The feed config VTEX stored for the account, or ``None``."""
        return self._get("feed-config", account=account)

    def hook_config(self, account: str) -> dict[str, Any] | None:
        """The hook config VTEX stored for the account, or ``None``."""
        return self._get("hook-config", account=account)

    def catalog(self, account: str, size: int, inactive_rate: float = 0.05, failing_rate: float = 0.005) -> None:
        self._post("catalog", {"account": account, "size": size, "inactive_rate": inactive_rate,
                               "failing_rate": failing_rate})

    def received(self, account: str | None = None) -> list[dict[str, Any]]:
        """Records CleverTap accepted: ``[{"account", "at", "record"}]`` in arrival order."""
        return self._get("received", **({"account": account} if account else {}))

    def events(self, account: str | None = None) -> list[dict[str, Any]]:
        return [r["record"] for r in self.received(account) if r["record"].get("type") == "event"]

    def stats(self) -> dict[str, Any]:
        return self._get("stats")

    def catalog_completions(self) -> list[dict[str, Any]]:
        """Every ``upload_catalog_completed`` CleverTap accepted, with the S3 key it named."""
        return self._get("catalog/completions")

    def s3_object(self, key: str) -> bytes:
        response = self._session.get(f"{self.url}/_sandbox/s3/{key}", timeout=30)
        response.raise_for_status()
        return response.content
