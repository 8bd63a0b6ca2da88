"""/metrics in Prometheus's text format."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
