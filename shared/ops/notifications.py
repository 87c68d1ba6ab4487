"""``vtexct hook`` and ``vtexct feed``: set up how VTEX tells us about order status changes.

The hook pushes each change to the receiver; the feed keeps every change until it is read,
for the safety net (:mod:`shared.orders.feed`).  Both filter on exactly the workflow states
the integration turns into events.  VTEX allows one hook and one feed per app key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.clients.vtex import VtexClient
from shared.errors import IntegrationError
from shared.orders.mapping import HANDLED_STATES
from shared.settings import AccountSettings

#: VTEX does not validate status names, so these are exactly the states the pipeline handles.
STATUSES = sorted(HANDLED_STATES)
SECRET_HEADER = "X-Hook-Secret"
#: VTEX's documented bounds of a feed's retention.
RETENTION_DAYS = (4, 14)


def hook_config(account: AccountSettings, url: str) -> dict[str, Any]:
    """The hook configuration for ``account``: our states, our URL, our secret in a header VTEX sends back."""
    return {"filter": {"type": "FromWorkflow", "status": STATUSES},
            "hook": {"url": url, "headers": {SECRET_HEADER: account.hook_secret.get_secret_value()}}}


def feed_config(visibility_timeout_s: int = 240, retention_days: int = 4) -> dict[str, Any]:
    """The feed configuration: our states, and how long VTEX keeps an item we have not committed."""
    low, high = RETENTION_DAYS
    if not low <= retention_days <= high:
        raise ValueError(f"retention must be {low} to {high} days")
    return {"filter": {"type": "FromWorkflow", "status": STATUSES},
            "queue": {"visibilityTimeoutInSeconds": visibility_timeout_s,
                      "MessageRetentionPeriodInSeconds": retention_days * 86400}}


def masked(config: Any) -> Any:
    """A configuration as VTEX shows it, with the hook's header values hidden: they are our secret."""
    if not isinstance(config, dict) or not isinstance(config.get("hook"), dict):
        return config
    headers = config["hook"].get("headers")
    hidden = {k: "**********" for k in headers} if isinstance(headers, dict) else headers
    return {**config, "hook": {**config["hook"], "headers": hidden}}


def hook_problems(config: dict[str, Any] | None) -> list[str]:
    """What is wrong with the hook VTEX holds for an account, in words for ``vtexct status``."""
    if config is None:
        return ["no hook on VTEX: VTEX deletes a hook after 3 days without notifications; "
                "run vtexct hook register --url https://<receiver>/hooks/vtex/orders"]
    problems = []
    flt = config.get("filter") if isinstance(config.get("filter"), dict) else {}
    if flt.get("type") != "FromWorkflow" or sorted(flt.get("status") or []) != STATUSES:
        problems.append(f"hook filter is not FromWorkflow {STATUSES}; run vtexct hook register again")
    hook = config.get("hook") if isinstance(config.get("hook"), dict) else {}
    headers = {k.lower() for k in (hook.get("headers") or {})}
    if SECRET_HEADER.lower() not in headers:
        problems.append(f"hook sends no {SECRET_HEADER}: the receiver will refuse every notification")
    return problems


def run_command(what: str, action: str, accounts: list[AccountSettings], client: Callable[[AccountSettings], VtexClient],
                redact: Callable[[str], str], *, url: str | None = None, visibility_timeout_s: int = 240,
                retention_days: int = 4) -> int:
    """Run ``vtexct hook|feed <action>`` for each account and print what VTEX answered.

    :returns: the exit status: 1 when VTEX refused or failed for any account.
    """
    failed = False
    for account in accounts:
        vtex = client(account)
        try:
            answer = _call(vtex, what, action, account, url, visibility_timeout_s, retention_days)
        except IntegrationError as exc:
            # The message holds VTEX's answer (e.g. the ping of the hook URL failed); never a credential.
            print(redact(f"{account.name}: {what} {action} failed: {exc}"))
            failed = True
            continue
        print(redact(f"{account.name}: {answer if isinstance(answer, str) else json.dumps(masked(answer), indent=2)}"))
    return 1 if failed else 0


def _call(vtex: VtexClient, what: str, action: str, account: AccountSettings, url: str | None,
          visibility_timeout_s: int, retention_days: int) -> Any:
    if what == "hook" and action == "register":
        assert url is not None
        answer = vtex.set_hook_config(hook_config(account, url))
        return answer or vtex.hook_config() or "registered"
    if what == "feed" and action == "configure":
        vtex.set_feed_config(feed_config(visibility_timeout_s, retention_days))
        return vtex.feed_config() or "configured"
    if action == "show":
        found = vtex.hook_config() if what == "hook" else vtex.feed_config()
        return found if found is not None else f"no {what} configured"
    if action == "delete":
        (vtex.delete_hook_config if what == "hook" else vtex.delete_feed_config)()
        return f"{what} deleted"
    raise ValueError(f"unknown command {what} {action}")
