"""The live dashboard: one page, no build step, no internet."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
