"""Cloud calls relayed to OpenRouter over one pooled HTTP/1.1 client, reading only what Hermes needs.

The client is aiohttp's, not httpx's: on this path it costs 0.2-0.3 ms a call
where httpx costs 1.4 ms alone and 2.5 ms at 16 concurrent calls (measured
against an nginx mock on loopback, docs/benchmarks.md), and LiteLLM already
depends on it.

OpenRouter speaks OpenAI's wire format, so a cloud call needs no
translation: the client's parameters go out as they came, and every chunk
comes back with every field the upstream sent (reasoning, logprobs, refusal,
annotations, provider fields). Hermes reads only the id, each choice's
finish_reason and the usage, and sets "model" to the name the client asked
for. LiteLLM keeps what it is good at: local models (upstream.py), the price
table and token counting. Failures are mapped to Hermes's errors here, as
upstream.py maps LiteLLM's, with the same messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Self, TypeVar

import aiohttp

from proxy.chat import ChatRequest
from proxy.errors import (
    BadRequest,
    HermesError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    bad_response,
    incomplete,
    snippet,
)
from proxy.upstreams.target import Target, prepend
from proxy.wire.json_codec import dumps

# One pool for the whole process: a new TLS connection to OpenRouter costs a
# round trip or three, a pooled one nothing. Up to 256 at once; idle ones are
# kept for 60 s.
MAX_CONNECTIONS = 256
KEEPALIVE_S = 60.0
# Transport failures: a refused or reset connection, a body cut before its end.
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError)
HEADERS = {
    "content-type": "application/json",
    # A compressor would hold SSE events until its block fills; answers are small.
    "accept-encoding": "identity",
    "x-title": "Hermes",  # OpenRouter's app attribution
}
# After `data: [DONE]` the body should end at once; reading to its end returns the
# connection to the pool. An upstream that lingers is cut off after this long.
DRAIN_TIMEOUT_S = 1.0
_TAGS = re.compile(r"<[^>]*>")
T = TypeVar("T")


class Relay:
    """The cloud's client, with `complete` and `stream` as in upstream.py; made and closed in the app's lifespan."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S)
        # No cookies, no proxies from the environment, bodies as they come (no decompression).
        self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                              auto_decompress=False, trust_env=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use the Relay as `async with Relay() as relay`"
        return self._session

    async def complete(self, target: Target, chat: ChatRequest) -> dict[str, Any]:
        """One non-streamed answer: the upstream's `chat.completion`, whole, with "model" set to Hermes's name."""
        try:
            async with asyncio.timeout(target.timeout_s):
                async with self._post(target, chat, stream=False) as response:
                    body = await response.read()
        except (*TRANSPORT_ERRORS, TimeoutError) as exc:
            raise transport_error(exc, target) from exc
        if response.status >= 400:
            raise status_error(response.status, body, response.headers, target)
        return _answer(body, target)

    async def stream(self, target: Target, chat: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        """The upstream's `chat.completion.chunk`s as it sends them, each one whole.

        As upstream.stream: the first chunk is awaited before this returns (within
        the target's timeout, counted from the call), so an upstream that fails at
        once gets the client a proper HTTP error. Later failures (a cut, a line
        that is not JSON, a silence longer than the timeout, an end without a
        finish_reason) are raised by the iterator; OpenRouter's keep-alive
        comments are not silence, so a model may think for as long as OpenRouter
        says it is processing. Chunks with neither choices
        nor usage carry nothing and are skipped; each chunk gets the stream's id
        (the upstream's generation id, which its cost can be looked up by).
        """
        deadline = asyncio.get_running_loop().time() + target.timeout_s
        response = await opened(self._post(target, chat, stream=True), target, deadline)
        return await first_awaited(_chunks(response, target), deadline, target)

    def _post(self, target: Target, chat: ChatRequest, stream: bool) -> Any:
        """The POST, as aiohttp's request context (await it, or use it with `async with`)."""
        body: dict[str, Any] = {"model": openrouter_id(target), "messages": chat.messages, **chat.params}
        if stream:
            # Always ask for usage: Hermes records it even when the client did not ask.
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        headers = dict(HEADERS)
        if target.api_key is not None:
            headers["authorization"] = f"Bearer {target.api_key.reveal()}"
        # sock_read bounds each silence, not the whole answer: a model may stream for minutes.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=target.timeout_s, sock_read=target.timeout_s)
        return self.session.post(f"{target.api_base}/chat/completions", headers=headers, timeout=timeout,
                                 data=dumps(body))


async def opened(post: Awaitable[aiohttp.ClientResponse], target: Target, deadline: float) -> aiohttp.ClientResponse:
    """A streamed POST's response, its status in by `deadline`; an error status raised in the upstream's words."""
    try:
        async with asyncio.timeout_at(deadline):
            response = await post
            if response.status >= 400:
                try:
                    body = await response.read()
                finally:
                    response.close()
                raise status_error(response.status, body, response.headers, target)
    except (*TRANSPORT_ERRORS, TimeoutError) as exc:
        raise transport_error(exc, target) from exc
    return response


async def first_awaited(items: AsyncIterator[T], deadline: float, target: Target) -> AsyncIterator[T]:
    """`items`, its first one awaited by `deadline` (the loop's clock): a stream that fails at once fails here,
    before the client has a status line, and gets a proper HTTP error."""
    try:
        async with asyncio.timeout_at(deadline):
            first = await anext(items)
    except TimeoutError as exc:
        await items.aclose()  # type: ignore[attr-defined]
        raise transport_error(exc, target) from exc
    except BaseException:
        await items.aclose()  # type: ignore[attr-defined]
        raise
    return prepend(first, items)


def openrouter_id(target: Target) -> str:
    """The model's name on OpenRouter: its LiteLLM name without LiteLLM's provider prefix."""
    return target.model.litellm_model.removeprefix("openrouter/")


async def _chunks(response: aiohttp.ClientResponse, target: Target) -> AsyncIterator[dict[str, Any]]:
    name = target.model.name
    stream_id: str | None = None
    finished = drained = False
    events = sse_data(response, target)
    try:
        async for data in events:
            if data == "[DONE]":
                drained = await drain(events)
                break
            chunk = _chunk(data, target)
            choices = chunk["choices"]
            if not choices and chunk.get("usage") is None:
                continue  # nothing in it for anyone
            if any(choice.get("finish_reason") for choice in choices):
                finished = True
            stream_id = stream_id or chunk.get("id") or f"chatcmpl-{uuid.uuid4().hex}"
            chunk["id"] = stream_id
            chunk["model"] = name
            yield chunk
    except TimeoutError as exc:
        raise transport_error(exc, target) from exc
    except TRANSPORT_ERRORS as exc:  # a reset, or a body cut before its end
        raise incomplete(f"{name} closed the connection mid-answer") from exc
    finally:
        if drained:
            response.release()  # read to its end: the connection goes back to the pool
        else:
            response.close()  # mid-answer: nobody can read this connection's rest
    if not finished:
        raise incomplete(f"{name} ended its stream")


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The body's lines as they arrive, however long (aiohttp's own line reader stops at 64 KiB)."""
    pending = b""
    async for block in response.content.iter_any():
        pending += block
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.removesuffix(b"\r").decode(errors="replace")
    if pending:
        yield pending.removesuffix(b"\r").decode(errors="replace")


async def sse_data(response: aiohttp.ClientResponse, target: Target) -> AsyncIterator[str]:
    """The data of each server-sent event; comments (OpenRouter's keep-alive) and other fields skipped."""
    lines = 0
    data: list[str] = []
    async for line in _lines(response):
        if not line:  # a blank line ends an event
            if data:
                yield "\n".join(data)
                data = []
            continue
        lines += 1
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif not line.startswith(":") and line.partition(":")[0] not in ("event", "id", "retry"):
            what = "sent a line that is not part of an event stream" if lines > 1 else \
                "answered with something other than an event stream"
            raise bad_response(f'{target.model.name} {what} (it begins "{snippet(line)}").')
    if data:
        yield "\n".join(data)
    if lines == 0:
        raise bad_response(f"{target.model.name} answered with an empty body: there is no answer in it.")


async def drain(events: AsyncIterator[str]) -> bool:
    """Read the body to its end, so its connection can go back to the pool; whether it ended in time."""
    with contextlib.suppress(TimeoutError, *TRANSPORT_ERRORS, HermesError):
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            async for _ in events:
                pass
            return True
    return False


def _chunk(data: str, target: Target) -> dict[str, Any]:
    """One event's JSON as a chunk, checked only as far as Hermes reads it."""
    name = target.model.name
    try:
        chunk = json.loads(data)
    except ValueError:
        raise bad_response(f"{name} sent a stream line that is not JSON ({snippet(data)}); "
                           "the answer cannot be trusted.") from None
    if not isinstance(chunk, dict):
        raise bad_response(f"{name} sent a stream chunk that is not an OpenAI chunk ({snippet(data)}).")
    if chunk.get("error") is not None:  # OpenRouter's way to fail after the 200
        raise UpstreamError(f"{name} failed mid-answer: {_error_message(chunk['error'])}")
    choices = chunk.setdefault("choices", [])
    if choices is None:
        choices = chunk["choices"] = []
    if not isinstance(choices, list) or not all(isinstance(c, dict) and isinstance(c.get("delta"), dict)
                                                for c in choices):
        raise bad_response(f"{name} sent a stream chunk that is not an OpenAI chunk (a choice without a delta).")
    _check_usage(chunk.get("usage"), target)
    chunk.setdefault("object", "chat.completion.chunk")
    chunk.setdefault("created", int(time.time()))
    return chunk


def _answer(body: bytes, target: Target) -> dict[str, Any]:
    """A non-streamed body as the answer, checked only as far as Hermes reads it."""
    name = target.model.name
    try:
        answer = json.loads(body)
    except ValueError:
        raise bad_response(f"{name} answered with a body that is not JSON{_begins(body)}.") from None
    if isinstance(answer, dict) and answer.get("error") is not None and not answer.get("choices"):
        error = answer["error"]
        status = error.get("code") if isinstance(error, dict) else None
        raise status_error(status if isinstance(status, int) and status >= 400 else 502, body, {}, target)
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict) \
            or not isinstance(choices[0].get("message"), dict):
        raise bad_response(f"{name} answered with something other than a chat completion "
                           "(no choices, or a choice without a message).")
    _check_usage(answer.get("usage"), target)
    answer["model"] = name
    if "id" not in answer:  # not setdefault: a uuid4 each call, for the rare answer without one
        answer["id"] = f"chatcmpl-{uuid.uuid4().hex}"
    answer.setdefault("object", "chat.completion")
    answer.setdefault("created", int(time.time()))
    answer.setdefault("usage", None)  # unknown: the call is charged at its reservation
    return answer


def _check_usage(usage: Any, target: Target) -> None:
    """The usage's token counts must be counts: the ledger is settled with them."""
    if usage is None:
        return
    counts = [usage.get(key, 0) for key in ("prompt_tokens", "completion_tokens")] if isinstance(usage, dict) else [None]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        raise bad_response(f"{target.model.name} sent a usage that is not token counts ({snippet(json.dumps(usage))}).")


def transport_error(exc: BaseException, target: Target) -> HermesError:
    """The Hermes error for a call that got no HTTP answer (cf. httpx's map_httpcore_exceptions)."""
    name = target.model.name
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"{name} did not answer within {target.timeout_s:g}s (timeout_s in routing_rules.yaml).")
    return UpstreamError(f"Could not get an answer from {name} at {target.api_base}: {snippet(str(exc) or type(exc).__name__)}")


def status_error(status: int, body: bytes, headers: Any, target: Target) -> HermesError:
    """The Hermes error for an HTTP error status, in the upstream's own words."""
    name, detail = target.model.name, _error_detail(body)
    if status == 429:
        return _retry_later(UpstreamRateLimited, f"{name} is rate-limiting Hermes (HTTP 429): {detail}", headers)
    if status == 503:
        return _retry_later(UpstreamUnavailable, f"{name} is unavailable for now (HTTP 503): {detail}", headers)
    if status in (408, 504, 524):  # the upstream's own timeout, or its gateway's
        return UpstreamTimeout(f"{name} timed out upstream (HTTP {status}): {detail}")
    if status in (400, 413, 422):
        if "context" in detail.lower():
            return BadRequest(f"The conversation is too long for {name}: {detail}", code="context_length_exceeded")
        return BadRequest(f"{name} rejected the request: {detail}", code="upstream_bad_request")
    if status == 401:
        error = UpstreamError(f"{name} refused Hermes's API key; check OPENROUTER_API_KEY. ({detail})")
    elif status == 402:
        error = UpstreamError(f"{name} cannot be paid for: OpenRouter says the account is out of credits "
                              f"(HTTP 402): {detail}")
    elif status == 404:
        error = UpstreamError(f"{name} is not available at {target.api_base}: {detail}", code="model_unavailable")
    else:
        error = UpstreamError(f"{name} failed (HTTP {status}): {detail}")
    error.retry = status >= 500  # a 4xx will say the same again
    return error


def _error_detail(body: bytes) -> str:
    """The upstream's message from OpenAI's error shape, or the body's text."""
    text = body.decode(errors="replace")
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        error = None
    if error is not None:
        return snippet(_error_message(error), 300)
    return snippet(_TAGS.sub(" ", text), 300) or "no details"


def _error_message(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else None
    return str(message if message is not None else error)


def _retry_later(kind: type[UpstreamError], message: str, headers: Any) -> UpstreamError:
    value = str(headers.get("retry-after") or "").strip()
    error = kind(f"{message} (Retry-After: {value})" if value else message)
    error.retry_after = value or None
    return error


def _begins(body: bytes) -> str:
    text = body.decode(errors="replace").strip()
    return f' (it begins "{snippet(text)}")' if text else " (an empty body)"
