"""Refuse what a web page could send: a foreign Origin or Host, or a body that is not JSON.

Any page open in the user's browser may POST to 127.0.0.1:8088 without a
CORS preflight when the body is text/plain, a form or multipart (a "simple"
request), and DNS rebinding makes a page's own name resolve to 127.0.0.1.
As Ollama does with OLLAMA_ORIGINS, Hermes checks Host, Origin and the
content type before any work, so such a request cannot spend the budget,
change a setting or read the dashboard's data.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.config import Config
from proxy.edge.front_doors import dialect_for
from proxy.errors import Forbidden, HermesError, UnsupportedMediaType

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Headers only a browser sends (Fetch Metadata); curl, SDKs and coding assistants send neither.
BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode")


class OriginGuard:
    """ASGI middleware: 403 for a foreign Host or Origin, 415 for a body that is not JSON.

    Allowed Hosts (any port): localhost, 127.0.0.1, [::1], the address the
    connection came in on, and the hosts of the origins in HERMES_ORIGINS.
    Allowed Origins: none at all (not a browser), Hermes's own (the
    dashboard), http(s) on a loopback host, and HERMES_ORIGINS (`*` for any).
    POST, PUT and PATCH bodies must be application/json (or +json); one with
    no Content-Type passes only from a client that is not a browser.
    """

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.any_origin = "*" in config.origins
        self.patterns = [_glob(origin) for origin in config.origins if origin != "*"]
        named = {_web_host(origin) for origin in config.origins if "*" not in origin}
        self.hosts = LOOPBACK_HOSTS | (named - {""})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # Hermes has no websocket routes; the lifespan passes straight through
            error = self.refusal(scope)
            if error is not None:
                await dialect_for(scope["path"]).error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> HermesError | None:
        """Why `scope` is refused, or None to let it through."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self._host_allowed(host, scope.get("server")):
            return Forbidden(
                f"Host {host!r} is not this server: Hermes answers to localhost, 127.0.0.1 and [::1] (this guards "
                "against DNS rebinding). Add the name to HERMES_ORIGINS (http://name:port) to allow it.",
                code="host_not_allowed")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin.lower(), f"{scope.get('scheme', 'http')}://{host}"):
            return Forbidden(
                f"Origin {origin!r} may not call Hermes: a web page from another site could spend your budget. "
                "Add it to HERMES_ORIGINS (comma-separated, * for any) to allow it.", code="origin_not_allowed")
        if scope["method"] in BODY_METHODS:
            return _media_refusal(headers)
        return None

    def _host_allowed(self, host: str, server: tuple[str, int | None] | None) -> bool:
        name = _host_name(host)
        if name is None:
            return False
        return name in self.hosts or (server is not None and name == server[0].lower())

    def _origin_allowed(self, origin: str, own: str) -> bool:
        if self.any_origin or origin == own.lower():
            return True
        if _web_host(origin) in LOOPBACK_HOSTS:
            return True
        return any(pattern.fullmatch(origin) for pattern in self.patterns)


def _media_refusal(headers: Headers) -> HermesError | None:
    content_type = headers.get("content-type")
    if content_type is None:
        if any(name in headers for name in BROWSER_HEADERS):
            return UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
        return None  # not a browser: curl --data-binary and raw HTTP clients may leave it out
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return None
    # text/plain, forms and multipart are what a page may send cross-origin without a preflight.
    return UnsupportedMediaType(
        f"Content-Type {media or content_type!r} is not accepted: send the body as JSON, with "
        "Content-Type: application/json (curl: -H 'Content-Type: application/json').")


def _host_name(host: str) -> str | None:
    """The name in a Host header ("[::1]:8088" -> "::1"), or None if it is malformed."""
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^\[\]:/@\s]+)(?::(\d{1,5}))?", host)
    if match is None:
        return None
    return match.group(1).strip("[]").lower()


def _web_host(origin: str) -> str:
    """The host of an http(s) origin ("http://[::1]:3000" -> "::1"), else ""."""
    scheme, _, rest = origin.partition("://")
    if scheme not in ("http", "https"):
        return ""
    return _host_name(rest) or ""


def _glob(origin: str) -> re.Pattern[str]:
    """A HERMES_ORIGINS entry as a pattern: `*` matches any run of characters but `/`."""
    return re.compile("[^/]*".join(re.escape(piece) for piece in origin.split("*")))
