"""Configuration, validated once at start-up.

Deployment-wide values (broker, state store, admin token, retry policy) live on
:class:`Settings`; everything that belongs to one VTEX store lives on
:class:`AccountSettings`, and ``Settings.accounts`` maps account names to them.  One
account is read from ``VTEXCT_*`` environment variables, or any number from the TOML file
that ``VTEXCT_ACCOUNTS_FILE`` names (:mod:`shared.accounts_file`); nothing else in the code
assumes there is only one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "VTEXCT_"

Region = Literal["eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"]

# VTEX account names are lower-case letters and digits; they go into hostnames and Redis keys.
_ACCOUNT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL_RE = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def cron_schedule(expression: str) -> Any:
    """A Celery ``crontab`` from a 5-field cron expression (Celery's positional order differs)."""
    from celery.schedules import crontab

    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                   day_of_week=day_of_week)


class ConfigError(Exception):
    """Raised when the configuration is invalid; the message names each bad variable."""


def _check_url(value: str, placeholder: str) -> str:
    value = value.rstrip("/")
    probe = value.replace("{" + placeholder + "}", placeholder)
    if "{" in probe or "}" in probe or not _URL_RE.match(probe):
        raise ValueError(f"must be an http(s) URL, optionally containing {{{placeholder}}}")
    return value


class AccountSettings(BaseModel):
    """Everything that belongs to one VTEX store and its CleverTap project."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vtex_account: str
    vtex_app_key: str = Field(min_length=1)
    vtex_app_token: SecretStr
    vtex_base_url: str = "https://{account}.vtexcommercestable.com.br"
    store_url: str = "https://{account}.myvtex.com"
    clevertap_account_id: str = Field(min_length=1)
    clevertap_passcode: SecretStr
    clevertap_region: Region
    clevertap_base_url: str = "https://{region}.api.clevertap.com"
    hook_secret: SecretStr
    # During a rotation both are accepted: set the new one, keep the old one here until VTEX sends the new.
    hook_secret_previous: SecretStr | None = None
    integration_email: str | None = None
    catalog_sync: bool = True
    charged_only_when_approved: bool = True
    upload_profiles: bool = True
    unauthorized_cancel_as_checkout_failed: bool = True
    profile_msg_flags: dict[str, bool] = Field(default_factory=dict)
    # Our budgets per account and upstream, shared by every worker process through Redis.
    # VTEX documents 6,000/min for OMS get order and 15,000/min per catalog endpoint;
    # Master Data and CleverTap document none (CleverTap limits concurrency instead).
    oms_rate_per_min: int = Field(default=6000, ge=1)
    md_rate_per_min: int = Field(default=6000, ge=1)
    catalog_rate_per_min: int = Field(default=15000, ge=1)
    clevertap_rate_per_min: int = Field(default=3000, ge=1)
    # CleverTap allows 15 concurrent upload requests per account; stay below it.
    clevertap_max_concurrency: int = Field(default=10, ge=1, le=15)
    clevertap_batch_size: int = Field(default=1000, ge=1, le=1000)
    clevertap_batch_wait_ms: int = Field(default=200, ge=0, le=10_000)
    # Poll the VTEX Orders Feed v3 as well, to catch what a hook delivery missed.
    feed_safety_net: bool = False

    @field_validator("vtex_account")
    @classmethod
    def _account_name(cls, value: str) -> str:
        if not _ACCOUNT_RE.match(value):
            raise ValueError("must be a VTEX account name: lower-case letters, digits and '-'")
        return value

    @field_validator("vtex_app_token", "clevertap_passcode", "hook_secret")
    @classmethod
    def _non_empty_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("vtex_base_url", "store_url")
    @classmethod
    def _vtex_url(cls, value: str) -> str:
        return _check_url(value, "account")

    @field_validator("clevertap_base_url")
    @classmethod
    def _clevertap_url(cls, value: str) -> str:
        return _check_url(value, "region")

    @field_validator("integration_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError("must be an e-mail address")
        return value or None

    @field_validator("profile_msg_flags")
    @classmethod
    def _msg_flags(cls, value: dict[str, bool]) -> dict[str, bool]:
        allowed = {"MSG-email", "MSG-push", "MSG-sms", "MSG-whatsapp"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"unknown flags {unknown}; allowed: {sorted(allowed)}")
        return value

    @model_validator(mode="after")
    def _catalog_needs_email(self) -> AccountSettings:
        if self.catalog_sync and not self.integration_email:
            raise ValueError("integration_email is required when catalog_sync is on")
        return self

    @property
    def name(self) -> str:
        return self.vtex_account

    def hook_secrets(self) -> list[bytes]:
        """The secrets a hook may carry: the current one and, during a rotation, the previous."""
        return [s.get_secret_value().encode() for s in (self.hook_secret, self.hook_secret_previous)
                if s is not None and s.get_secret_value()]

    @property
    def vtex_url(self) -> str:
        return self.vtex_base_url.replace("{account}", self.vtex_account)

    @property
    def storefront_url(self) -> str:
        return self.store_url.replace("{account}", self.vtex_account)

    @property
    def clevertap_url(self) -> str:
        return self.clevertap_base_url.replace("{region}", self.clevertap_region)


class RetryPolicy(BaseModel):
    """How patiently transient errors are retried: for ``window_s`` after the first failure,
    and at most ``max_attempts`` tries if that is set (0: no cap)."""

    model_config = ConfigDict(frozen=True)

    window_s: float = Field(default=24 * 3600, gt=0)
    max_attempts: int = Field(default=0, ge=0)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)

    def exhausted(self, attempts: int, first_failed_at: float, now: float) -> bool:
        """Whether ``attempts`` tries, the first failing at ``first_failed_at``, are all we make."""
        return bool(self.max_attempts and attempts >= self.max_attempts) or now - first_failed_at >= self.window_s


class Settings(BaseModel):
    """The whole, validated configuration of one deployment."""

    model_config = ConfigDict(frozen=True)

    broker_url: str = "redis://localhost:6379/0"
    redis_url: str = "redis://localhost:6379/1"
    admin_token: SecretStr | None = None
    admin_token_previous: SecretStr | None = None
    flower_basic_auth: SecretStr | None = None
    visibility_timeout: int = Field(default=1800, ge=10)
    task_time_limit: int = Field(default=120, ge=5)
    http_timeout: float = Field(default=10.0, gt=0)
    dedupe_ttl_days: int = Field(default=90, ge=1)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    retry: RetryPolicy = RetryPolicy()
    # An accepted event with no sign of life for this long is settled or republished.
    reconcile_grace_minutes: float = Field(default=15.0, gt=0)
    reconcile_interval_s: float = Field(default=300.0, gt=0)
    # Feed items stay invisible for 240 s once read; polling more often than that gains little.
    feed_poll_interval_s: float = Field(default=120.0, ge=5)
    catalog_sync_cron: str = "0 3 * * *"
    catalog_sync_timezone: str = "UTC"
    catalog_chunk_size: int = Field(default=1000, ge=1, le=10000)
    catalog_fetch_threads: int = Field(default=8, ge=1, le=64)
    catalog_task_time_limit: int = Field(default=900, ge=5)
    catalog_lock_ttl: int = Field(default=6 * 3600, ge=60)
    catalog_content_type: str | None = None
    accounts: dict[str, AccountSettings]

    @field_validator("admin_token", "admin_token_previous", "flower_basic_auth")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty token would let an empty Authorization header in.
        return value if value is not None and value.get_secret_value() else None

    @field_validator("flower_basic_auth")
    @classmethod
    def _basic_auth(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError("must be user:password (several separated by commas)")
        return value

    @field_validator("catalog_sync_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError("must be a 5-field cron expression: minute hour day-of-month month day-of-week")
        try:
            cron_schedule(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"is not a valid cron expression ({exc})") from None
        return value

    @field_validator("catalog_sync_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone, e.g. UTC or America/Sao_Paulo") from None
        return value

    @model_validator(mode="after")
    def _visibility_outlasts_countdowns(self) -> Settings:
        # On the Redis broker a message whose countdown outlives the visibility timeout is
        # handed to a second worker, so the longest retry wait must fit inside it.
        longest = max(self.task_time_limit, self.catalog_task_time_limit)
        if self.retry.backoff_max + longest >= self.visibility_timeout:
            raise ValueError(
                "visibility_timeout must exceed retry_backoff_max + the longest task time limit "
                f"({self.retry.backoff_max:g} + {longest})"
            )
        return self

    def admin_tokens(self) -> list[bytes]:
        """The admin tokens accepted: the current one and, during a rotation, the previous."""
        return [t.get_secret_value().encode() for t in (self.admin_token, self.admin_token_previous) if t]

    def account(self, name: str) -> AccountSettings:
        """Return one account's settings.

        :raises KeyError: if the account is not configured.
        """
        return self.accounts[name]


class _EnvSettings(BaseSettings):
    """The flat ``VTEXCT_*`` view of :class:`Settings` with one account."""

    # An empty variable counts as unset: "VTEXCT_ADMIN_TOKEN=" in an .env must not mean "the token is ''".
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False,
                                      env_ignore_empty=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # Only the process environment: a stray .env file must not change a running service.
        return (init_settings, env_settings)

    broker_url: str = "redis://localhost:6379/0"
    redis_url: str = "redis://localhost:6379/1"
    admin_token: SecretStr | None = None
    admin_token_previous: SecretStr | None = None
    flower_basic_auth: SecretStr | None = None
    visibility_timeout: int = 1800
    task_time_limit: int = 120
    http_timeout: float = 10.0
    dedupe_ttl_days: int = 90
    log_format: str = "text"
    log_level: str = "INFO"
    retry_window_hours: float = 24.0
    retry_max_attempts: int = 0
    retry_backoff_base: float = 2.0
    retry_backoff_max: float = 300.0
    reconcile_grace_minutes: float = 15.0
    reconcile_interval_s: float = 300.0
    feed_poll_interval_s: float = 120.0
    accounts_file: str | None = None
    catalog_sync_cron: str = "0 3 * * *"
    catalog_sync_timezone: str = "UTC"
    catalog_chunk_size: int = 1000
    catalog_fetch_threads: int = 8
    catalog_task_time_limit: int = 900
    catalog_lock_ttl: int = 6 * 3600
    catalog_content_type: str | None = None

    vtex_account: str | None = None
    vtex_app_key: str | None = None
    vtex_app_token: SecretStr | None = None
    vtex_base_url: str | None = None
    store_url: str | None = None
    clevertap_account_id: str | None = None
    clevertap_passcode: SecretStr | None = None
    clevertap_region: str | None = None
    clevertap_base_url: str | None = None
    hook_secret: SecretStr | None = None
    hook_secret_previous: SecretStr | None = None
    integration_email: str | None = None
    catalog_sync: bool | None = None
    charged_only_when_approved: bool | None = None
    upload_profiles: bool | None = None
    unauthorized_cancel_as_checkout_failed: bool | None = None
    profile_msg_flags: dict[str, bool] | None = None
    oms_rate_per_min: int | None = None
    md_rate_per_min: int | None = None
    catalog_rate_per_min: int | None = None
    clevertap_rate_per_min: int | None = None
    clevertap_max_concurrency: int | None = None
    clevertap_batch_size: int | None = None
    clevertap_batch_wait_ms: int | None = None
    feed_safety_net: bool | None = None


_ACCOUNT_FIELDS = tuple(AccountSettings.model_fields)


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _config_error(error: ValidationError, name_of: Callable[[list[str]], str]) -> ConfigError:
    # include_input=False: the rejected value may be a secret and must not reach the log.
    lines = [
        f"{name_of([str(part) for part in item['loc']])}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    ]
    return ConfigError("invalid configuration:\n  " + "\n  ".join(lines))


def _accounts(accounts_file: str | None, account_fields: dict[str, Any]) -> dict[str, AccountSettings]:
    """The accounts: from the accounts file when one is named, else the one in the environment."""
    if accounts_file:
        from shared.accounts_file import load_accounts_file

        if account_fields:
            named = ", ".join(_env_name(k) for k in sorted(account_fields))
            raise ConfigError(f"invalid configuration:\n  VTEXCT_ACCOUNTS_FILE is set, so account settings belong in "
                              f"that file; unset {named}")
        return load_accounts_file(accounts_file)
    if "vtex_account" not in account_fields:
        raise ConfigError("invalid configuration:\n  VTEXCT_VTEX_ACCOUNT: is required (or set VTEXCT_ACCOUNTS_FILE)")
    try:
        account = AccountSettings(**account_fields)
    except ValidationError as exc:
        raise _config_error(exc, lambda loc: _env_name(loc[0]) if loc else _env_name("integration_email")) from None
    return {account.name: account}


def load_settings() -> Settings:
    """Build and validate :class:`Settings` from the ``VTEXCT_*`` environment variables
    and, when ``VTEXCT_ACCOUNTS_FILE`` is set, the accounts file it names.

    :raises ConfigError: naming every variable that is missing or invalid.
    """
    try:
        raw = _EnvSettings()
    except ValidationError as exc:
        raise _config_error(exc, lambda loc: _env_name(loc[0])) from None

    fields = raw.model_dump(exclude_none=True)
    accounts = _accounts(raw.accounts_file, {k: v for k, v in fields.items() if k in _ACCOUNT_FIELDS})
    try:
        return Settings(
            broker_url=raw.broker_url,
            redis_url=raw.redis_url,
            admin_token=raw.admin_token,
            admin_token_previous=raw.admin_token_previous,
            flower_basic_auth=raw.flower_basic_auth,
            visibility_timeout=raw.visibility_timeout,
            task_time_limit=raw.task_time_limit,
            http_timeout=raw.http_timeout,
            dedupe_ttl_days=raw.dedupe_ttl_days,
            log_format=raw.log_format.lower(),
            log_level=raw.log_level.upper(),
            **{k: v for k, v in fields.items()
               if k.startswith(("catalog_", "reconcile_", "feed_")) and k in Settings.model_fields},
            retry=RetryPolicy(
                window_s=raw.retry_window_hours * 3600,
                max_attempts=raw.retry_max_attempts,
                backoff_base=raw.retry_backoff_base,
                backoff_max=raw.retry_backoff_max,
            ),
            accounts=accounts,
        )
    except ValidationError as exc:
        def name_of(loc: list[str]) -> str:
            if len(loc) > 1 and loc[0] == "retry":
                return _env_name("retry_window_hours" if loc[1] == "window_s" else "retry_" + loc[1])
            return _env_name(loc[0]) if loc else _env_name("visibility_timeout")

        raise _config_error(exc, name_of) from None
