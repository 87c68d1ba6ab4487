"""The WSGI receiver: checks VTEX's order notifications and enqueues them, nothing more."""

from receiver.app import create_app

__all__ = ["create_app"]
