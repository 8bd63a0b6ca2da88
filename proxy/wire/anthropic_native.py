"""Anthropic Messages relayed as they are: the client's body to OpenRouter's `/messages`, its events back unchanged.

Nothing is translated on this path, so nothing is lost (cache_control,
thinking blocks and their signatures, tool_use ids, betas' fields). The
pipeline meters and records the call through chat-shaped shadows: each event
becomes a `chat.completion.chunk` carrying the text, tool-call pieces, stop
reason and usage it holds, with the event itself under "native", which is
what the client gets (anthropic_api.py writes it).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.wire import shadow

# Anthropic's stop reasons as chat's finish reasons (what the meter and the record read).
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
          "pause_turn": "stop", "refusal": "content_filter", "model_context_window_exceeded": "length"}
API_VERSION = "2023-06-01"


@dataclass(frozen=True)
class AnthropicNative:
    """A Messages body as the client sent it (see chat.Native)."""

    source: dict[str, Any]
    path: str = "/messages"

    @property
    def headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION}

    def body(self, model: str, max_tokens: int | None, stream: bool) -> dict[str, Any]:
        limit = min(self.source["max_tokens"], max_tokens) if max_tokens else self.source["max_tokens"]
        return self.source | {"model": model, "max_tokens": limit, "stream": stream}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        text = "".join(block.get("text", "") for block in body.get("content") or () if block.get("type") == "text")
        calls = [{"id": block.get("id", ""), "type": "function",
                  "function": {"name": block.get("name", ""), "arguments": _json(block.get("input", {}))}}
                 for block in body.get("content") or () if block.get("type") == "tool_use"]
        message = {"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}
        return shadow.completion(body, message, FINISH.get(body.get("stop_reason"), "stop"), chat_usage(body.get("usage")))

    def shadows(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return _Shadows().shadow_of


def chat_usage(usage: Any) -> dict[str, Any] | None:
    """Anthropic's usage in chat's terms: every input token (cached, written to the cache, or not) as prompt tokens."""
    if not isinstance(usage, dict):
        return None
    cached = shadow.count(usage.get("cache_read_input_tokens"))
    written = shadow.count(usage.get("cache_creation_input_tokens"))
    prompt = shadow.count(usage.get("input_tokens")) + cached + written
    return shadow.usage(prompt, shadow.count(usage.get("output_tokens")), cached, usage, written)


class _Shadows:
    """One stream's state: its id, the usage message_start gave, and which block indexes are tool calls."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.started: dict[str, Any] = {}
        self.tools: dict[int, int] = {}  # content block index -> tool call index
        self.calls = itertools.count()
        self.created = int(time.time())

    def shadow_of(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event.get("type")
        delta: dict[str, Any] = {}
        finish = usage = None
        if kind == "message_start":
            message = event.get("message") or {}
            self.id, self.model = str(message.get("id") or ""), str(message.get("model") or "")
            self.started = message.get("usage") or {}
            delta = {"role": "assistant"}
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tools.setdefault(event.get("index", 0), next(self.calls))
                delta = {"tool_calls": [{"index": index, "id": block.get("id", ""), "type": "function",
                                         "function": {"name": block.get("name", ""), "arguments": ""}}]}
            elif block.get("type") == "text" and block.get("text"):
                delta = {"content": block["text"]}
        elif kind == "content_block_delta":
            piece = event.get("delta") or {}
            if piece.get("type") == "text_delta":
                delta = {"content": piece.get("text", "")}
            elif piece.get("type") == "input_json_delta" and event.get("index", 0) in self.tools:
                delta = {"tool_calls": [{"index": self.tools[event.get("index", 0)],
                                         "function": {"arguments": piece.get("partial_json", "")}}]}
        elif kind == "message_delta":
            finish = FINISH.get((event.get("delta") or {}).get("stop_reason"), "stop")
            final = event.get("usage") or {}
            usage = chat_usage(self.started | {k: v for k, v in final.items() if v is not None})
        return shadow.chunk(self.id, self.model, self.created, event, None if kind == "message_stop" else delta,
                            finish, usage)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
