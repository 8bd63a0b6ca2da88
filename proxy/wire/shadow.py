"""Chat-shaped shadows of an answer relayed in its own dialect (anthropic_native.py, responses_native.py).

The pipeline meters, links and records a call by its `chat.completion` (or
its chunks); a relay in the client's own dialect hands it these instead,
each carrying the dialect's answer or event under "native", which is what
the client gets.
"""

from __future__ import annotations

import time
from typing import Any


def completion(native: dict[str, Any], message: dict[str, Any], finish: str,
               usage: dict[str, Any] | None) -> dict[str, Any]:
    """A whole answer's shadow: its id, the assistant `message`, `finish` and `usage` in chat's terms."""
    return {"id": native.get("id") or "", "object": "chat.completion", "created": int(time.time()),
            "model": native.get("model", ""), "native": native,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}


def chunk(stream_id: str, model: str, created: int, event: dict[str, Any], delta: dict[str, Any] | None,
          finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """One event's shadow; `delta` None for an event that carries no choice (Anthropic's message_stop)."""
    shadow: dict[str, Any] = {"id": stream_id, "object": "chat.completion.chunk", "created": created, "model": model,
                              "native": event,
                              "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        shadow["usage"] = usage
    return shadow


def usage(prompt: int, completion: int, cached: int, source: dict[str, Any], written: int = 0) -> dict[str, Any]:
    """A usage in chat's terms: `prompt` counts every input token, `cached` (and `written`) among them; the
    upstream's own cost (OpenRouter's `usage.cost`) kept where `source` gives one."""
    found: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion, "prompt_tokens_details": {"cached_tokens": cached}}
    if written:
        found["prompt_tokens_details"]["cache_write_tokens"] = written
    if source.get("cost") is not None:
        found["cost"] = source["cost"]
    return found


def count(value: Any) -> int:
    """A token count as the upstream gave it; anything that is not a positive integer counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
