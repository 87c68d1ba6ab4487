"""Scrub configured secrets out of text before it is stored or shown."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from shared.settings import Settings


def secret_values(settings: Settings) -> list[str]:
    """Every credential in ``settings``, longest first so that overlapping ones are fully masked."""
    values = [v for v in (settings.admin_token, settings.admin_token_previous, settings.flower_basic_auth) if v]
    for account in settings.accounts.values():
        values += [getattr(account, name) for name, info in type(account).model_fields.items()
                   if info.annotation in (SecretStr, SecretStr | None)]
    plain = {v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()}
    return sorted(plain, key=len, reverse=True)


def redactor(settings: Settings) -> Callable[[str], str]:
    """A function that replaces every configured secret in a string with ``***``."""
    secrets = secret_values(settings)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return redact
