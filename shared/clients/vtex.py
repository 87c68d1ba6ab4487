"""VTEX REST APIs: OMS orders, Master Data ``CL`` search, the catalog, and the hook and Feed v3."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from shared.clients.http import HttpClient
from shared.errors import NotFound, UpstreamUnavailable
from shared.settings import AccountSettings

CUSTOMER_FIELDS = "email,firstName,lastName,phone"
HOOK_CONFIG = "/api/orders/hook/config"
FEED_CONFIG = "/api/orders/feed/config"


class VtexClient:
    """One VTEX account, authenticated with an app key and token.

    :param account: the account's settings; the token is read here and only sent as a header.
    :param timeout: read timeout in seconds.
    """

    def __init__(self, account: AccountSettings, timeout: float, session: requests.Session | None = None) -> None:
        self.account = account.name
        self._http = HttpClient(
            "vtex",
            account.vtex_url,
            {
                "X-VTEX-API-AppKey": account.vtex_app_key,
                "X-VTEX-API-AppToken": account.vtex_app_token.get_secret_value(),
                "Accept": "application/json",
            },
            timeout,
            session,
        )

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            # A proxy or a half-deployed VTEX node answering HTML with 200; the next try usually works.
            raise UpstreamUnavailable(f"vtex {what}: answer is not JSON") from None

    def get_order(self, order_id: str) -> dict[str, Any]:
        """``GET /api/oms/pvt/orders/{orderId}``."""
        response = self._http.request("GET", f"/api/oms/pvt/orders/{quote(order_id, safe='')}")
        order = self._json(response, "get order")
        if not isinstance(order, dict):
            raise UpstreamUnavailable("vtex get order: answer is not an object")
        return order

    def find_customer(self, user_id: str) -> dict[str, Any] | None:
        """Search Master Data ``CL`` for ``userId``; ``None`` when there is no document yet.

        ``REST-Range`` is required by the API and asks for the first document only.
        """
        response = self._http.request(
            "GET",
            "/api/dataentities/CL/search",
            params={"_where": f"userId={user_id}", "_fields": CUSTOMER_FIELDS},
            headers={"REST-Range": "resources=0-1"},
        )
        documents = self._json(response, "CL search")
        if not isinstance(documents, list):
            raise UpstreamUnavailable("vtex CL search: answer is not a list")
        first = documents[0] if documents else None
        return first if isinstance(first, dict) else None

    def list_sku_ids(self, page: int, page_size: int) -> list[int]:
        """``GET /api/catalog_system/pvt/sku/stockkeepingunitids``: a plain JSON array of ints."""
        response = self._http.request("GET", "/api/catalog_system/pvt/sku/stockkeepingunitids",
                                      params={"page": page, "pagesize": page_size})
        ids = self._json(response, "SKU ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise UpstreamUnavailable("vtex SKU ids: answer is not a list of integers")
        return ids

    def get_sku(self, sku_id: int) -> dict[str, Any]:
        """``GET /api/catalog_system/pvt/sku/stockkeepingunitbyid/{skuId}`` ("SKU and context")."""
        response = self._http.request("GET", f"/api/catalog_system/pvt/sku/stockkeepingunitbyid/{int(sku_id)}")
        sku = self._json(response, "SKU")
        if not isinstance(sku, dict):
            raise UpstreamUnavailable("vtex SKU: answer is not an object")
        return sku

    # -- order notifications: hook and Feed v3 configuration ----------------------------------------

    def _config(self, path: str) -> dict[str, Any] | None:
        try:
            config = self._json(self._http.request("GET", path), path)
        except NotFound:
            return None
        return config if isinstance(config, dict) else None

    def hook_config(self) -> dict[str, Any] | None:
        """``GET /api/orders/hook/config``; ``None`` when no hook is configured."""
        return self._config(HOOK_CONFIG)

    def set_hook_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/orders/hook/config``; VTEX pings the hook URL first and refuses unless it answers 200."""
        response = self._http.request("POST", HOOK_CONFIG, json=config)
        return self._json(response, "hook config") if response.content else {}

    def delete_hook_config(self) -> None:
        self._http.request("DELETE", HOOK_CONFIG)

    def feed_config(self) -> dict[str, Any] | None:
        """``GET /api/orders/feed/config``; ``None`` when no feed is configured."""
        return self._config(FEED_CONFIG)

    def set_feed_config(self, config: dict[str, Any]) -> None:
        self._http.request("POST", FEED_CONFIG, json=config)

    def delete_feed_config(self) -> None:
        self._http.request("DELETE", FEED_CONFIG)

    def read_feed(self, max_items: int) -> list[dict[str, Any]]:
        """``GET /api/orders/feed?maxlot=``: up to 10 items, invisible to other readers until committed or expired.

        :raises NotFound: when the account has no feed configured.
        """
        items = self._json(self._http.request("GET", "/api/orders/feed", params={"maxlot": max_items}), "feed")
        if not isinstance(items, list):
            raise UpstreamUnavailable("vtex feed: answer is not a list")
        return [item for item in items if isinstance(item, dict)]

    def commit_feed(self, handles: list[str]) -> None:
        """``POST /api/orders/feed``: remove these items from the feed for good."""
        if handles:
            self._http.request("POST", "/api/orders/feed", json={"handles": handles})

    def list_orders(self, created_from: str, created_to: str, page: int, per_page: int) -> dict[str, Any]:
        """``GET /api/oms/pvt/orders`` for one creation-date window, oldest first.

        VTEX serves at most 30 pages of at most 100 orders per query: a caller splits windows
        whose ``paging.total`` is larger.
        """
        response = self._http.request("GET", "/api/oms/pvt/orders", params={
            "f_creationDate": f"creationDate:[{created_from} TO {created_to}]",
            "page": page, "per_page": per_page, "orderBy": "creationDate,asc"})
        answer = self._json(response, "list orders")
        if not isinstance(answer, dict) or not isinstance(answer.get("list"), list):
            raise UpstreamUnavailable("vtex list orders: answer has no list")
        return answer
