import pytest

from shared.settings import ConfigError, load_settings


def test_env_builds_one_account_with_defaults(account_env):
    # when
    settings = load_settings()

    # then
    account = settings.account("teststore")
    assert list(settings.accounts) == ["teststore"]
    assert settings.broker_url == "redis://localhost:6379/0"
    assert settings.redis_url == "redis://localhost:6379/1"
    assert account.vtex_url == "https://teststore.vtexcommercestable.com.br"
    assert account.clevertap_url == "https://us1.api.clevertap.com"
    assert account.catalog_sync and account.charged_only_when_approved and account.upload_profiles


def test_base_urls_may_be_templates_or_plain(account_env, monkeypatch):
    monkeypatch.setenv("VTEXCT_VTEX_BASE_URL", "http://127.0.0.1:9/vtex/{account}")
    monkeypatch.setenv("VTEXCT_CLEVERTAP_BASE_URL", "http://127.0.0.1:9/clevertap/")
    monkeypatch.setenv("VTEXCT_CLEVERTAP_REGION", "sk1")

    account = load_settings().account("teststore")

    assert account.vtex_url == "http://127.0.0.1:9/vtex/teststore"
    assert account.clevertap_url == "http://127.0.0.1:9/clevertap"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("VTEXCT_CLEVERTAP_REGION", "eu2", "VTEXCT_CLEVERTAP_REGION"),
        ("VTEXCT_VTEX_BASE_URL", "ftp://{account}.example.com", "VTEXCT_VTEX_BASE_URL"),
        ("VTEXCT_CLEVERTAP_BASE_URL", "https://{account}.clevertap.com", "VTEXCT_CLEVERTAP_BASE_URL"),
        ("VTEXCT_VTEX_ACCOUNT", "Bad Account", "VTEXCT_VTEX_ACCOUNT"),
        ("VTEXCT_VTEX_APP_TOKEN", "", "VTEXCT_VTEX_APP_TOKEN"),
        ("VTEXCT_CATALOG_SYNC", "maybe", "VTEXCT_CATALOG_SYNC"),
        ("VTEXCT_INTEGRATION_EMAIL", "not-an-email", "VTEXCT_INTEGRATION_EMAIL"),
        ("VTEXCT_RETRY_BACKOFF_MAX", "5000", "VTEXCT_VISIBILITY_TIMEOUT"),
        ("VTEXCT_PROFILE_MSG_FLAGS", '{"MSG-fax": true}', "VTEXCT_PROFILE_MSG_FLAGS"),
    ],
)
def test_bad_values_name_the_variable(account_env, monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as error:
        load_settings()

    assert named in str(error.value)


def test_catalog_sync_requires_integration_email(account_env, monkeypatch):
    monkeypatch.delenv("VTEXCT_INTEGRATION_EMAIL")

    with pytest.raises(ConfigError, match="VTEXCT_INTEGRATION_EMAIL"):
        load_settings()

    monkeypatch.setenv("VTEXCT_CATALOG_SYNC", "false")
    assert load_settings().account("teststore").integration_email is None


def test_missing_account_is_named(account_env, monkeypatch):
    monkeypatch.delenv("VTEXCT_VTEX_ACCOUNT")

    with pytest.raises(ConfigError, match="VTEXCT_VTEX_ACCOUNT"):
        load_settings()


def test_errors_and_dumps_never_show_secrets(account_env, monkeypatch):
    monkeypatch.setenv("VTEXCT_CLEVERTAP_REGION", "nowhere")
    with pytest.raises(ConfigError) as error:
        load_settings()
    monkeypatch.setenv("VTEXCT_CLEVERTAP_REGION", "us1")
    dumped = load_settings().model_dump_json()
    shown = repr(load_settings())

    for secret in (v for k, v in account_env.items() if "SENTINEL" in v):
        assert secret not in str(error.value)
        assert secret not in dumped
        assert secret not in shown


def test_empty_variables_count_as_unset(account_env, monkeypatch):
    monkeypatch.setenv("VTEXCT_ADMIN_TOKEN", "")
    monkeypatch.setenv("VTEXCT_CATALOG_CONTENT_TYPE", "")

    settings = load_settings()

    assert settings.admin_token is None and settings.catalog_content_type is None


def test_env_example_lists_every_setting():
    from pathlib import Path

    from shared.settings import ENV_PREFIX, _EnvSettings

    example = Path(__file__).parents[2] / ".env.example"
    listed = {line.split("=", 1)[0] for line in example.read_text().splitlines() if line.startswith(ENV_PREFIX)}

    assert listed == {ENV_PREFIX + name.upper() for name in _EnvSettings.model_fields}
