"""A request once validated: what every later step reads (a chat request; an autocomplete one for /v1/completions)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from proxy.fingerprint import Fingerprint, conversation_hash, fingerprint


class Native(Protocol):
    """A client's request as it came in its own dialect, for a cloud upstream that speaks that dialect too.

    A cloud call then goes out in the client's dialect and comes back as it
    came (cache_control, thinking signatures, encrypted reasoning, tool call
    ids kept); the pipeline reads it through chat-shaped shadows of it
    (wire/anthropic_native.py, wire/responses_native.py).
    """

    path: str  # the upstream's endpoint for the dialect, under its API base ("/messages")
    headers: dict[str, str]  # what the dialect's endpoint needs besides the key

    def body(self, model: str, max_tokens: int | None, stream: bool) -> dict[str, Any]:
        """The client's body for `model`, its output capped at `max_tokens` (the meter's cap)."""
        ...

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A whole native answer as a `chat.completion` shadow, the answer itself under "native"."""
        ...

    def shadows(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """A converter for one stream: each native event as a `chat.completion.chunk` shadow, it under "native"."""
        ...


@dataclass(frozen=True)
class ChatRequest:
    """A validated `POST /v1/chat/completions` body."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    native: Native | None = None  # the request in the client's own dialect, where a cloud call can go in it
    # (the messages, their fingerprints) once taken; dataclasses.replace carries it, used while the list is the same
    _prints: tuple[list[dict[str, Any]], tuple[Fingerprint, ...]] | None = field(default=None, compare=False,
                                                                                repr=False)

    @property
    def fingerprints(self) -> tuple[Fingerprint, ...]:
        """Each message's fingerprint, taken once: the token counts, the prompt hash and the session's answers
        are keyed by them (a copy made with other parameters keeps them)."""
        if self._prints is None or self._prints[0] is not self.messages:
            object.__setattr__(self, "_prints", (self.messages, tuple(fingerprint(m) for m in self.messages)))
        return self._prints[1]  # type: ignore[index]

    @property
    def prompt_hash(self) -> str:
        """The conversation's fingerprint, what the dashboard shows of a prompt it does not keep."""
        return conversation_hash(self.fingerprints)

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
