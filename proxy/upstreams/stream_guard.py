"""What an upstream really sent in a stream, read line by line on its way into LiteLLM."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


class StreamGuard:
    """Watches the upstream's raw stream lines on their way into LiteLLM.

    LiteLLM skips a `data:` line that is not JSON, and when the connection
    closes early (or `[DONE]` comes with no finish_reason) it makes up a
    finish_reason "stop" (`CustomStreamWrapper.finish_reason_handler`). Only
    the raw lines say what the upstream really sent: `finished` is whether it
    sent a finish_reason (Ollama: `"done": true`); `broken_line` the line
    that was not JSON, if one was (reading stops there).
    Where LiteLLM's iterator does not have the expected shape, it falls back
    on the wrapper's own `received_finish_reason`.
    """

    def __init__(self, response: Any) -> None:
        self.lines = 0  # non-blank lines seen
        self.broken_line: str | None = None  # the first line that is not JSON
        self._seen_finish = False
        self._response = response
        iterator = getattr(response, "completion_stream", None)
        lines = getattr(iterator, "streaming_response", None)
        self._installed = lines is not None and hasattr(lines, "__aiter__")
        if self._installed:
            iterator.streaming_response = self._read(lines)

    @property
    def finished(self) -> bool:
        if self._installed:
            return self._seen_finish
        return bool(getattr(self._response, "received_finish_reason", None))

    async def _read(self, lines: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for line in lines:
            self._check(line.decode(errors="replace") if isinstance(line, bytes) else str(line))
            yield line

    def _check(self, line: str) -> None:
        text = line.strip()
        if not text or text.startswith(":"):  # blank, or an SSE comment (OpenRouter's keep-alive)
            return
        self.lines += 1
        field, colon, value = text.partition(":")
        if colon and field in ("event", "id", "retry"):
            return
        payload = value.strip() if colon and field == "data" else text  # SSE, or Ollama's NDJSON
        if payload == "[DONE]":
            return
        try:
            data = json.loads(payload)
        except ValueError:
            self.broken_line = text
            raise BrokenLine(text) from None
        if isinstance(data, dict):
            choices = data.get("choices")
            self._seen_finish |= data.get("done") is True or (
                isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason") for c in choices))


class BrokenLine(Exception):
    """Raised into LiteLLM's stream reading: the rest of this stream cannot be trusted."""
