"""Redis key names of the state store.  Every key of per-store state carries the account."""

PREFIX = "vtexct"


def account_key(account: str, *parts: str) -> str:
    """``vtexct:<account>:<part>:<part>...``"""
    return ":".join((PREFIX, account, *parts))


def global_key(*parts: str) -> str:
    """``vtexct:<part>...`` for indexes that span accounts."""
    return ":".join((PREFIX, *parts))
