"""Realistic VTEX documents for the sandbox, shaped like the examples in VTEX's API reference."""

from __future__ import annotations

import hashlib
import random
import math
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

_FIRST = ["Camila", "Rodrigo", "Ana", "João", "Maria", "Lucas", "Beatriz", "Pedro", "Júlia", "Rafael"]
_LAST = ["Smith", "Silva", "Souza", "Oliveira", "Santos", "Costa", "Pereira", "Almeida"]
_PRODUCTS = [("Bay Max L", "Lux Brand", [(9, "Coach")]),
             ("Tabela de Basquete", "Sport Co", [(59, "Brinquedos"), (60, "Esportes")]),
             ("Camiseta Azul", "Moda BR", [(1, "Vestuário"), (2, "Camisetas")]),
             ("Tênis Corrida", "Run & Co", [(1, "Vestuário"), (3, "Calçados"), (31, "Corrida")])]
_PAYMENTS = ["Visa", "Mastercard", "Pix", "Boleto Bancário"]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _rng(*seed: Any) -> random.Random:
    return random.Random(hashlib.sha256(repr(seed).encode()).hexdigest())


def user_id_for(account: str, order_id: str) -> str:
    """The deterministic customer (``userProfileId``) of a generated order."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vtexct-sandbox:{account}:{order_id}"))


def make_customer(user_id: str, *, email: str | None = None, seed: Any = None) -> dict[str, Any]:
    """A Master Data ``CL`` document."""
    rng = _rng("customer", seed or user_id)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, user_id)),
        "userId": user_id,
        "email": email or f"{_ascii(first)}.{_ascii(last)}.{user_id[:8]}@example.com",
        "firstName": first,
        "lastName": last,
        "phone": f"+55119{rng.randrange(10_000_000, 99_999_999)}",
    }


def make_order(
    account: str,
    order_id: str,
    *,
    authorized: bool = True,
    items: int = 2,
    user_id: str | None = None,
    status: str = "payment-approved",
    currency: str = "BRL",
    decimal_digits: int = 2,
    coupon: str | None = "",
    discount: int | None = None,
    payments: int = 1,
    creation_date: str | None = None,
    authorized_date: str | None = None,
    last_change: str | None = None,
) -> dict[str, Any]:
    """An OMS order whose totals add up: ``value = Items + Discounts + Shipping + Tax`` (minor units).

    ``creation_date`` and ``authorized_date`` replace the fixed dates (``authorized=False`` still
    makes ``authorizedDate`` null); ``lastChange`` is present only when ``last_change`` is given.
    """
    rng = _rng("order", account, order_id)
    lines = []
    for index in range(items):
        name, brand, categories = _PRODUCTS[rng.randrange(len(_PRODUCTS))]
        sku = 1000 + rng.randrange(9000)
        price = rng.randrange(500, 30000)
        quantity = rng.randrange(1, 4)
        lines.append({
            "uniqueId": hashlib.md5(f"{order_id}:{index}".encode()).hexdigest().upper(),
            "id": str(sku),
            "productId": str(sku // 10),
            "ean": str(7890000000000 + sku),
            "refId": f"REF{sku}",
            "name": f"{name} {index + 1}",
            "quantity": quantity,
            "seller": "1",
            "price": price,
            "listPrice": price + 1000,
            "sellingPrice": price,
            "imageUrl": f"https://{account}.vteximg.com.br/arquivos/ids/{sku}-55-55/item.jpg",
            "detailUrl": f"/{name.lower().replace(' ', '-')}-{sku}/p",
            "additionalInfo": {
                "brandName": brand,
                "brandId": str(2000000 + len(brand)),
                "categoriesIds": "/" + "/".join(str(cid) for cid, _ in categories) + "/",
                # VTEX does not promise the list's order; the ids string above has the hierarchy.
                "categories": [{"id": cid, "name": cname} for cid, cname in reversed(categories)],
                "commercialConditionId": "1",
            },
            "isGift": False,
            "unitMultiplier": 1.0,
        })
    items_total = sum(line["sellingPrice"] * line["quantity"] for line in lines)
    discounts = -(discount if discount is not None else rng.choice([0, 0, items_total // 10]))
    shipping = rng.choice([0, 990, 1590])
    value = items_total + discounts + shipping
    user = user_id or user_id_for(account, order_id)
    customer = make_customer(user)
    return {
        "orderId": order_id,
        "sequence": order_id.split("-")[0][-6:],
        "orderGroup": order_id.rsplit("-", 1)[0],
        "orderFormId": hashlib.md5(f"form:{order_id}".encode()).hexdigest(),
        "status": status,
        "hostname": account,
        "salesChannel": "1",
        "value": value,
        "creationDate": creation_date or "2026-11-27T10:00:00.0000000+00:00",
        "authorizedDate": (authorized_date or "2026-11-27T10:02:11.7010747+00:00") if authorized else None,
        "totals": [
            {"id": "Items", "name": "Total dos Itens", "value": items_total},
            {"id": "Discounts", "name": "Total dos Descontos", "value": discounts},
            {"id": "Shipping", "name": "Total do Frete", "value": shipping},
            {"id": "Tax", "name": "Total da Taxa", "value": 0},
        ],
        "sellers": [{"id": "1", "name": f"{account.title()} Store", "logo": ""}],
        "items": lines,
        "clientProfileData": {
            "id": "clientProfileData",
            # VTEX masks the e-mail for integrations; the real one lives in Master Data CL.
            "email": f"{hashlib.md5(user.encode()).hexdigest()}@ct.vtex.com.br",
            "firstName": customer["firstName"],
            "lastName": customer["lastName"],
            "phone": customer["phone"],
            "userProfileId": user,
            "isCorporate": False,
        },
        "paymentData": {"transactions": [{
            "isActive": True,
            "transactionId": hashlib.md5(f"tx:{order_id}".encode()).hexdigest().upper(),
            "payments": [
                {"id": f"P{n}", "paymentSystem": str(n + 1), "paymentSystemName": _PAYMENTS[(rng.randrange(4) + n) % 4],
                 "value": value // payments, "installments": 1}
                for n in range(payments)
            ],
        }]},
        "storePreferencesData": {
            "countryCode": "BRA",
            "currencyCode": currency,
            "currencyFormatInfo": {"CurrencyDecimalDigits": decimal_digits, "CurrencyDecimalSeparator": ","},
            "timeZone": "E. South America Standard Time",
        },
        "marketingData": None if coupon is None else {"coupon": coupon, "utmSource": "newsletter"},
        **({"lastChange": last_change} if last_change else {}),
    }


def vtex_date(moment: datetime, *, zulu: bool = False) -> str:
    """``moment`` as VTEX writes it: seven fractional digits, then ``+00:00`` (OMS) or ``Z`` (feed)."""
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"
    return text + ("Z" if zulu else "+00:00")


def parse_date(text: str) -> datetime:
    """An ISO instant with ``Z`` or an offset and any number of fractional digits; naive is refused."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no Z or offset")
    return moment


def _picked(index: int, rate: float) -> bool:
    """Whether the ``index``-th of a run is in the ``rate`` share: exactly ``floor(n * rate)`` of the
    first ``n`` are, spread evenly (the epsilon absorbs float error like ``0.29 * 100 = 28.999…``)."""
    return math.floor((index + 1) * rate + 1e-9) > math.floor(index * rate + 1e-9)


def make_order_history(account: str, count: int, since: datetime, until: datetime, *,
                       canceled_rate: float = 0.1, unauthorized_cancel_rate: float = 0.5,
                       prefix: str = "hist") -> list[dict[str, Any]]:
    """``count`` past orders ``{prefix}{i:07d}-01`` created evenly over ``[since, until)``.

    Most are invoiced (authorized 5 min after creation, last changed a day later); a
    ``canceled_rate`` share is canceled 2 h after creation, and ``unauthorized_cancel_rate`` of
    those were never authorized.  The same arguments give the same orders.
    """
    if count < 0 or until <= since or not (0 <= canceled_rate <= 1 and 0 <= unauthorized_cancel_rate <= 1):
        raise ValueError("count >= 0, since < until and rates in [0, 1] are required")
    step = (until - since) / count if count else timedelta(0)
    orders, canceled = [], 0
    for index in range(count):
        created = since + step * index
        if _picked(index, canceled_rate):
            authorized = not _picked(canceled, unauthorized_cancel_rate)
            canceled += 1
            status, changed = "canceled", created + timedelta(hours=2)
        else:
            authorized, status, changed = True, "invoiced", created + timedelta(days=1)
        orders.append(make_order(account, f"{prefix}{index:07d}-01", status=status, authorized=authorized,
                                 creation_date=vtex_date(created),
                                 authorized_date=vtex_date(created + timedelta(minutes=5)),
                                 last_change=vtex_date(changed)))
    return orders


def make_sku(sku_id: int, *, active: bool = True, store: str = "store") -> dict[str, Any]:
    """A catalog "SKU and context" document; some optional sub-objects are null, as on real stores."""
    rng = _rng("sku", store, sku_id)
    name, brand, categories = _PRODUCTS[rng.randrange(len(_PRODUCTS))]
    # Names with commas, quotes, line breaks and non-ASCII, as real catalogs have.
    sku_name = rng.choice(["P", "M", "G", "Único", 'Tam. 42 "Largo"', "Azul, Marinho", "Kit 2\nunidades", "Ação 日本"])
    product_id = sku_id // 3 + 1
    return {
        "Id": sku_id,
        "ProductId": product_id,
        "NameComplete": f"{name} {sku_name}",
        "ProductName": name,
        "SkuName": sku_name,
        "IsActive": active,
        "IsProductActive": True,
        "ProductIsVisible": True,
        "ImageUrl": f"https://{store}.vteximg.com.br/arquivos/ids/{sku_id}-55-55/sku.jpg",
        "Images": [{"ImageUrl": f"https://{store}.vteximg.com.br/arquivos/ids/{sku_id}/sku.jpg", "ImageName": None}],
        "DetailUrl": f"/{name.lower().replace(' ', '-')}/p",
        "AlternateIds": None if sku_id % 17 == 0 else {"Ean": str(7890000000000 + sku_id), "RefId": f"REF{sku_id}"},
        "ProductCategoryIds": "/" + "/".join(str(cid) for cid, _ in categories) + "/",
        "ProductCategories": None if sku_id % 23 == 0 else {str(cid): cname for cid, cname in reversed(categories)},
        "BrandId": str(2000000 + len(brand)),
        "BrandName": brand,
        "SalesChannels": None if sku_id % 29 == 0 else [1, 2],
        "CommercialConditionId": 1,
    }
