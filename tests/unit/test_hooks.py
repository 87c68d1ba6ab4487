from datetime import UTC, datetime

import pytest

from shared.orders.hooks import HookBodyError, OrderStatusChange, Ping, parse_hook_body, parse_timestamp
from tests.conftest import load_fixture


def test_documented_hook_body_with_seven_fractional_digits():
    change = parse_hook_body(load_fixture("hook_notification.json"))

    assert change == OrderStatusChange(
        order_id="v52277740atmc-01",
        state="ready-for-handling",
        last_state="window-to-cancel",
        domain="Fulfillment",
        changed_at=datetime(2019, 8, 14, 17, 12, 48, 96589, tzinfo=UTC),
        origin_account="automacaoqa",
        origin_key="vtexappkey-appvtex",
    )


def test_feed_and_broadcaster_body():
    body = {"domain": "Marketplace", "orderId": "v69305315atmc-01", "currentState": "invoice",
            "lastState": "payment-approved", "currentChangeDate": "2020-07-13T20:25:13.2304508Z",
            "lastChangeDate": "2020-07-13T20:20:00.0000000Z"}

    change = parse_hook_body(body)

    assert (change.order_id, change.state, change.last_state) == ("v69305315atmc-01", "invoice", "payment-approved")
    assert change.changed_at == datetime(2020, 7, 13, 20, 25, 13, 230450, tzinfo=UTC)
    assert change.origin_account is None


def test_feed_v3_item_uses_state_and_current_change():
    body = {"eventId": "e1", "handle": "h1", "domain": "Fulfillment", "state": "canceled", "lastState": "cancel",
            "orderId": "1172452900788-01", "lastChange": "2024-02-04T20:40:00.0000000Z",
            "currentChange": "2024-02-04T20:46:11.7010747+00:00"}

    change = parse_hook_body(body)

    assert (change.state, change.changed_at.second) == ("canceled", 11)


def test_ping():
    assert parse_hook_body({"hookConfig": "ping"}) == Ping()


def test_change_time_defaults_to_receive_time():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    change = parse_hook_body({"OrderId": "123-01", "State": "canceled", "Origin": {"Account": "a"}}, now=now)

    assert change.changed_at == now


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"State": "canceled"}, ("OrderId",)),
        ({"OrderId": "1-01"}, ("State",)),
        ({"orderId": "1-01"}, ("currentState",)),
        ({"foo": "bar"}, ("OrderId", "State")),
        ({"OrderId": 17, "State": "canceled"}, ("OrderId",)),
        ({"OrderId": "../../etc", "State": "canceled"}, ("OrderId",)),
        ({"OrderId": "1-01", "State": "Canceled!"}, ("State",)),
        ({"OrderId": "1-01", "State": "canceled", "CurrentChange": "yesterday"}, ("CurrentChange",)),
        ({"OrderId": "1-01", "State": "canceled", "Origin": "acme"}, ("Origin",)),
        ({"OrderId": "1-01", "State": "canceled", "Origin": {"Account": 5}}, ("Origin.Account",)),
    ],
)
def test_bad_bodies_name_the_fields(body, fields):
    with pytest.raises(HookBodyError) as error:
        parse_hook_body(body)

    assert error.value.fields == fields


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019-08-14T17:12:48.0965893Z", datetime(2019, 8, 14, 17, 12, 48, 96589, tzinfo=UTC)),
        ("2024-02-04T20:46:11.7010747+00:00", datetime(2024, 2, 4, 20, 46, 11, 701074, tzinfo=UTC)),
        ("2024-02-04T17:46:11-03:00", datetime(2024, 2, 4, 20, 46, 11, tzinfo=UTC)),
        ("2024-02-04T20:46:11", datetime(2024, 2, 4, 20, 46, 11, tzinfo=UTC)),
    ],
)
def test_timestamps(raw, expected):
    assert parse_timestamp(raw) == expected
