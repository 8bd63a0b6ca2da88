"""A request once validated: what every later step reads (a chat request; an autocomplete one for /v1/completions)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatRequest:
    """A validated `POST /v1/chat/completions` body."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def max_tokens(self) -> int | None:
        """The client's output limit, whichever of the two names it used."""
        value = self.params.get("max_completion_tokens") or self.params.get("max_tokens")
        return int(value) if value else None

    def limited_to(self, max_tokens: int) -> ChatRequest:
        """This request asking for at most `max_tokens` (one field: LiteLLM maps it for each provider)."""
        params = {k: v for k, v in self.params.items() if k != "max_completion_tokens"}
        return dataclasses.replace(self, params=params | {"max_tokens": min(self.max_tokens or max_tokens, max_tokens)})


@dataclass(frozen=True)
class CompletionRequest:
    """A validated `POST /v1/completions` body."""

    model: str
    prompt: str  # the text before the cursor
    suffix: str  # the text after it ("" for a plain completion)
    stream: bool
    include_usage: bool
    max_tokens: int
    params: dict[str, Any] = field(default_factory=dict)


def message_text(message: dict[str, Any]) -> str:
    """A message's text: the string content, or its text parts joined (images and files ignored)."""
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""
