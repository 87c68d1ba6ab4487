"""``vtexct``: run the receiver, a worker, the sandbox or the demo, and inspect the configuration."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from shared.settings import ConfigError, load_settings


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
    if args.account and args.account not in settings.accounts:
        raise ConfigError(f"account {args.account!r} is not configured")
    state, publisher = _state_and_publisher(settings)
    data = collect(settings, state, publisher, args.account)
    print(json.dumps(data, indent=2, default=str) if args.json else render(data))
    return 0


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
    worker.add_argument("-c", "--concurrency", type=int, default=4)
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
    status.set_defaults(func=_status)

    flower = commands.add_parser("flower", help="Flower with basic auth, persistent state and task events")
    flower.add_argument("--address", default="0.0.0.0")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--db", default="flower.db", help="file of Flower's persistent state")
    flower.add_argument("--insecure", action="store_true", help="start without auth")
    flower.set_defaults(func=_flower)

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
