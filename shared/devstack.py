"""Start the real parts on one machine: a private redis-server, the receiver under gunicorn and
Celery workers, each a child process with its own log file.

The demo, the integration tests and the benchmarks all start their stack with this module.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

REDIS_INSTALL_HINT = "redis-server not found: install it with 'apt-get install redis-server' (or 'brew install redis')"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds.

    :raises TimeoutError: naming ``what`` when it does not hold within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def broker_idle(broker_url: str, queues: list[str]) -> bool:
    """No message waiting in ``queues`` and none reserved or counting down.

    On Redis that is the queues' lists and kombu's ``unacked`` hash; on RabbitMQ every queue of
    the vhost (the delayed-delivery queues hold countdowns), ready and unacknowledged.
    """
    if broker_url.startswith("amqp"):
        vhost = broker_url.rsplit("/", 1)[1] or "/"
        listing = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
                                 capture_output=True, text=True, check=True, timeout=30).stdout
        return sum(int(line.split()[-1]) for line in listing.splitlines()[1:] if line.split()) == 0
    client = redis.Redis.from_url(broker_url, socket_timeout=2)
    return sum(client.llen(q) for q in queues) + client.hlen("unacked") == 0


@dataclass
class RabbitVhost:
    """A throwaway vhost on the local RabbitMQ, so that a test run sees only its own queues."""

    name: str = field(default_factory=lambda: "vtexct-test-" + os.urandom(4).hex())

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:5672/{self.name}"

    def create(self) -> RabbitVhost:
        for argv in (["add_vhost", self.name], ["set_permissions", "-p", self.name, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", "-q", *argv], check=True, capture_output=True, timeout=60)
        return self

    def delete(self) -> None:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.name], capture_output=True, timeout=60)


@dataclass
class Child:
    """A child process whose output goes to ``log_path``."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Send ``sig`` to the process group, then SIGKILL whatever is left after ``timeout``."""
        if self.alive():
            _signal_group(self.process, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL the whole group at once: parent and children, as a crashed host would."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(10)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Child(name, process, log_path)


@dataclass
class RedisServer:
    """A throwaway ``redis-server`` on a free port, persisting nothing unless ``appendonly``."""

    directory: Path
    port: int = field(default_factory=free_port)
    appendonly: bool = False
    child: Child | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = self.binary()
        if binary is None:
            raise FileNotFoundError(REDIS_INSTALL_HINT)
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.directory),
                "--maxmemory-policy", "noeviction", "--appendonly", "yes" if self.appendonly else "no"]
        if self.appendonly:
            argv += ["--appendfsync", "everysec"]
        self.child = spawn(f"redis-{self.port}", argv, dict(os.environ), self.directory)
        wait_until(lambda: redis_answers(self.url()), timeout, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.child:
            self.child.stop(timeout=10)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def start_receiver(env: dict[str, str], log_dir: Path, *, port: int | None = None, workers: int = 2,
                   threads: int = 4, timeout: float = 30.0) -> tuple[Child, str]:
    """Run ``receiver.wsgi:application`` under gunicorn and wait for ``/healthz``.

    :returns: the child and the receiver's base URL.
    """
    port = port or free_port()
    child = spawn("receiver", python_module("gunicorn", *gunicorn_args(f"127.0.0.1:{port}", workers, threads)),
                  env, log_dir)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if not child.alive():
            raise RuntimeError(f"receiver exited:\n{child.log_tail()}")
        try:
            return requests.get(url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(healthy, timeout, "the receiver's /healthz")
    return child, url


def gunicorn_args(bind: str, workers: int, threads: int, access_log: bool = False) -> list[str]:
    """gunicorn's command line for the receiver; ``vtexct receiver`` uses the same.

    The access log is off by default: the receiver logs every notification itself, with the
    account, order and outcome, and a second line per hook is CPU spent twice.
    """
    return ["receiver.wsgi:application", "--bind", bind, "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads),
            # VTEX gives up after 5 s; a request stuck longer is better cut off than held.
            "--timeout", "30", "--graceful-timeout", "20", "--keep-alive", "5",
            "--error-logfile", "-", *(["--access-logfile", "-"] if access_log else [])]


def start_worker(env: dict[str, str], log_dir: Path, *, queues: str, name: str, concurrency: int = 2,
                 pool: str = "prefork", timeout: float = 60.0) -> Child:
    """Run ``celery -A workers worker`` on ``queues`` and wait until it answers a ping."""
    argv = python_module("celery", "-A", "workers", "worker", "-Q", queues, "-n", f"{name}@%h",
                         "-c", str(concurrency), "-P", pool, "--loglevel", "INFO",
                         "--without-gossip", "--without-mingle", "-E")
    child = spawn(name, argv, env, log_dir)
    broker = env["VTEXCT_BROKER_URL"]

    from celery import Celery

    probe = Celery("vtexct-probe", broker=broker, set_as_current=False)

    def ready() -> bool:
        if not child.alive():
            raise RuntimeError(f"worker {name} exited:\n{child.log_tail()}")
        replies = probe.control.ping(timeout=0.5) or []
        return any(name in reply_name for reply in replies for reply_name in reply)

    try:
        wait_until(ready, timeout, f"worker {name} to answer a ping", interval=0.2)
    finally:
        probe.close()
    return child
