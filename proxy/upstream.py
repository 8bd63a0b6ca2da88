"""Every LiteLLM call Hermes makes, local and cloud, each under a timeout.

This is the only module that imports LiteLLM's exception types: it maps them
to Hermes's own errors (as httpx maps httpcore's) and turns LiteLLM's
response objects into plain OpenAI wire dicts, so nothing above it depends on
LiteLLM's types.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import litellm

from proxy.config import ModelRef, Secret
from proxy.errors import BadRequest, HermesError, UpstreamError, UpstreamTimeout
from proxy.openai_api import ChatRequest

# Hermes states every failure itself; LiteLLM's own console hints are noise.
litellm.suppress_debug_info = True


@dataclass(frozen=True)
class Target:
    """One concrete model to call, and how to reach it."""

    model: ModelRef
    api_base: str
    api_key: Secret | None
    timeout_s: float


async def complete(target: Target, chat: ChatRequest) -> dict[str, Any]:
    """One non-streamed answer as an OpenAI `chat.completion` dict."""
    try:
        async with asyncio.timeout(target.timeout_s):
            response = await _acompletion(target, chat, stream=False)
    except Exception as exc:
        raise _translate(exc, target) from exc
    return _completion_dict(response, target.model.name)


async def stream(target: Target, chat: ChatRequest) -> AsyncIterator[dict[str, Any]]:
    """OpenAI `chat.completion.chunk` dicts, the usage chunk last.

    The first chunk is awaited before this returns, so a model that cannot
    be reached fails here, while the client can still get a proper HTTP
    error, rather than after a 200 has been sent.
    """
    try:
        async with asyncio.timeout(target.timeout_s):
            response = await _acompletion(target, chat, stream=True)
            chunks = aiter(response)
            first = await anext(chunks)
    except Exception as exc:
        raise _translate(exc, target) from exc
    return _stream_chunks(first, chunks, target)


async def _stream_chunks(first: Any, chunks: AsyncIterator[Any], target: Target) -> AsyncIterator[dict[str, Any]]:
    stream_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    chunk: Any = first
    while True:
        normalized = _chunk_dict(chunk, stream_id, created, target.model.name)
        if normalized is not None:
            yield normalized
        try:
            # An idle stream is as dead as a silent one: bound every wait.
            async with asyncio.timeout(target.timeout_s):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except Exception as exc:
            raise _translate(exc, target) from exc


async def _acompletion(target: Target, chat: ChatRequest, stream: bool) -> Any:
    kwargs: dict[str, Any] = dict(chat.params)
    if stream:
        # Always ask for usage: Hermes records it even when the client did not ask.
        kwargs["stream_options"] = {"include_usage": True}
    return await litellm.acompletion(
        model=target.model.litellm_model,
        messages=chat.messages,
        stream=stream,
        api_base=target.api_base,
        api_key=target.api_key.reveal() if target.api_key else None,
        timeout=target.timeout_s,
        max_retries=0,  # retrying is the client's call, not ours
        **kwargs,
    )


def _translate(exc: BaseException, target: Target) -> HermesError:
    """The Hermes error for a failed upstream call (cf. httpx's map_httpcore_exceptions)."""
    name = target.model.name
    detail = _upstream_message(exc)
    if isinstance(exc, HermesError):
        return exc
    if isinstance(exc, (TimeoutError, litellm.Timeout)):
        return UpstreamTimeout(f"{name} did not answer within {target.timeout_s:g}s (timeout_s in routing_rules.yaml).")
    if isinstance(exc, litellm.ContextWindowExceededError) or (
        # Ollama-protocol servers say so only in words, which LiteLLM passes on as a plain 400.
        isinstance(exc, litellm.BadRequestError) and "context" in detail
    ):
        return BadRequest(f"The conversation is too long for {name}: {detail}", code="context_length_exceeded")
    if isinstance(exc, litellm.AuthenticationError):
        error = UpstreamError(f"{name} refused Hermes's API key; check OPENROUTER_API_KEY. ({detail})")
        error.retry = False
        return error
    if isinstance(exc, litellm.BadRequestError):
        return BadRequest(f"{name} rejected the request: {detail}", code="upstream_bad_request")
    if isinstance(exc, litellm.NotFoundError):
        return UpstreamError(f"{name} is not available at {target.api_base}: {detail}", code="model_unavailable")
    if isinstance(exc, litellm.APIConnectionError):
        return UpstreamError(f"Could not get an answer from {name} at {target.api_base}: {detail}")
    return UpstreamError(f"{name} failed: {detail}")


def _upstream_message(exc: BaseException) -> str:
    """The upstream's own words, without LiteLLM's wrapping ("litellm.X: Provider - {...}")."""
    detail = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    start = detail.find('{"error"')
    if start >= 0:
        try:
            error = json.loads(detail[start:])["error"]
            return str(error.get("message", error) if isinstance(error, dict) else error)
        except (ValueError, KeyError, TypeError):
            pass
    return detail


def _completion_dict(response: Any, model_name: str) -> dict[str, Any]:
    choice = response.choices[0]
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
