"""``vtexct``: run the receiver, a worker, the sandbox or the demo; set up VTEX; backfill; inspect and operate."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from shared.settings import AccountSettings, ConfigError, Settings, load_settings


def _receiver(args: argparse.Namespace) -> int:
    from shared.devstack import gunicorn_args

    load_settings()  # fail here, naming the variable, rather than inside every gunicorn worker
    argv = ["gunicorn", *gunicorn_args(args.bind, args.workers, args.threads, args.access_log)]
    os.execvp(sys.executable, [sys.executable, "-m", *argv])
    return 0  # not reached


def _worker(args: argparse.Namespace) -> int:
    load_settings()
    argv = ["celery", "-A", "workers", "worker", "-Q", args.queues, "-c", str(args.concurrency), "-P", args.pool,
            "-E", "--loglevel", args.loglevel]
    os.execvp(sys.executable, [sys.executable, "-m", *argv])
    return 0  # not reached


def _sandbox(args: argparse.Namespace) -> int:
    from shared.sandbox import Sandbox, SandboxAccount

    try:
        settings = load_settings()
        accounts = [SandboxAccount(a.name, a.vtex_app_key, a.vtex_app_token.get_secret_value(),
                                   a.clevertap_account_id, a.clevertap_passcode.get_secret_value())
                    for a in settings.accounts.values()]
    except ConfigError as exc:
        print(f"vtexct sandbox needs the account's credentials to check them:\n{exc}", file=sys.stderr)
        return 2
    sandbox = Sandbox(accounts, host=args.host, port=args.port)
    print(json.dumps({"url": sandbox.url, "VTEXCT_VTEX_BASE_URL": sandbox.vtex_base_url,
                      "VTEXCT_CLEVERTAP_BASE_URL": sandbox.clevertap_base_url}), flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _demo(args: argparse.Namespace) -> int:
    from shared.demo import run_demo

    return run_demo(keep_logs=args.keep_logs)


def _catalog_sync(args: argparse.Namespace) -> int:
    from shared.catalog.watch import catalog_sync

    return catalog_sync(load_settings(), args.account, wait=args.wait, replace=args.replace)


def _state_and_publisher(settings):  # noqa: ANN001, ANN202 - small local factory
    import redis

    from shared.publisher import CeleryPublisher

    return redis.Redis.from_url(settings.redis_url, decode_responses=True), CeleryPublisher(settings)


def _failed(args: argparse.Namespace) -> int:
    from shared.failures import FailureStore
    from shared.ops.failed import Filters, parse_duration, run_command

    settings = load_settings()
    state, publisher = _state_and_publisher(settings)
    try:
        filters = Filters(account=args.account, task=args.task, reason=args.reason,
                          older_than=parse_duration(args.older_than) if args.older_than else None,
                          newer_than=parse_duration(args.newer_than) if args.newer_than else None)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_command(FailureStore(state), publisher, args.action, args.ids, filters, all_=args.all,
                       as_json=args.json)


def _status(args: argparse.Namespace) -> int:
    from shared.ops.status import collect, render

    settings = load_settings()
    _selected(settings, args.account)  # refuses an account that is not configured
    state, publisher = _state_and_publisher(settings)
    data = collect(settings, state, publisher, args.account, check_vtex=not args.skip_vtex)
    print(json.dumps(data, indent=2, default=str) if args.json else render(data))
    return 0


def _selected(settings: Settings, account: str | None) -> list[AccountSettings]:
    """The one account asked for, or every account when none was."""
    if account is None:
        return list(settings.accounts.values())
    if account not in settings.accounts:
        raise ConfigError(f"account {account!r} is not configured")
    return [settings.accounts[account]]


def _notifications(args: argparse.Namespace) -> int:
    from shared.clients.http import make_session
    from shared.clients.vtex import VtexClient
    from shared.ops.notifications import run_command
    from shared.redaction import redactor

    settings = load_settings()
    if args.command == "hook" and args.action == "register" and not args.url:
        raise ConfigError("vtexct hook register needs --url https://<receiver>/hooks/vtex/orders")
    session = make_session()
    try:
        return run_command(args.command, args.action, _selected(settings, args.account),
                           lambda account: VtexClient(account, settings.http_timeout, session), redactor(settings),
                           url=args.url, visibility_timeout_s=args.visibility_timeout,
                           retention_days=args.retention_days)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _backfill(args: argparse.Namespace) -> int:
    from shared.ops.backfill import backfill_command

    return backfill_command(load_settings(), args.account, args.since, args.until, args.states,
                            dry_run=args.dry_run, restart=args.restart, max_queue=args.max_queue)


def _flower(args: argparse.Namespace) -> int:
    settings = load_settings()
    env = dict(os.environ)
    if settings.flower_basic_auth is not None:
        # Through the environment, not argv: a command line is visible to every user in ps.
        env["FLOWER_BASIC_AUTH"] = settings.flower_basic_auth.get_secret_value()
    elif not args.insecure:
        print("refusing to start Flower without auth: set VTEXCT_FLOWER_BASIC_AUTH=user:password "
              "(or pass --insecure on a trusted network)", file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "celery", "-A", "workers", "flower", f"--address={args.address}",
            f"--port={args.port}", "--persistent=True", f"--db={args.db}", "--state_save_interval=60000",
            "--max_tasks=100000", "--purge_offline_workers=3600"]
    os.execvpe(sys.executable, argv, env)
    return 0  # not reached


def _config(args: argparse.Namespace) -> int:
    settings = load_settings()
    # mode="json" renders SecretStr as "**********": the command is safe to paste into a ticket.
    print(json.dumps(settings.model_dump(mode="json"), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vtexct", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    receiver = commands.add_parser("receiver", help="serve the WSGI receiver under gunicorn")
    receiver.add_argument("--bind", default="0.0.0.0:8000")
    receiver.add_argument("--workers", type=int, default=2)
    # Measured with bench/receiver.py: 4 threads per process beat 8 and 16 (less GIL contention).
    receiver.add_argument("--threads", type=int, default=4)
    receiver.add_argument("--access-log", action="store_true", help="also write gunicorn's access log")
    receiver.set_defaults(func=_receiver)

    worker = commands.add_parser("worker", help="run a Celery worker (same as celery -A workers worker)")
    worker.add_argument("-Q", "--queues", default="orders,profiles,clevertap")
    # Measured with bench/orders_e2e.py on 2 cores: 16 processes beat 8 and 24 (see the README's Pool choice).
    worker.add_argument("-c", "--concurrency", type=int, default=16)
    worker.add_argument("-P", "--pool", default="prefork")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=_worker)

    sandbox = commands.add_parser("sandbox", help="serve the VTEX/CleverTap/S3 simulator")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8900)
    sandbox.set_defaults(func=_sandbox)

    demo = commands.add_parser("demo", help="run the whole system against the sandbox and check the result")
    demo.add_argument("--keep-logs", action="store_true", help="keep the processes' logs in .demo/")
    demo.set_defaults(func=_demo)

    sync = commands.add_parser("catalog-sync", help="start a catalog sync (every account with sync on, or one)")
    sync.add_argument("--account", help="only this account")
    sync.add_argument("--wait", action="store_true", help="show progress, print the report, fail if the run failed")
    sync.add_argument("--no-replace", dest="replace", action="store_false",
                      help="create the catalog instead of replacing it")
    sync.set_defaults(func=_catalog_sync)

    failed = commands.add_parser("failed", help="list, show, requeue or purge failed tasks")
    failed.add_argument("action", choices=["list", "show", "requeue", "purge"])
    failed.add_argument("ids", nargs="*", help="failure ids (show, requeue, purge)")
    failed.add_argument("--all", action="store_true", help="requeue or purge every entry the filters select")
    failed.add_argument("--account")
    failed.add_argument("--task", help="e.g. clevertap.upload_event")
    failed.add_argument("--reason", help="e.g. customer_not_found, clevertap_record_rejected")
    failed.add_argument("--older-than", help="last failure at least this old: 90s, 15m, 2h, 3d")
    failed.add_argument("--newer-than", help="last failure at most this old")
    failed.add_argument("--json", action="store_true")
    failed.set_defaults(func=_failed)

    status = commands.add_parser("status", help="queues, failures, last catalog sync and deliveries per account")
    status.add_argument("--account")
    status.add_argument("--json", action="store_true")
    status.add_argument("--skip-vtex", action="store_true", help="do not ask VTEX whether each hook is in place")
    status.set_defaults(func=_status)

    flower = commands.add_parser("flower", help="Flower with basic auth, persistent state and task events")
    flower.add_argument("--address", default="0.0.0.0")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--db", default="flower.db", help="file of Flower's persistent state")
    flower.add_argument("--insecure", action="store_true", help="start without auth")
    flower.set_defaults(func=_flower)

    for what, actions, help_ in (("hook", ["register", "show", "delete"], "the VTEX Orders hook that pushes to the receiver"),
                                 ("feed", ["configure", "show", "delete"], "the VTEX Orders Feed v3 of the safety net")):
        sub = commands.add_parser(what, help=help_)
        sub.add_argument("action", choices=actions)
        sub.add_argument("--account", help="only this account (default: every account)")
        sub.add_argument("--url", help="hook register: the receiver's https://…/hooks/vtex/orders")
        sub.add_argument("--visibility-timeout", type=int, default=240,
                         help="feed configure: seconds a read item stays hidden before it comes back")
        sub.add_argument("--retention-days", type=int, default=4, help="feed configure: 4 to 14")
        sub.set_defaults(func=_notifications)

    backfill = commands.add_parser("backfill", help="send the events of past orders, resumably")
    backfill.add_argument("--account", required=True)
    backfill.add_argument("--since", required=True, help="2026-01-01 or an ISO-8601 instant (creation date)")
    backfill.add_argument("--until", help="default: now; an open range resumes up to the new now")
    backfill.add_argument("--states", help="payment-approved,canceled (the default: both)")
    backfill.add_argument("--dry-run", action="store_true", help="list and count, send nothing")
    backfill.add_argument("--restart", action="store_true", help="forget where the same backfill stopped")
    backfill.add_argument("--max-queue", type=int, default=1000,
                          help="pause while the orders queue holds more than this (0: never pause)")
    backfill.set_defaults(func=_backfill)

    config = commands.add_parser("config", help="validate the configuration and print it, secrets masked")
    config.set_defaults(func=_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
