"""Cloud calls in the client's own dialect: OpenRouter's `/messages` (Anthropic) and `/responses` (OpenAI Responses).

The body goes out as the client wrote it (the model and the output cap set
by Hermes) over the relay's pooled connection, and each event comes back
whole. The pipeline reads it through the shadows the request's `Native`
makes (chat.py), so the meter, the generation id, the session link and the
record work as for chat; the client gets the events themselves. Failures are
mapped as relay.py maps chat's, with the same messages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from proxy.chat import ChatRequest, Native
from proxy.errors import UpstreamError, bad_response, incomplete, snippet
from proxy.upstreams.relay import (
    HEADERS,
    TRANSPORT_ERRORS,
    Relay,
    drain,
    first_awaited,
    opened,
    openrouter_id,
    sse_data,
    status_error,
    transport_error,
)
from proxy.upstreams.target import Target
from proxy.wire.json_codec import dumps

# The events that end a stream whole; one that stops before any of them was cut.
FINAL_EVENTS = frozenset({"message_stop", "response.completed", "response.incomplete"})
# The events an upstream fails with after its 200.
ERROR_EVENTS = frozenset({"error", "response.failed"})


async def complete(relay: Relay, target: Target, chat: ChatRequest) -> dict[str, Any]:
    """One non-streamed answer in the client's dialect, as its `chat.completion` shadow."""
    assert chat.native is not None
    try:
        async with asyncio.timeout(target.timeout_s):
            async with _post(relay, target, chat, stream=False) as response:
                body = await response.read()
    except (*TRANSPORT_ERRORS, TimeoutError) as exc:
        raise transport_error(exc, target) from exc
    if response.status >= 400:
        raise status_error(response.status, body, response.headers, target)
    try:
        answer = json.loads(body)
    except ValueError:
        raise bad_response(f"{target.model.name} answered with a body that is not JSON.") from None
    if not isinstance(answer, dict) or answer.get("type") == "error" or answer.get("error"):
        raise bad_response(f"{target.model.name} answered with something other than an answer "
                           f"({snippet(body.decode(errors='replace'))}).")
    return chat.native.answer(answer)


async def stream(relay: Relay, target: Target, chat: ChatRequest) -> AsyncIterator[dict[str, Any]]:
    """The upstream's events as `chat.completion.chunk` shadows; the first is awaited before this returns."""
    assert chat.native is not None
    deadline = asyncio.get_running_loop().time() + target.timeout_s
    response = await opened(_post(relay, target, chat, stream=True), target, deadline)
    return await first_awaited(_shadows(response, target, chat.native), deadline, target)


def _post(relay: Relay, target: Target, chat: ChatRequest, stream: bool) -> Any:
    native: Native = chat.native  # type: ignore[assignment]
    body = native.body(openrouter_id(target), chat.max_tokens, stream)
    headers = HEADERS | native.headers
    if target.api_key is not None:
        headers["authorization"] = f"Bearer {target.api_key.reveal()}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=target.timeout_s, sock_read=target.timeout_s)
    return relay.session.post(f"{target.api_base}{native.path}", headers=headers, timeout=timeout,
                              data=dumps(body))


async def _shadows(response: aiohttp.ClientResponse, target: Target, native: Native
                   ) -> AsyncIterator[dict[str, Any]]:
    name = target.model.name
    shadow = native.shadows()
    finished = drained = False
    events = sse_data(response, target)
    try:
        async for data in events:
            if data == "[DONE]":
                continue
            event = _event(data, target)
            if event.get("type") in ERROR_EVENTS:
                detail = event.get("error") or (event.get("response") or {}).get("error") or event
                message = detail.get("message") if isinstance(detail, dict) else None
                raise UpstreamError(f"{name} failed mid-answer: {message or snippet(json.dumps(detail))}")
            yield shadow(event)
            if event.get("type") in FINAL_EVENTS:
                finished = True
                drained = await drain(events)
                break
    except TimeoutError as exc:
        raise transport_error(exc, target) from exc
    except TRANSPORT_ERRORS as exc:
        raise incomplete(f"{name} closed the connection mid-answer") from exc
    finally:
        if drained:
            response.release()
        else:
            response.close()
    if not finished:
        raise incomplete(f"{name} ended its stream")


def _event(data: str, target: Target) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise bad_response(f"{target.model.name} sent a stream line that is not JSON ({snippet(data)}); "
                           "the answer cannot be trusted.") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise bad_response(f"{target.model.name} sent an event without a type ({snippet(data)}).")
    return event
