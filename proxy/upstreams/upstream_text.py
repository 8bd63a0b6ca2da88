"""LiteLLM's Ollama backend for text completions (`/api/generate`): what /v1/completions calls.

The one module beside upstream.py that calls LiteLLM, and it maps LiteLLM's
errors through litellm_errors.py's `translate_error`. Kept apart because autocomplete
is a concern of its own: plain text in, text pieces out, never the cloud.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import litellm

from proxy.chat import CompletionRequest
from proxy.errors import UpstreamError
from proxy.upstreams.litellm_errors import translate_error
from proxy.upstreams.stream_guard import StreamGuard
from proxy.upstreams.target import Target
from proxy.upstreams.upstream import started_stream


async def text_complete(target: Target, parsed: CompletionRequest) -> dict[str, Any]:
    """One non-streamed completion as an OpenAI `text_completion` dict, through LiteLLM's Ollama backend."""
    try:
        async with asyncio.timeout(target.timeout_s):
            response = await _call(target, parsed, stream=False)
    except Exception as exc:
        raise translate_error(exc, target) from exc
    choices = getattr(response, "choices", None)
    message = getattr(choices[0], "message", None) if choices else None
    if message is None:
        raise UpstreamError(f"{target.model.name} answered with something other than a completion (no choices).",
                            code="upstream_bad_response")
    usage = _usage(getattr(response, "usage", None))
    return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": target.model.name, "usage": usage,
            "choices": [text_choice(message.content or "", finish_reason(usage, parsed.max_tokens))]}


async def text_stream(target: Target, parsed: CompletionRequest) -> AsyncIterator[str | dict[str, Any]]:
    """The completion's text pieces, then its usage (a dict), last; the first is awaited before this returns.

    As upstream.stream: one timeout for the call and the first piece, then
    one for every silence; a stream that ends before Ollama's `done` is an
    error, not a finished completion (LiteLLM would make up a "stop").
    """
    return await started_stream(target, _call(target, parsed, stream=True), lambda response: _items(response, target))


async def _items(stream: Any, target: Target) -> AsyncIterator[str | dict[str, Any]]:
    guard = StreamGuard(stream)
    usage: dict[str, Any] | None = None
    try:
        while True:
            try:
                async with asyncio.timeout(target.timeout_s):  # an idle stream is as dead as a silent one
                    chunk = await anext(stream)
            except StopAsyncIteration:
                break
            except Exception as exc:
                raise translate_error(exc, target) from exc
            if getattr(chunk, "usage", None) is not None:
                usage = _usage(chunk.usage)
            for choice in getattr(chunk, "choices", None) or []:
                text = getattr(getattr(choice, "delta", None), "content", None)
                if text:
                    yield text
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    if not guard.finished:
        raise UpstreamError(f"{target.model.name} ended its stream before it was done: the completion is incomplete.",
                            code="upstream_stream_incomplete")
    yield usage or _usage(None)


async def _call(target: Target, parsed: CompletionRequest, stream: bool) -> Any:
    kwargs: dict[str, Any] = dict(parsed.params)
    if stream:
        kwargs["stream_options"] = {"include_usage": True}  # recorded even when the client did not ask
    # What litellm.atext_completion does, without its detour through a worker thread and an
    # async generator that leaves the call open when closed: `text_completion` sends the
    # prompt to Ollama's /api/generate as it is.
    return await litellm.acompletion(
        model=f"ollama/{target.model.name}",
        messages=[{"role": "user", "content": parsed.prompt}],
        text_completion=True,
        stream=stream,
        max_tokens=parsed.max_tokens,
        # LiteLLM would put `suffix` among Ollama's `options`, where Ollama ignores it: it goes on top, as
        # Ollama reads it. Without a suffix the prompt is continued as it is (raw), not as a chat turn.
        extra_body={"suffix": parsed.suffix} if parsed.suffix else {"raw": True},
        api_base=target.api_base, timeout=target.timeout_s, max_retries=0, drop_params=True, **kwargs,
    )


def text_choice(text: str, reason: str | None) -> dict[str, Any]:
    return {"text": text, "index": 0, "logprobs": None, "finish_reason": reason}


def finish_reason(usage: dict[str, Any] | None, max_tokens: int) -> str:
    # LiteLLM reports every Ollama completion as "stop" (it drops done_reason): a completion
    # that used all of its max_tokens was cut there.
    return "length" if usage and usage["completion_tokens"] >= max_tokens else "stop"


def _usage(usage: Any) -> dict[str, int]:
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
