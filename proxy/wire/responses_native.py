"""OpenAI Responses relayed as they are: the client's body to OpenRouter's `/responses`, its events back unchanged.

As anthropic_native.py does for Anthropic's: nothing is translated, so
encrypted reasoning items, reasoning summaries and call ids pass untouched,
and the pipeline reads the call through chat-shaped shadows of its events.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.wire import shadow


@dataclass(frozen=True)
class ResponsesNative:
    """A Responses body as the client sent it (see chat.Native)."""

    source: dict[str, Any]
    path: str = "/responses"

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def body(self, model: str, max_tokens: int | None, stream: bool) -> dict[str, Any]:
        body = self.source | {"model": model, "stream": stream}
        if max_tokens:
            body["max_output_tokens"] = min(self.source.get("max_output_tokens") or max_tokens, max_tokens)
        return body

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        output = [item for item in body.get("output") or () if isinstance(item, dict)]
        text = "".join(part.get("text", "") for item in output if item.get("type") == "message"
                       for part in item.get("content") or () if part.get("type") == "output_text")
        calls = [{"id": item.get("call_id", ""), "type": "function",
                  "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")}}
                 for item in output if item.get("type") == "function_call"]
        message = {"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}
        return shadow.completion(body, message, _finish(body, bool(calls)), chat_usage(body.get("usage")))

    def shadows(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return _Shadows().shadow_of


def chat_usage(usage: Any) -> dict[str, Any] | None:
    """Responses' usage in chat's terms (its input_tokens already count the cached ones)."""
    if not isinstance(usage, dict):
        return None
    cached = shadow.count((usage.get("input_tokens_details") or {}).get("cached_tokens"))
    return shadow.usage(shadow.count(usage.get("input_tokens")), shadow.count(usage.get("output_tokens")), cached, usage)


class _Shadows:
    """One stream's state: its id, and which output items are function calls."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.calls: dict[int, int] = {}  # output_index -> tool call index
        self.counter = itertools.count()
        self.created = int(time.time())

    def shadow_of(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event.get("type")
        delta: dict[str, Any] = {}
        finish = usage = None
        if kind == "response.created":
            response = event.get("response") or {}
            self.id, self.model = str(response.get("id") or ""), str(response.get("model") or "")
            delta = {"role": "assistant"}
        elif kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self.calls.setdefault(event.get("output_index", 0), next(self.counter))
            delta = {"tool_calls": [{"index": index, "id": item.get("call_id", ""), "type": "function",
                                     "function": {"name": item.get("name", ""), "arguments": ""}}]}
        elif kind == "response.function_call_arguments.delta" and event.get("output_index", 0) in self.calls:
            delta = {"tool_calls": [{"index": self.calls[event.get("output_index", 0)],
                                     "function": {"arguments": event.get("delta", "")}}]}
        elif kind == "response.output_text.delta":
            delta = {"content": event.get("delta", "")}
        elif kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            finish, usage = _finish(response, bool(self.calls)), chat_usage(response.get("usage"))
        return shadow.chunk(self.id, self.model, self.created, event, delta, finish, usage)


def _finish(response: dict[str, Any], called: bool) -> str:
    if response.get("status") == "incomplete":
        return "length"
    return "tool_calls" if called else "stop"

