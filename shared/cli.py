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
    argv = ["gunicorn", *gunicorn_args(args.bind, args.workers, args.threads)]
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
    receiver.add_argument("--threads", type=int, default=8)
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
