import copy
from datetime import UTC, datetime

import pytest

from shared.orders.mapping import (
    CHARGED,
    CHECKOUT_FAILED,
    MAX_ITEMS,
    ORDER_APPROVED,
    ORDER_CANCELLED,
    EventOptions,
    build_event_record,
    build_profile_record,
    e164,
    event_name_for,
)
from tests.conftest import load_fixture

OPTIONS = EventOptions(storefront_url="https://luxstore.example.com")
CHANGED = datetime(2024, 2, 4, 20, 46, 11, 701074, tzinfo=UTC)


@pytest.fixture
def approved_order():
    """VTEX's documented Get order example."""
    return load_fixture("oms_order_1172452900788-01.json")


@pytest.fixture
def discounted_order():
    """The first order of VTEX's documented order-group example: a discount, never authorized."""
    return load_fixture("oms_order_v71425090str-01.json")


def test_charged_from_documented_example(approved_order):
    record = build_event_record(approved_order, "payment-approved", CHANGED, OPTIONS)

    assert record["type"] == "event" and record["evtName"] == CHARGED
    assert record["ts"] == 1707079571
    assert "identity" not in record
    data = record["evtData"]
    assert {k: data[k] for k in ("order_id", "checkout_id", "state", "affiliation", "currency", "coupon")} == {
        "order_id": "1172452900788-01",
        "checkout_id": approved_order["orderFormId"],
        "state": "payment-approved",
        "affiliation": "Lux Store",
        "currency": "BRL",
        "coupon": "sale",
    }
    # Major units: OMS says 1160 cents.
    assert (data["value"], data["revenue"], data["shipping"], data["tax"], data["discount"]) == (11.6, 0.99, 3.0, 0, 0)
    assert data["payment_method"] == "Visa"
    assert data["CT Source"] == "vtex"
    assert (data["Amount"], data["Charged ID"], data["Payment mode"]) == (11.6, "1172452900788-01", "Visa")
    assert data["Items"] == [{
        "product_id": "6",
        "sku_id": "18",
        "name": "Bay Max L",
        "brand": "Lux Brand",
        "category": "Coach",
        "price": 9.9,
        "quantity": 1,
        "url": "https://luxstore.example.com/bay-max-9429485/p",
        "image_url": "https://luxstore.img.com.br/ids/155392-55-55/KOI.jpg?v=6359184022286",
    }]
    assert "items_truncated" not in data


def test_discount_is_positive_and_unauthorized_cancel_is_checkout_failed(discounted_order):
    record = build_event_record(discounted_order, "canceled", CHANGED, OPTIONS)

    assert record["evtName"] == CHECKOUT_FAILED
    data = record["evtData"]
    assert (data["value"], data["revenue"], data["discount"], data["shipping"]) == (54.58, 69.99, 17.5, 2.09)
    assert data["payment_method"] == "Pix"
    assert data["items"][0]["price"] == 52.49
    assert "Items" not in data and "Amount" not in data


def test_checkout_failed_rule_can_be_switched_off(discounted_order):
    options = EventOptions(unauthorized_cancel_as_checkout_failed=False)

    assert event_name_for("canceled", discounted_order, options) == ORDER_CANCELLED


@pytest.mark.parametrize(
    ("state", "authorized", "charged_only_when_approved", "expected"),
    [
        ("payment-approved", True, True, CHARGED),
        ("payment-approved", True, False, ORDER_APPROVED),
        ("canceled", True, True, ORDER_CANCELLED),
        ("canceled", False, True, CHECKOUT_FAILED),
        ("payment-denied", False, True, CHECKOUT_FAILED),
        ("incomplete", False, True, CHECKOUT_FAILED),
        ("invoiced", True, True, None),
    ],
)
def test_event_names(approved_order, state, authorized, charged_only_when_approved, expected):
    if not authorized:
        approved_order["authorizedDate"] = None
    options = EventOptions(charged_only_when_approved=charged_only_when_approved)

    assert event_name_for(state, approved_order, options) == expected


def test_currency_decimal_digits_are_honoured(approved_order):
    approved_order["storePreferencesData"]["currencyFormatInfo"]["CurrencyDecimalDigits"] = 0
    approved_order["storePreferencesData"]["currencyCode"] = "CLP"

    data = build_event_record(approved_order, "payment-approved", CHANGED, OPTIONS)["evtData"]

    assert (data["value"], data["currency"]) == (1160, "CLP")


def test_tolerates_nulls_and_missing_parts(approved_order):
    order = copy.deepcopy(approved_order)
    order["marketingData"] = None
    order["sellers"] = []
    order["totals"] = [{"id": "Items", "value": 1000}, {"id": "Change", "value": -50}, {"value": 3}]
    order["paymentData"] = {"transactions": []}
    del order["storePreferencesData"]
    order["items"][0]["additionalInfo"] = None

    data = build_event_record(order, "payment-approved", CHANGED, OPTIONS)["evtData"]

    assert (data["coupon"], data["affiliation"], data["payment_method"], data["currency"]) == ("", "", "", "USD")
    assert (data["revenue"], data["shipping"], data["tax"], data["discount"]) == (10.0, 0, 0, 0)
    assert data["Items"][0]["category"] == "" and data["Items"][0]["brand"] == ""


def test_payment_method_collects_every_transaction(approved_order):
    approved_order["paymentData"]["transactions"] = [
        {"payments": [{"paymentSystemName": "Visa"}, {"paymentSystemName": "Gift Card"}]},
        {"payments": [{"paymentSystemName": "Visa"}, {"paymentSystemName": "Pix"}]},
    ]

    data = build_event_record(approved_order, "payment-approved", CHANGED, OPTIONS)["evtData"]

    assert data["payment_method"] == "Visa, Gift Card, Pix"


def test_more_than_fifty_items_are_capped_and_flagged(approved_order):
    item = approved_order["items"][0]
    approved_order["items"] = [dict(item, id=str(n)) for n in range(MAX_ITEMS + 7)]

    data = build_event_record(approved_order, "payment-approved", CHANGED, OPTIONS)["evtData"]

    assert len(data["Items"]) == MAX_ITEMS
    assert data["Items"][-1]["sku_id"] == str(MAX_ITEMS - 1)
    assert (data["items_truncated"], data["items_count"]) == (True, MAX_ITEMS + 7)


def test_category_path_follows_category_ids(approved_order):
    approved_order["items"][0]["additionalInfo"]["categoriesIds"] = "/1/2/3/"
    approved_order["items"][0]["additionalInfo"]["categories"] = [
        {"id": 3, "name": "Running"}, {"id": 1, "name": "Apparel"}, {"id": 2, "name": "Shoes"}]

    item = build_event_record(approved_order, "payment-approved", CHANGED, OPTIONS)["evtData"]["Items"][0]

    assert item["category"] == "Apparel > Shoes > Running"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+5561992227222", "+5561992227222"), ("+55 (61) 99222-7222", "+5561992227222"), ("61992227222", None),
     ("+0123456789", None), ("", None), (None, None), ("+1234", None)],
)
def test_e164(raw, expected):
    assert e164(raw) == expected


def test_profile_prefers_master_data_and_drops_invalid_phone(approved_order):
    customer = {"email": "rodrigo@example.com", "firstName": "Rodrigo", "lastName": "Smith", "phone": "n/a"}
    client = approved_order["clientProfileData"]
    options = EventOptions(profile_msg_flags=(("MSG-email", False),))

    profile = build_profile_record("rodrigo@example.com", customer, client, 1707079571, options)

    assert profile == {
        "type": "profile",
        "identity": "rodrigo@example.com",
        "ts": 1707079571,
        "profileData": {"Email": "rodrigo@example.com", "Name": "Rodrigo Smith", "Phone": "+5561992227222",
                        "MSG-email": False},
    }


def test_profile_has_no_msg_flags_unless_configured():
    profile = build_profile_record("a@example.com", {"phone": "123"}, {}, 1, EventOptions())

    assert profile["profileData"] == {"Email": "a@example.com"}
