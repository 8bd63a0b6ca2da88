"""A settled stream (sse.py) as LiteLLM's stream adapters read it: their chunk objects, one at a time.

(Or, for a call relayed in the client's own dialect, the events it carries, as they came.)

LiteLLM's adapters for Anthropic Messages, OpenAI Responses and Gemini each
turn an OpenAI chat stream into their dialect's events; this feeds them
Hermes's settled chunks, and keeps aside what they must not see: Hermes's
verdict (which goes on the dialect's last event instead) and the error that
ended the stream (which goes out as the dialect's error event: Gemini's
adapter would swallow it and end the stream as if it had finished).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from proxy.errors import HermesError


class StreamFailed(Exception):
    """Raised into an adapter when the settled stream ends with an error; `error` is it."""

    def __init__(self, error: HermesError) -> None:
        super().__init__(error.message)
        self.error = error


class LiteLLMChunks:
    """The settled chunks as LiteLLM's `ModelResponseStream` objects, for an adapter to iterate.

    The adapters read usage only from a chunk that has choices, so the usage
    chunk that ends an OpenAI stream is folded into the chunk before it.
    """

    logging_obj = None  # what LiteLLM's Responses iterator logs cost through: Hermes meters the call itself

    def __init__(self, items: AsyncIterator[dict[str, Any] | HermesError]) -> None:
        self._items = items
        self._held: dict[str, Any] | None = None
        self._started = False
        self.hermes: dict[str, Any] | None = None  # the verdict, once the last chunk has gone by
        self.error: HermesError | None = None  # what ended the stream, if it failed

    async def first_is_native(self) -> bool:
        """Whether the stream is a relay in the client's own dialect (chat.Native): its chunks carry the events."""
        if not self._started:
            await self._next_item()
        return self._held is not None and "native" in self._held

    async def native_events(self) -> AsyncIterator[dict[str, Any]]:
        """A relay in the client's own dialect (chat.Native): each shadow's event as it came, the verdict on the last.

        No adapter reads these, so nothing is folded: every event goes out.
        """
        if not self._started:
            await self._next_item()
        while self._held is not None:
            event, last = self._held["native"], self.hermes is not None  # the verdict comes with the last chunk
            yield event | {"hermes": self.hermes} if last else event
            if last:
                return
            await self._next_item()

    async def first_model(self) -> str:
        """The model the stream's first chunk names ("" if it has none), read ahead for adapters that need it first."""
        if not self._started:
            await self._next_item()
        return str(self._held.get("model", "")) if self._held else ""

    def __aiter__(self) -> LiteLLMChunks:
        return self

    async def __anext__(self) -> Any:
        from litellm.types.utils import ModelResponseStream

        while True:
            if not self._started:
                await self._next_item()
            held = self._held
            if held is None:
                raise StopAsyncIteration
            item = await self._next_item()
            if item is not None and not item.get("choices"):
                self._held = held | {"usage": item.get("usage")}
                continue
            return ModelResponseStream(**held)

    async def _next_item(self) -> dict[str, Any] | None:
        """Read the next chunk into `_held`, returning it; raise StreamFailed if the stream failed."""
        self._started = True
        item = await anext(self._items, None)
        if isinstance(item, HermesError):
            self.error, self._held = item, None
            raise StreamFailed(item)
        if item is not None and "hermes" in item:
            self.hermes = item["hermes"]
            item = {key: value for key, value in item.items() if key != "hermes"}
        self._held = item
        return item

