"""Many accounts from a TOML file, secrets from the environment, errors that name the place."""

import pytest

from shared.accounts_file import parse_accounts
from shared.settings import ConfigError, load_settings

GOOD = """
[defaults]
clevertap_region = "us1"
catalog_sync = false

[accounts.storea]
vtex_app_key = "vtexappkey-storea-A"
vtex_app_token = { env = "STOREA_TOKEN" }
clevertap_account_id = "CT-A"
clevertap_passcode = { env = "STOREA_PASSCODE" }
hook_secret = "inline-secret-a"

[accounts.storeb]
vtex_app_key = "vtexappkey-storeb-B"
vtex_app_token = "token-b"
clevertap_account_id = "CT-B"
clevertap_passcode = "pass-b"
clevertap_region = "eu1"
hook_secret = "inline-secret-b"
feed_safety_net = true
oms_rate_per_min = 600
"""
ENV = {"STOREA_TOKEN": "from-env-token", "STOREA_PASSCODE": "from-env-pass"}


def test_every_account_gets_its_own_settings_over_the_defaults():
    accounts = parse_accounts(GOOD, ENV)

    assert list(accounts) == ["storea", "storeb"]
    a, b = accounts["storea"], accounts["storeb"]
    assert a.vtex_app_token.get_secret_value() == "from-env-token"
    assert a.clevertap_region == "us1" and b.clevertap_region == "eu1"
    assert not a.feed_safety_net and b.feed_safety_net
    assert (a.oms_rate_per_min, b.oms_rate_per_min) == (6000, 600)
    assert a.vtex_url == "https://storea.vtexcommercestable.com.br"


@pytest.mark.parametrize(("change", "named"), [
    (lambda t: t, "STOREA_PASSCODE is not set"),
    (lambda t: t.replace('clevertap_region = "eu1"', 'clevertap_region = "xx9"'), "accounts.storeb.clevertap_region"),
    (lambda t: t.replace("[accounts.storeb]", "[accounts.storeb]\nvtex_account = \"other\""), "must equal the table"),
    (lambda t: t.replace('vtex_app_token = "token-b"', 'vtex_app_token = { file = "x" }'), "accounts.storeb.vtex_app_token"),
    (lambda t: t + "\n[extra]\n", "unknown top-level keys ['extra']"),
    (lambda t: t.replace("[accounts.storea]", "[accounts.storea"), "not valid TOML"),
    (lambda t: t.replace("[accounts.storeb]", "[accounts.BAD]"), "accounts.BAD.vtex_account"),
])
def test_a_bad_file_is_refused_naming_the_place(change, named):
    env = {"STOREA_TOKEN": "t"}  # STOREA_PASSCODE missing unless the case changes something else
    text = change(GOOD)
    if "STOREA_PASSCODE is not set" not in named:
        env = ENV

    with pytest.raises(ConfigError) as error:
        parse_accounts(text, env)

    assert named in str(error.value)


def test_a_rejected_secret_is_not_echoed():
    text = GOOD.replace('hook_secret = "inline-secret-b"', 'hook_secret = ""')

    with pytest.raises(ConfigError) as error:
        parse_accounts(text, ENV)

    assert "accounts.storeb.hook_secret" in str(error.value) and "token-b" not in str(error.value)


def test_the_file_replaces_the_account_variables_and_may_not_be_mixed_with_them(account_env, monkeypatch, tmp_path):
    path = tmp_path / "accounts.toml"
    path.write_text(GOOD)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VTEXCT_ACCOUNTS_FILE", str(path))

    with pytest.raises(ConfigError, match="unset VTEXCT_CLEVERTAP_ACCOUNT_ID.*VTEXCT_VTEX_ACCOUNT"):
        load_settings()

    for name in account_env:
        if name not in ("VTEXCT_ADMIN_TOKEN", "VTEXCT_FLOWER_BASIC_AUTH"):
            monkeypatch.delenv(name)
    assert list(load_settings().accounts) == ["storea", "storeb"]

    monkeypatch.setenv("VTEXCT_ACCOUNTS_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings()
