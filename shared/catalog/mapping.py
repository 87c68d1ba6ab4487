"""Map a VTEX "SKU and context" document to one row of CleverTap's catalog CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

# The seed's columns, in its order; CleverTap's docs spell the image column "ImageURL" (see README).
COLUMNS = ("Identity", "ProductId", "SkuId", "Ean", "RefId", "Name", "ImageUrl", "Categories", "BrandName",
           "SalesChannels", "CommercialCondition")
CATEGORY_SEPARATOR = " - "


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def sku_name(sku: dict[str, Any]) -> str:
    """``NameComplete`` when present; else "product - sku", without repeating a SKU named like its product."""
    complete = _text(sku.get("NameComplete")).strip()
    if complete:
        return complete
    product, name = _text(sku.get("ProductName")).strip(), _text(sku.get("SkuName")).strip()
    if not name or name == product:
        return product
    return f"{product} - {name}" if product else name


def image_url(sku: dict[str, Any]) -> str:
    """The first full-size image; ``ImageUrl`` itself is a 55x55 thumbnail."""
    for image in sku.get("Images") or []:
        url = _dict(image).get("ImageUrl")
        if url:
            return str(url)
    return _text(sku.get("ImageUrl"))


def categories(sku: dict[str, Any]) -> str:
    """Category names root to leaf, in the order of ``ProductCategoryIds`` ("/1/2/3/")."""
    names = {str(k): _text(v) for k, v in _dict(sku.get("ProductCategories")).items()}
    ordered = [part for part in _text(sku.get("ProductCategoryIds")).split("/") if part]
    path = [names.pop(cid) for cid in ordered if cid in names]
    # Names without a place in the ids string still belong to the SKU; keep them, last.
    path += [names[k] for k in sorted(names)]
    return CATEGORY_SEPARATOR.join(name for name in path if name)


def sku_row(sku: dict[str, Any]) -> tuple[str, ...] | None:
    """One CSV row, or ``None`` for an inactive SKU."""
    if not sku.get("IsActive"):
        return None
    alternate = _dict(sku.get("AlternateIds"))
    channels = sku.get("SalesChannels") or []
    return (
        _text(sku.get("Id")),
        _text(sku.get("ProductId")),
        _text(sku.get("Id")),
        _text(alternate.get("Ean")),
        _text(alternate.get("RefId")),
        sku_name(sku),
        image_url(sku),
        categories(sku),
        _text(sku.get("BrandName")),
        ",".join(_text(c) for c in channels) if isinstance(channels, list) else "",
        _text(sku.get("CommercialConditionId")),
    )


def encode_rows(rows: Iterable[tuple[str, ...]]) -> bytes:
    """RFC 4180: CRLF line ends, fields quoted when they hold a comma, a quote or a line break."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return buffer.getvalue().encode("utf-8")


HEADER = encode_rows([COLUMNS])
