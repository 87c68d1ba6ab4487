"""What ``vtexct hook`` and ``vtexct feed`` ask VTEX for, and how ``vtexct status`` judges a hook."""

import pytest

from shared.ops.notifications import feed_config, hook_config, hook_problems, masked
from shared.settings import load_settings


def test_the_hook_asks_for_exactly_our_states_and_carries_the_secret(account_env):
    account = load_settings().account("teststore")

    config = hook_config(account, "https://hooks.example.com/hooks/vtex/orders")

    assert config["filter"] == {"type": "FromWorkflow",
                                "status": ["canceled", "incomplete", "payment-approved", "payment-denied"]}
    assert config["hook"]["headers"] == {"X-Hook-Secret": account_env["VTEXCT_HOOK_SECRET"]}
    shown = str(masked(config))
    assert account_env["VTEXCT_HOOK_SECRET"] not in shown and "hooks.example.com" in shown
    assert hook_problems(config) == []


def test_a_missing_or_different_hook_is_a_problem_in_words(account_env):
    config = hook_config(load_settings().account("teststore"), "https://x.example.com")

    assert "3 days" in hook_problems(None)[0]
    assert "FromWorkflow" in hook_problems({**config, "filter": {"type": "FromWorkflow", "status": ["invoiced"]}})[0]
    assert "X-Hook-Secret" in hook_problems({**config, "hook": {"url": "u", "headers": {}}})[0]


def test_feed_retention_stays_within_what_vtex_allows():
    assert feed_config()["queue"] == {"visibilityTimeoutInSeconds": 240, "MessageRetentionPeriodInSeconds": 345600}
    assert feed_config(retention_days=14)["queue"]["MessageRetentionPeriodInSeconds"] == 1209600
    with pytest.raises(ValueError, match="4 to 14"):
        feed_config(retention_days=30)
