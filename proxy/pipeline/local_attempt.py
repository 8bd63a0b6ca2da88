"""One local model's attempt at an answer, inside a time budget.

A local attempt that cannot finish in interactive time is worse than none:
the client gives up before the cascade would have escalated (issue 9 saw
OpenCode and Continue time out while a CPU model prefilled their 10-tool
prompts). So each attempt streams from the model, and

- before it starts, is skipped when the prompt alone would take longer than
  the deadline to prefill at the speed this model was measured at;
- while it waits for its first token (queued behind another request, or
  reading its prompt), is given up as soon as a measurement made meanwhile
  says the prompt cannot be read in time: OpenCode sends its title request
  and its 7k-token agent step at once, and the title's first token is the
  first measurement there is;
- while it runs, is cancelled when the deadline passes (closing the stream
  stops the generation, see disconnect.py);
- its time to first token is the prefill speed measured for the next one.

Speeds are measured in this process, per model: they depend on the machine
and whatever else it is doing, not on anything worth storing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from proxy.chat import ChatRequest
from proxy.config import Config, ModelRef
from proxy.errors import HermesError
from proxy.money.estimate import count_input_tokens
from proxy.upstreams import upstream
from proxy.upstreams.ollama_logprobs import TokenLogprobs
from proxy.upstreams.target import Target

# Called with a short status ("smollm2:135m generating") while the cascade works.
Progress = Callable[[str], None]


def no_progress(status: str) -> None:
    """The default Progress: nobody is listening."""


class TooSlow(HermesError):
    """The attempt would not (or did not) finish within its deadline."""

    def __init__(self, message: str, started: bool) -> None:
        super().__init__(message, code="local_too_slow")
        self.started = started  # False: skipped before the model was called


# Each token of a prompt costs more the longer the prompt is (attention reads every earlier token):
# SmolLM2-135M here read 600 tokens at 2.4 ms a token and 7,100 at 5.1 ms, about 1 + 1.9e-4 x length.
# A model with more weight per token grows less; for the attempt's deadline, erring long is the safe way.
GROWTH_PER_TOKEN = 1.9e-4


@dataclass
class LocalSpeeds:
    """Prefill times measured per local model, most recent first, and who is waiting for the next one."""

    window: int = 8
    _measured: dict[str, deque[tuple[int, float]]] = field(default_factory=dict)
    _waiting: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    def prefill_rate(self, model: str) -> float | None:
        """Prompt tokens a second, the median of the recent measurements, or None before the first."""
        measured = self._measured.get(model)
        return median(tokens / seconds for tokens, seconds in measured) if measured else None

    def measured(self, model: str, prompt_tokens: int, seconds: float) -> None:
        if prompt_tokens <= 0 or seconds <= 0:
            return
        self._measured.setdefault(model, deque(maxlen=self.window)).appendleft((prompt_tokens, seconds))
        waiting = self._waiting.pop(model, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def prefill_seconds(self, model: str, prompt_tokens: int) -> float | None:
        """How long `prompt_tokens` would take to read: each measurement scaled to that length, the median."""
        measured = self._measured.get(model)
        if not measured:
            return None
        return median(seconds * (prompt_tokens / tokens) * (1 + GROWTH_PER_TOKEN * prompt_tokens)
                      / (1 + GROWTH_PER_TOKEN * tokens) for tokens, seconds in measured)

    def next_measurement(self, model: str) -> asyncio.Future[None]:
        """Done when `model` is next measured (by any attempt in this process)."""
        waiting = self._waiting.get(model)
        if waiting is None or waiting.done():
            waiting = self._waiting[model] = asyncio.get_running_loop().create_future()
        return waiting


async def generate(target: Target, chat: ChatRequest, prompt_tokens: int, deadline_s: float | None,
                   speeds: LocalSpeeds, progress: Progress = no_progress,
                   logprobs: TokenLogprobs | None = None) -> dict[str, Any]:
    """The local model's whole answer as a chat.completion, within `deadline_s` (else TooSlow); its tokens'
    log-probabilities into `logprobs`, when given.

    Without a deadline only the call's own timeout (local.timeout_s) bounds it.
    """
    name = target.model.name
    _check_speed(speeds, name, prompt_tokens, deadline_s, started=False)
    progress(f"{name} reading the prompt")
    started = time.monotonic()
    first_token_at: float | None = None
    try:
        async with asyncio.timeout(deadline_s):
            call = upstream.stream(target, chat, logprobs)
            stream = await _first_token(call, speeds, name, prompt_tokens, deadline_s)
            async with aclosing(stream) as chunks:
                answer = _Assembler(name)
                async for chunk in chunks:
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                        speeds.measured(name, prompt_tokens, first_token_at - started)
                        progress(f"{name} generating")
                    answer.add(chunk)
    except TimeoutError:
        if first_token_at is None:  # not even the prompt was read: that bounds the speed
            speeds.measured(name, prompt_tokens, time.monotonic() - started)
        raise TooSlow(f"no whole answer within the {deadline_s:g}s deadline (local.deadline_s)",
                      started=True) from None
    return answer.completion()


def _check_speed(speeds: LocalSpeeds, name: str, prompt_tokens: int, deadline_s: float | None,
                 started: bool) -> None:
    """TooSlow if the prompt alone would take longer than the deadline to read at the speed measured."""
    expected = speeds.prefill_seconds(name, prompt_tokens)
    if deadline_s is None or expected is None or expected <= deadline_s:
        return
    when = "measured while it waited" if started else "measured"
    raise TooSlow(f"its {prompt_tokens}-token prompt would take ~{expected:.0f}s to read at the "
                  f"{speeds.prefill_rate(name):.0f} tokens/s {when}, more than the {deadline_s:g}s "
                  "deadline (local.deadline_s)", started=started)


async def _first_token(call: Awaitable[AsyncIterator[dict[str, Any]]], speeds: LocalSpeeds, name: str,
                       prompt_tokens: int, deadline_s: float | None) -> AsyncIterator[dict[str, Any]]:
    """The stream, once its first chunk is in; given up (TooSlow) when a speed measured meanwhile says it is hopeless.

    Giving up cancels the call, which closes its connection: the model stops, or never starts, on it.
    """
    if deadline_s is None:
        return await call
    waiting = asyncio.ensure_future(call)
    try:
        while not waiting.done():
            measured = speeds.next_measurement(name)
            await asyncio.wait((waiting, measured), return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                _check_speed(speeds, name, prompt_tokens, deadline_s, started=True)
    except BaseException:
        waiting.cancel()
        with suppress(BaseException):
            stream = await waiting
            await stream.aclose()  # type: ignore[attr-defined]  # its first chunk came in as it was given up
        raise
    return waiting.result()


class _Assembler:
    """A stream's chunks put back together as the chat.completion a non-streamed call returns."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason = "stop"
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    def add(self, chunk: dict[str, Any]) -> None:
        self.id, self.created = chunk.get("id", self.id), chunk.get("created", self.created)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.content.append(delta["content"])
            for part in delta.get("tool_calls") or []:
                self._add_call(part)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _add_call(self, part: dict[str, Any]) -> None:
        call = self.calls.setdefault(int(part.get("index") or 0), {"id": None, "name": "", "arguments": ""})
        call["id"] = call["id"] or part.get("id")
        function = part.get("function") or {}
        call["name"] += function.get("name") or ""
        arguments = function.get("arguments")
        call["arguments"] += arguments if isinstance(arguments, str) else ""

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.calls:
            message["tool_calls"] = [
                {"id": call["id"] or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                 "function": {"name": call["name"], "arguments": call["arguments"] or "{}"}}
                for _, call in sorted(self.calls.items())
            ]
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}],
            "usage": self.usage,
        }


def known_too_long(config: Config, ref: ModelRef, chat: ChatRequest) -> bool:
    """Whether `chat` is known not to fit `ref`'s context: the embedded model's is in the config; an Ollama
    model's is not known until it refuses, so a prompt is assumed to fit it."""
    embedded = config.routing.embedded_model
    if not embedded.enabled or ref.name != embedded.name:
        return False
    tokens = count_input_tokens(ref.litellm_model, chat.messages, chat.params.get("tools"), chat.fingerprints)
    return tokens >= embedded.context_tokens
