"""Map a VTEX OMS order to CleverTap event and profile records.

Pure functions over the decoded OMS JSON.  Money in OMS is in minor units ("cents");
CleverTap gets major units, divided by ``10 ** CurrencyDecimalDigits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.settings import AccountSettings

CHARGED = "Charged"
ORDER_APPROVED = "Order Approved"
ORDER_CANCELLED = "Order Cancelled"
CHECKOUT_FAILED = "Checkout Failed"

# The states this integration turns into events; the receiver acknowledges all others without enqueueing.
HANDLED_STATES = frozenset({"payment-approved", "canceled", "payment-denied", "incomplete"})

# CleverTap rejects a Charged event with more than 50 items (code 522 in its SDKs).
MAX_ITEMS = 50
DEFAULT_DECIMAL_DIGITS = 2
DEFAULT_CURRENCY = "USD"
_E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
_PHONE_FORMATTING = str.maketrans("", "", " -().")


@dataclass(frozen=True)
class EventOptions:
    """The per-account switches that change the mapping."""

    charged_only_when_approved: bool = True
    unauthorized_cancel_as_checkout_failed: bool = True
    upload_profiles: bool = True
    storefront_url: str = ""
    profile_msg_flags: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def from_account(cls, account: AccountSettings) -> EventOptions:
        return cls(
            charged_only_when_approved=account.charged_only_when_approved,
            unauthorized_cancel_as_checkout_failed=account.unauthorized_cancel_as_checkout_failed,
            upload_profiles=account.upload_profiles,
            storefront_url=account.storefront_url,
            profile_msg_flags=tuple(sorted(account.profile_msg_flags.items())),
        )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def event_name_for(state: str, order: dict[str, Any], options: EventOptions) -> str | None:
    """Choose the CleverTap event for an order that reached ``state``, or ``None`` for no event.

    A ``canceled`` order that was never authorized (no ``authorizedDate``) is a checkout
    that failed, not a cancelled purchase, because VTEX's hooks do not deliver the
    ``payment-denied`` and ``incomplete`` states in practice.
    """
    if state == "payment-approved":
        return CHARGED if options.charged_only_when_approved else ORDER_APPROVED
    if state == "canceled":
        if options.unauthorized_cancel_as_checkout_failed and not order.get("authorizedDate"):
            return CHECKOUT_FAILED
        return ORDER_CANCELLED
    if state in ("payment-denied", "incomplete"):
        return CHECKOUT_FAILED
    return None


def decimal_digits(order: dict[str, Any]) -> int:
    info = _dict(_dict(order.get("storePreferencesData")).get("currencyFormatInfo"))
    digits = info.get("CurrencyDecimalDigits")
    return digits if isinstance(digits, int) and 0 <= digits <= 6 else DEFAULT_DECIMAL_DIGITS


def to_major(minor: Any, digits: int) -> float:
    """Convert an amount in minor units to major units; anything not a number counts as 0."""
    if isinstance(minor, bool) or not isinstance(minor, (int, float)):
        return 0.0
    return float(Decimal(str(minor)).scaleb(-digits))


def totals_by_id(order: dict[str, Any]) -> dict[str, Any]:
    """Index ``totals`` by id; ids may be missing and unknown ids (``Change``) are kept but unused."""
    return {t["id"]: t.get("value") for t in _list(order.get("totals")) if isinstance(t, dict) and "id" in t}


def payment_methods(order: dict[str, Any]) -> str:
    """Every transaction's ``paymentSystemName``, in order, without repeats."""
    names: list[str] = []
    for transaction in _list(_dict(order.get("paymentData")).get("transactions")):
        for payment in _list(_dict(transaction).get("payments")):
            name = _dict(payment).get("paymentSystemName")
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    return ", ".join(names)


def _absolute(url: Any, base: str) -> str:
    if not isinstance(url, str) or not url:
        return ""
    if url.startswith(("http://", "https://")):
        return url
    if url.startswith("//"):
        return "https:" + url
    return base.rstrip("/") + "/" + url.lstrip("/")


def category_path(item: dict[str, Any]) -> str:
    """Category names root to leaf, ordered by ``categoriesIds`` ("/1/9/") when present."""
    info = _dict(item.get("additionalInfo"))
    categories = [c for c in _list(info.get("categories")) if isinstance(c, dict) and c.get("name")]
    order = [part for part in str(info.get("categoriesIds") or "").split("/") if part]
    if order:
        rank = {cid: i for i, cid in enumerate(order)}
        categories.sort(key=lambda c: rank.get(str(c.get("id")), len(rank)))
    return " > ".join(str(c["name"]) for c in categories)


def map_item(item: dict[str, Any], digits: int, storefront_url: str) -> dict[str, Any]:
    quantity = item.get("quantity")
    return {
        "product_id": str(item.get("productId") or ""),
        "sku_id": str(item.get("id") or ""),
        "name": item.get("name") or "",
        "brand": _dict(item.get("additionalInfo")).get("brandName") or "",
        "category": category_path(item),
        "price": to_major(item.get("sellingPrice"), digits),
        "quantity": quantity if isinstance(quantity, (int, float)) and not isinstance(quantity, bool) else 0,
        "url": _absolute(item.get("detailUrl"), storefront_url),
        "image_url": _absolute(item.get("imageUrl"), storefront_url),
    }


def _items(order: dict[str, Any], digits: int, storefront_url: str) -> tuple[list[dict[str, Any]], int]:
    lines = [i for i in _list(order.get("items")) if isinstance(i, dict)]
    return [map_item(i, digits, storefront_url) for i in lines[:MAX_ITEMS]], len(lines)


def build_event_data(order: dict[str, Any], state: str, event_name: str, options: EventOptions) -> dict[str, Any]:
    """Build ``evtData``: the seed's fields, plus CleverTap's canonical purchase fields on Charged."""
    digits = decimal_digits(order)
    totals = totals_by_id(order)
    sellers = [s for s in _list(order.get("sellers")) if isinstance(s, dict)]
    value = to_major(order.get("value"), digits)
    methods = payment_methods(order)
    data: dict[str, Any] = {
        "order_id": order.get("orderId") or "",
        "checkout_id": order.get("orderFormId") or "",
        "state": state,
        "affiliation": (sellers[0].get("name") if sellers else "") or "",
        "value": value,
        "revenue": to_major(totals.get("Items"), digits),
        "shipping": to_major(totals.get("Shipping"), digits),
        "tax": to_major(totals.get("Tax"), digits),
        # VTEX reports discounts as a negative total; CleverTap reports want the amount saved.
        "discount": abs(to_major(totals.get("Discounts"), digits)),
        "payment_method": methods,
        "currency": _dict(order.get("storePreferencesData")).get("currencyCode") or DEFAULT_CURRENCY,
        "coupon": _dict(order.get("marketingData")).get("coupon") or "",
        "CT Source": "vtex",
    }
    if event_name in (CHARGED, CHECKOUT_FAILED):
        items, count = _items(order, digits, options.storefront_url)
        if count > MAX_ITEMS:
            data["items_truncated"] = True
            data["items_count"] = count
        if event_name == CHARGED:
            data.update({"Amount": value, "Charged ID": data["order_id"], "Payment mode": methods, "Items": items})
        else:
            data["items"] = items
    return data


def build_event_record(
    order: dict[str, Any], state: str, changed_at: datetime, options: EventOptions
) -> dict[str, Any] | None:
    """Build the CleverTap event record, without ``identity``, or ``None`` when the state maps to no event."""
    name = event_name_for(state, order, options)
    if name is None:
        return None
    return {
        "type": "event",
        "evtName": name,
        "ts": int(changed_at.timestamp()),
        "evtData": build_event_data(order, state, name, options),
    }


def e164(phone: Any) -> str | None:
    """Return ``phone`` as E.164 (``+<country><number>``) or ``None`` if it is not one."""
    if not isinstance(phone, str):
        return None
    candidate = phone.strip().translate(_PHONE_FORMATTING)
    return candidate if _E164_RE.match(candidate) else None


def _first(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def build_profile_record(
    identity: str, customer: dict[str, Any], client_profile: dict[str, Any], ts: int, options: EventOptions
) -> dict[str, Any]:
    """Build the profile record that accompanies an event.

    Master Data's ``CL`` document wins over the order's ``clientProfileData``, whose
    e-mail VTEX masks for external callers and is never used.
    """
    first = _first(customer.get("firstName"), client_profile.get("firstName"))
    last = _first(customer.get("lastName"), client_profile.get("lastName"))
    profile: dict[str, Any] = {"Email": identity}
    name = " ".join(part for part in (first, last) if part)
    if name:
        profile["Name"] = name
    phone = e164(customer.get("phone")) or e164(client_profile.get("phone"))
    if phone:
        profile["Phone"] = phone
    profile.update(dict(options.profile_msg_flags))
    return {"type": "profile", "identity": identity, "ts": ts, "profileData": profile}
