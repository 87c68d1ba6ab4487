"""Many accounts in one deployment: the TOML file named by ``VTEXCT_ACCOUNTS_FILE``.

::

    [defaults]                       # optional: applies to every account below
    clevertap_region = "us1"

    [accounts.storea]                # the table name is the VTEX account name
    vtex_app_key = "vtexappkey-storea-ABC"
    vtex_app_token = { env = "STOREA_VTEX_APP_TOKEN" }   # read from the environment
    clevertap_account_id = "W9R-486-4W5Z"
    clevertap_passcode = { env = "STOREA_CLEVERTAP_PASSCODE" }
    hook_secret = { env = "STOREA_HOOK_SECRET" }
    integration_email = "ops@storea.example"

Keys are the :class:`~shared.settings.AccountSettings` fields, the names of the
``VTEXCT_*`` account variables without the prefix, in lower case.  Any value may be
``{ env = "NAME" }`` instead, so that secrets stay out of the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.settings import AccountSettings, ConfigError

FILE_VARIABLE = "VTEXCT_ACCOUNTS_FILE"


def _resolve(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """A value, or the environment variable that ``{ env = "NAME" }`` names."""
    if not isinstance(value, dict):
        return value
    if set(value) != {"env"} or not isinstance(value["env"], str):
        raise ConfigError(f"{FILE_VARIABLE}: {where}: a table value must be {{ env = \"VARIABLE\" }}")
    found = environ.get(value["env"])
    if not found:
        raise ConfigError(f"{FILE_VARIABLE}: {where}: environment variable {value['env']} is not set")
    return found


def parse_accounts(text: str, environ: Mapping[str, str] | None = None) -> dict[str, AccountSettings]:
    """Validate the file's text into account settings, keyed by account name.

    :raises ConfigError: naming the account and key at fault; rejected values are not echoed.
    """
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{FILE_VARIABLE}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"defaults", "accounts"})
    if unknown:
        raise ConfigError(f"{FILE_VARIABLE}: unknown top-level keys {unknown}; expected [defaults] and [accounts.<name>]")
    defaults, tables = data.get("defaults", {}), data.get("accounts", {})
    if not isinstance(defaults, dict) or not isinstance(tables, dict):
        raise ConfigError(f"{FILE_VARIABLE}: [defaults] and [accounts.<name>] must be tables")
    if not tables:
        raise ConfigError(f"{FILE_VARIABLE}: no [accounts.<name>] table")

    accounts: dict[str, AccountSettings] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{FILE_VARIABLE}: accounts.{name} must be a table")
        merged = {**defaults, **table}
        if merged.setdefault("vtex_account", name) != name:
            raise ConfigError(f"{FILE_VARIABLE}: accounts.{name}: vtex_account must equal the table name")
        fields = {key: _resolve(value, f"accounts.{name}.{key}", environ) for key, value in merged.items()}
        try:
            accounts[name] = AccountSettings(**fields)
        except ValidationError as exc:
            problems = "\n  ".join(
                f"accounts.{name}.{'.'.join(str(p) for p in e['loc']) or 'integration_email'}: {e['msg']}"
                # include_input=False: a rejected value may be a secret.
                for e in exc.errors(include_url=False, include_input=False))
            raise ConfigError(f"invalid configuration in {FILE_VARIABLE}:\n  {problems}") from None
    return accounts


def load_accounts_file(path: str) -> dict[str, AccountSettings]:
    """Read and validate the accounts file at ``path``.

    :raises ConfigError: when the file cannot be read or is invalid.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{FILE_VARIABLE}: cannot read {path}: {exc.strerror}") from None
    return parse_accounts(text)
