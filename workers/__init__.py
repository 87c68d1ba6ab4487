"""Celery workers: ``celery -A workers worker`` finds :data:`app` here."""

from workers.app import app

__all__ = ["app"]
