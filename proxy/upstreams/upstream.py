"""Every model call: `Upstream` sends cloud targets to the relay (relay.py; native_relay.py for a request in its
own dialect), local ones through LiteLLM.

The functions here are Hermes's LiteLLM chat calls, for local models through
its Ollama backend, each under a timeout. They turn LiteLLM's response
objects into plain OpenAI wire dicts and its exceptions into Hermes's errors
(litellm_errors.py), so nothing above depends on LiteLLM's types. They also
refuse what LiteLLM would let pass as a success: a 200 that is not an answer,
and a stream that stops before its finish_reason (LiteLLM makes up a "stop").
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import litellm

from proxy.chat import ChatRequest
from proxy.errors import BadRequest, bad_response, snippet
from proxy.upstreams import native_relay
from proxy.upstreams.litellm_errors import incomplete_stream, stream_error, translate_error
from proxy.upstreams.ollama_logprobs import TokenLogprobs, http_handler
from proxy.upstreams.stream_guard import StreamGuard
from proxy.upstreams.target import Target, prepend
from proxy.wire.params import PORTABLE_PARAMS

# LiteLLM gives its loggers a handler of their own, and their records reach the root's too: each of its
# lines came out twice in `hermes serve`'s log. Once, in the log's own format, is enough.
for _name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
    logging.getLogger(_name).handlers.clear()

T = TypeVar("T")

if TYPE_CHECKING:
    from proxy.upstreams.relay import Relay

# Hermes states every failure itself; LiteLLM's own console hints are noise.
litellm.suppress_debug_info = True


class Upstream:
    """Where a call goes: a cloud target to the pooled relay, a local one through LiteLLM's Ollama backend."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def complete(self, target: Target, chat: ChatRequest) -> dict[str, Any]:
        """One non-streamed answer as an OpenAI `chat.completion` dict (for a call in the client's own dialect,
        its shadow: native_relay.py)."""
        if target.model.kind == "cloud":
            if chat.native is not None:
                return await native_relay.complete(self.relay, target, chat)
            return await self.relay.complete(target, chat)
        return await complete(target, chat)

    async def stream(self, target: Target, chat: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        """OpenAI `chat.completion.chunk` dicts; the first is awaited before this returns."""
        if target.model.kind == "cloud":
            if chat.native is not None:
                return await native_relay.stream(self.relay, target, chat)
            return await self.relay.stream(target, chat)
        return await stream(target, chat)


async def complete(target: Target, chat: ChatRequest) -> dict[str, Any]:
    """One non-streamed answer as an OpenAI `chat.completion` dict, through LiteLLM."""
    try:
        async with asyncio.timeout(target.timeout_s):
            response = await _acompletion(target, chat, stream=False)
    except Exception as exc:
        raise translate_error(exc, target) from exc
    return _completion_dict(response, target.model.name)


async def stream(target: Target, chat: ChatRequest, logprobs: TokenLogprobs | None = None
                 ) -> AsyncIterator[dict[str, Any]]:
    """OpenAI `chat.completion.chunk` dicts, the usage chunk last; a local model's token log-probabilities
    also into `logprobs`, when given (ollama_logprobs.py).

    The first chunk is awaited before this returns, so a model that cannot
    be reached, or answers with something that is not a stream, fails here,
    while the client can still get a proper HTTP error, rather than after a
    200 has been sent. Later failures (a cut, a line that is not JSON, a
    silence longer than the timeout) are raised by the iterator.
    """
    return await started_stream(target, _acompletion(target, chat, stream=True, logprobs=logprobs),
                                lambda response: _stream_chunks(response, target))


async def started_stream(target: Target, call: Awaitable[Any], items: Callable[[Any], AsyncIterator[T]]
                         ) -> AsyncIterator[T]:
    """`items(await call)` with its first item already in hand; LiteLLM's errors mapped (upstream_text.py too).

    One timeout covers the call and the first item. A failure or a
    cancellation before it closes the call, which stops a local model.
    """
    deadline = asyncio.get_running_loop().time() + target.timeout_s
    try:
        async with asyncio.timeout_at(deadline):
            response = await call
    except Exception as exc:
        raise translate_error(exc, target) from exc
    rest = items(response)
    try:
        async with asyncio.timeout_at(deadline):
            first = await anext(rest)
    except BaseException as exc:
        await rest.aclose()  # type: ignore[attr-defined]
        if isinstance(exc, Exception):
            raise translate_error(exc, target) from exc
        raise
    return prepend(first, rest)


async def _stream_chunks(response: Any, target: Target) -> AsyncIterator[dict[str, Any]]:
    stream_id: str | None = None
    created = int(time.time())
    guard = StreamGuard(response)
    finished = False
    try:
        while True:
            try:
                # An idle stream is as dead as a silent one: bound every wait.
                async with asyncio.timeout(target.timeout_s):
                    chunk = await anext(response)
            except StopAsyncIteration:
                break
            except Exception as exc:
                raise stream_error(exc, guard, target) from exc
            # The upstream's own id where it sends one (OpenRouter's generation id, which its cost can be
            # looked up by), the same on every chunk.
            stream_id = stream_id or getattr(chunk, "id", None) or f"chatcmpl-{uuid.uuid4().hex}"
            normalized = _chunk_dict(chunk, stream_id, created, target.model.name)
            if normalized is None:
                continue
            if normalized["choices"] and normalized["choices"][0]["finish_reason"] is not None:
                if not guard.finished:  # LiteLLM's own "stop" for a stream that just ended
                    raise incomplete_stream(guard, target)
                finished = True
            yield normalized
    finally:
        aclose = getattr(response, "aclose", None)
        if aclose is not None:
            await aclose()
    if not finished:
        raise incomplete_stream(guard, target)


async def _acompletion(target: Target, chat: ChatRequest, stream: bool, logprobs: TokenLogprobs | None = None
                       ) -> Any:
    if target.model.kind == "local":
        _check_tool_arguments(chat, target.model.name)
    # OpenRouter's own parameters (reasoning, logprobs, provider...) are not for LiteLLM's Ollama backend:
    # it would turn reasoning_effort into Ollama's `think`, which a model that cannot think refuses.
    kwargs: dict[str, Any] = {k: v for k, v in chat.params.items() if k in PORTABLE_PARAMS}
    if stream:
        # Always ask for usage: Hermes records it even when the client did not ask.
        kwargs["stream_options"] = {"include_usage": True}
    if logprobs is not None and target.model.kind == "local":
        kwargs["client"] = http_handler(logprobs)
    return await litellm.acompletion(
        model=target.model.litellm_model,
        messages=chat.messages,
        stream=stream,
        api_base=target.api_base,
        api_key=target.api_key.reveal() if target.api_key else None,
        timeout=target.timeout_s,
        max_retries=0,  # retrying is the client's call, not ours
        drop_params=True,  # what a provider cannot take (Ollama: parallel_tool_calls) is dropped, not a 400
        **kwargs,
    )


def _check_tool_arguments(chat: ChatRequest, name: str) -> None:
    """Refuse earlier tool calls whose arguments are not JSON: LiteLLM parses them for Ollama.

    Its JSONDecodeError would otherwise look like a reply that is not JSON.
    """
    for i, message in enumerate(chat.messages):
        for j, call in enumerate(message.get("tool_calls") or []):
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            if not isinstance(arguments, str):
                continue
            try:
                json.loads(arguments)
            except ValueError:
                raise BadRequest(f"'messages[{i}].tool_calls[{j}].function.arguments' must be JSON for {name}, "
                                 f"a local model, got {snippet(arguments)!r}.", code="invalid_messages") from None


def _completion_dict(response: Any, model_name: str) -> dict[str, Any]:
    choices = getattr(response, "choices", None)
    if not choices or getattr(choices[0], "message", None) is None:
        raise bad_response(f"{model_name} answered with something other than a chat completion "
                           "(no choices, or a choice without a message).")
    choice = choices[0]
    return {
        "id": response.id or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": response.created or int(time.time()),
        "model": model_name,
        "choices": [
            {
                "index": 0,
                "message": _message_dict(choice.message),
                "logprobs": None,
                "finish_reason": choice.finish_reason or "stop",
            }
        ],
        "usage": _usage_dict(getattr(response, "usage", None)),
    }


def _chunk_dict(chunk: Any, stream_id: str, created: int, model_name: str) -> dict[str, Any] | None:
    base = {"id": stream_id, "object": "chat.completion.chunk", "created": created, "model": model_name}
    usage = getattr(chunk, "usage", None)
    choice = chunk.choices[0] if chunk.choices else None
    delta = _delta_dict(choice.delta) if choice is not None else {}
    finish_reason = choice.finish_reason if choice is not None else None
    if usage is not None and not delta and finish_reason is None:
        return base | {"choices": [], "usage": _usage_dict(usage)}
    if not delta and finish_reason is None:
        return None
    return base | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def _message_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        result["tool_calls"] = [_tool_call_dict(call) for call in message.tool_calls]
    return result


def _delta_dict(delta: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if delta.role:
        result["role"] = delta.role
    if delta.content:
        result["content"] = delta.content
    if delta.tool_calls:
        result["tool_calls"] = [_tool_call_dict(call, partial=True) for call in delta.tool_calls]
    return result


def _tool_call_dict(call: Any, partial: bool = False) -> dict[str, Any]:
    """A tool call; in a stream (`partial`) only the fields this fragment carries."""
    data = call if isinstance(call, dict) else call.model_dump()
    function = {k: v for k, v in (data.get("function") or {}).items() if v is not None}
    if partial:
        result = {"index": data.get("index") or 0, "function": function}
        if data.get("id"):
            result |= {"id": data["id"], "type": "function"}
        return result
    return {
        "id": data.get("id") or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": function.get("name"), "arguments": function.get("arguments") or "{}"},
    }


def _usage_dict(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    result: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    cost = getattr(usage, "cost", None)
    if cost is not None:  # OpenRouter reports what the call cost
        result["cost"] = cost
    return result
