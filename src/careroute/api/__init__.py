"""The JSON API (FastAPI; OpenAPI at /docs)."""

from careroute.api.app import create_app

__all__ = ["create_app"]
