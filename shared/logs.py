"""Logging with per-task context (account, order, task id, idempotency key), as text or JSON lines."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_context: ContextVar[dict[str, Any]] = ContextVar("vtexct_log_context", default={})
_CONTEXT_ORDER = ("account", "order_id", "state", "run_id", "task", "task_id", "key", "outcome")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# E.164 as VTEX stores it (+5561992227222), the same written with spaces, dots or dashes
# (+55 11 99999-8888), and the national "(11) 99999-8888". Only forms that start with "+" or
# "(": a bare run of digits and dashes is as likely a date or an order id.
_PHONE_RE = re.compile(r"\+\d(?:[\s.()-]?\d){7,14}\b|\(\d{2,3}\)\s?\d{4,5}[\s.-]?\d{4}\b")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def mask_email(value: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``: enough to tell customers apart in a log."""
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


def mask_pii(text: str) -> str:
    """Mask e-mail addresses and phone numbers anywhere in ``text``."""
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE_RE.sub(lambda m: m.group(0)[:3] + "***" + m.group(0)[-2:], text)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = _context.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and ``extra`` fields."""

    _RESERVED = set(vars(logging.makeLogRecord({}))) | {"ctx", "message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, "ctx", {}),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Personal data never reaches the log, whichever field carried it.
        return mask_pii(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    """``time level logger [account=.. order_id=..] message`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(ctxtext)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ctx = getattr(record, "ctx", {})
        parts = [f"{k}={ctx[k]}" for k in _CONTEXT_ORDER if k in ctx]
        record.ctxtext = f"[{' '.join(parts)}] " if parts else ""
        return mask_pii(super().format(record))


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Send the root logger to stderr in ``fmt`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
