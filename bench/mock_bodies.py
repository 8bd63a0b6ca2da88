"""The canned OpenRouter answers the mock upstreams send (bench/proxy_compare.py).

Shaped as OpenRouter sends them: `provider`, `native_finish_reason`, and a
usage block with `cost`, so a proxy that reads the cost finds it.
"""

from __future__ import annotations

import json
from typing import Any

MODEL = "anthropic/claude-3.5-sonnet"
WORDS = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]
USAGE = {
    "prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 12 + len(WORDS),
    "cost": 0.000171, "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 0},
    "cost_details": {"upstream_inference_cost": None},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


def completion() -> bytes:
    """One non-streamed `chat.completion`."""
    return _dumps({
        "id": "gen-bench-0001", "provider": "Anthropic", "model": MODEL, "object": "chat.completion",
        "created": 1700000000,
        "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop", "native_finish_reason": "stop",
                     "message": {"role": "assistant", "content": "".join(WORDS), "refusal": None,
                                 "reasoning": None}}],
        "usage": USAGE,
    })


def chunk(content: str | None, *, first: bool = False, finish: bool = False) -> dict[str, Any]:
    delta: dict[str, Any] = {"content": content or ""}
    if first or finish:
        delta["role"] = "assistant"
    return {
        "id": "gen-bench-0002", "provider": "Anthropic", "model": MODEL, "object": "chat.completion.chunk",
        "created": 1700000000,
        "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if finish else None,
                     "native_finish_reason": "stop" if finish else None, "logprobs": None}],
    }


def usage_chunk() -> dict[str, Any]:
    body = chunk(None)
    body["choices"] = []
    body["usage"] = USAGE
    return body


def event(body: dict[str, Any] | str) -> bytes:
    """One SSE event: `data: ...` and the blank line."""
    text = body if isinstance(body, str) else _dumps(body).decode()
    return f"data: {text}\n\n".encode()


def stream_events(contents: list[str]) -> list[bytes]:
    """The events of a whole stream: one per content piece, the finish, the usage, [DONE]."""
    events = [event(chunk(text, first=i == 0)) for i, text in enumerate(contents)]
    return events + [event(chunk(None, finish=True)), event(usage_chunk()), event("[DONE]")]


def instant_stream() -> bytes:
    """The whole stream as one body, for the nginx mock to send at once."""
    return b"".join(stream_events(WORDS))


def message() -> bytes:
    """One non-streamed Anthropic message, as OpenRouter's `/messages` answers (bench/dialects_compare.py)."""
    return _dumps({
        "id": "gen-bench-0003", "type": "message", "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text": "".join(WORDS)}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": len(WORDS), "cache_read_input_tokens": 0,
                  "cache_creation_input_tokens": 0, "cost": USAGE["cost"]},
    })


def response() -> bytes:
    """One non-streamed Responses answer, as OpenRouter's `/responses` answers (bench/dialects_compare.py)."""
    return _dumps({
        "id": "gen-bench-0004", "object": "response", "created_at": 1700000000, "model": MODEL, "status": "completed",
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "output": [{"id": "msg-bench-1", "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": "".join(WORDS), "annotations": []}]}],
        "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                  "output_tokens": len(WORDS),
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12 + len(WORDS),
                  "cost": USAGE["cost"]},
    })


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
