"""Who is asking: the HERMES_API_KEY operator, a team key (keys.py), or, where nothing is required, anyone."""

from __future__ import annotations

import hmac
import time
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.config import Config
from proxy.edge.front_doors import dialect_for
from proxy.errors import HermesError, Unauthorized
from proxy.money.keys import KEY_PREFIX, ApiKey, key_sha256

# How long "is any team key in use?" is believed for requests that carry none: a key
# made by the CLI is enforced within this. A key presented is always looked up.
IN_USE_TTL_S = 2.0


class KeyAuth:
    """ASGI middleware: 401 for a request without a key it needs; the team key found in `scope["state"]`.

    A browser cannot send the Authorization header for a page it opens, so
    the dashboard's page is public and its script sends the key it finds in
    the URL fragment (`/dashboard#key=...`), which never leaves the browser.
    """

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.operator_key = config.api_key.reveal().encode() if config.api_key else None
        self._in_use: tuple[float, bool] = (0.0, False)  # (when checked, whether any team key was in use)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _public(scope["path"]):
            try:
                refusal = await self._refusal(scope)
            except HermesError as exc:  # the database is unavailable: a 503 saying so
                refusal = exc
            if refusal is not None:
                await dialect_for(scope["path"]).error_response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope) -> HermesError | None:
        token = presented_key(scope)
        if self.operator_key is not None and hmac.compare_digest(token.encode("latin-1"), self.operator_key):
            return None
        models = scope["path"].startswith(("/v1/", "/v1beta/"))
        if models and token.startswith(KEY_PREFIX):
            found = await scope["app"].state.services.store.find_key(key_sha256(token))
            if found is not None:
                scope.setdefault("state", {})["hermes_key"] = ApiKey(**found)
                return None
            return Unauthorized("This key is not one of this Hermes's keys, or it was revoked "
                                "(`hermes keys list` shows them).", code="invalid_api_key")
        if self.operator_key is not None:
            return Unauthorized("Missing or wrong API key: send Authorization: Bearer $HERMES_API_KEY (or, as "
                                "Anthropic's and Gemini's clients do, x-api-key or x-goog-api-key).")
        if models and await self._keys_in_use(scope):
            return Unauthorized("This Hermes gives each user a key: send Authorization: Bearer <your key> "
                                "(made with `hermes keys create --name NAME`).", code="missing_api_key")
        return None

    async def _keys_in_use(self, scope: Scope) -> bool:
        checked, in_use = self._in_use
        if time.monotonic() - checked > IN_USE_TTL_S:
            in_use = await scope["app"].state.services.store.keys_in_use() > 0
            self._in_use = (time.monotonic(), in_use)
        return in_use


def presented_key(scope: Scope) -> str:
    """The key a request carries, in whichever dialect's way: `Authorization: Bearer` (OpenAI, and Anthropic's
    ANTHROPIC_AUTH_TOKEN), `x-api-key` (Anthropic), `x-goog-api-key` or `?key=` (Gemini); "" for none."""
    headers = dict(scope["headers"])
    given = headers.get(b"authorization", b"")
    if given[:7].lower() == b"bearer ":
        return given[7:].decode("latin-1").strip()
    for name in (b"x-api-key", b"x-goog-api-key"):
        if headers.get(name):
            return headers[name].decode("latin-1").strip()
    for pair in scope.get("query_string", b"").split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"key" and value:
            return unquote_to_bytes(value).decode("latin-1").strip()
    return ""


def _public(path: str) -> bool:
    """Paths that carry no data: liveness, `/` (a redirect), and the dashboard's page and files (its data stays
    behind the key)."""
    return path in ("/", "/health", "/dashboard") or path.startswith("/dashboard/")
