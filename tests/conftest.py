"""Shared fixtures: a valid single-account environment and the documented VTEX examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

ACCOUNT_ENV = {
    "VTEXCT_VTEX_ACCOUNT": "teststore",
    "VTEXCT_VTEX_APP_KEY": "vtexappkey-teststore-ABCDEF",
    "VTEXCT_VTEX_APP_TOKEN": "SENTINEL-APP-TOKEN-1b2c3d",
    "VTEXCT_CLEVERTAP_ACCOUNT_ID": "TEST-CT-ACCOUNT",
    "VTEXCT_CLEVERTAP_PASSCODE": "SENTINEL-PASSCODE-4e5f6a",
    "VTEXCT_CLEVERTAP_REGION": "us1",
    "VTEXCT_HOOK_SECRET": "SENTINEL-HOOK-SECRET-7b8c9d",
    "VTEXCT_ADMIN_TOKEN": "SENTINEL-ADMIN-TOKEN-0e1f2a",
    "VTEXCT_INTEGRATION_EMAIL": "catalog@teststore.example.com",
    "VTEXCT_FLOWER_BASIC_AUTH": "ops:SENTINEL-FLOWER-PASS-3c4d5e",
}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def account_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean ``VTEXCT_*`` environment with one valid account."""
    import os

    for key in list(os.environ):
        if key.startswith("VTEXCT_"):
            monkeypatch.delenv(key)
    for key, value in ACCOUNT_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(ACCOUNT_ENV)
