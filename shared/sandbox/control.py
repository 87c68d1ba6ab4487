"""Drive a sandbox over its ``/_sandbox`` HTTP control API, in this process or another."""

from __future__ import annotations

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
        """Change faults per service, e.g. ``faults(clevertap={"script": [503]}, oms={"latency_ms": 20})``."""
        self._post("faults", services)

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
