"""Each token's log-probability from a local model, which LiteLLM's Ollama backend neither asks for nor keeps.

LiteLLM still turns the request into Ollama's and Ollama's stream back into
OpenAI chunks (provider formats are its job). This module only listens in on
the wire: a transport under the HTTP client LiteLLM is handed for one call
adds `"logprobs": true` and `top_logprobs` to the body sent to `/api/chat`,
and copies the `logprobs` entries of each line Ollama answers with into a
`TokenLogprobs` the caller holds. An Ollama older than 0.12.11 ignores the
field and sends none: the list stays empty, and the scorer's confidence
signal says there was nothing to read.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

# Enough alternatives for the entropy of each step's choice; Ollama allows 20.
TOP_LOGPROBS = 5
ASKING_PATHS = ("/api/chat", "/api/generate")


@dataclass
class TokenLogprobs:
    """Ollama's `logprobs` entries of one answer, in order: {"token", "logprob", "top_logprobs": [...]}."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def read(self, line: bytes) -> None:
        """Keep the entries of one NDJSON line (or a whole non-streamed body); anything else is not ours to judge."""
        if b'"logprobs"' not in line:
            return
        try:
            body = json.loads(line)
        except ValueError:
            return  # LiteLLM reports a line that is not JSON; here it only has no entries
        found = body.get("logprobs") if isinstance(body, dict) else None
        if isinstance(found, list):
            self.entries.extend(entry for entry in found
                                if isinstance(entry, dict) and isinstance(entry.get("logprob"), int | float))


def http_handler(into: TokenLogprobs) -> AsyncHTTPHandler:
    """A LiteLLM HTTP client for one call whose log-probabilities go `into`.

    One per call, so that no state is shared between requests; it keeps no
    connection alive, so nothing is left open once the answer has been read.
    """
    return _Handler(into)


class _Handler(AsyncHTTPHandler):
    def __init__(self, into: TokenLogprobs) -> None:
        self._into = into
        super().__init__()

    def create_client(self, **_: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=_Tap(self._into), timeout=None)


class _Tap(httpx.AsyncBaseTransport):
    def __init__(self, into: TokenLogprobs) -> None:
        self._into = into
        self._inner = httpx.AsyncHTTPTransport(verify=_tls(), limits=httpx.Limits(max_keepalive_connections=0))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(ASKING_PATHS):
            request = _asking(request)
        response = await self._inner.handle_async_request(request)
        if response.status_code != 200 or "content-encoding" in response.headers:
            return response
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=_Lines(response.stream, self._into),  # type: ignore[arg-type]
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS settings for an Ollama behind https, made once: making them takes 20 ms, a client a call."""
    return httpx.create_ssl_context()


def _asking(request: httpx.Request) -> httpx.Request:
    """`request` with its JSON body asking for log-probabilities (a body that is not a JSON object goes as it is)."""
    try:
        body = json.loads(request.content)
    except ValueError:
        return request
    if not isinstance(body, dict):
        return request
    content = json.dumps(body | {"logprobs": True, "top_logprobs": TOP_LOGPROBS}).encode()
    headers = [(key, value) for key, value in request.headers.raw if key.lower() != b"content-length"]
    return httpx.Request(request.method, request.url, headers=headers, content=content,
                         extensions=request.extensions)


class _Lines(httpx.AsyncByteStream):
    """The response's bytes, passed on untouched, each complete line also read for its entries."""

    def __init__(self, stream: httpx.AsyncByteStream, into: TokenLogprobs) -> None:
        self._stream = stream
        self._into = into

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = b""
        async for chunk in self._stream:
            yield chunk
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._into.read(line)
        if pending.strip():
            self._into.read(pending)

    async def aclose(self) -> None:
        await self._stream.aclose()
