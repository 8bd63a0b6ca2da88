"""One wire dialect: how a client's request becomes the pipeline's ChatRequest, and how its answers and errors go back.

Inside, Hermes speaks one dialect, OpenAI's chat: a `ChatRequest` in,
`chat.completion` and `chat.completion.chunk` dicts out. Every other dialect
(Anthropic Messages, OpenAI Responses, Gemini) is a module in this package
with a `Dialect` that translates at the edge, so no step of the pipeline
branches on which one a client speaks. The shared parts live here: the
responses (status, headers, the "hermes" verdict) and the stream's settling
(sse.py); a dialect writes only its own shapes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from starlette.responses import JSONResponse

from proxy.chat import ChatRequest
from proxy.errors import HermesError
from proxy.wire.disconnect import ListeningStreamingResponse
from proxy.wire.json_codec import FastJSONResponse
from proxy.wire.sse import Settle, settled


class Dialect:
    """What a dialect writes: its requests read, its answers, stream events and errors written."""

    name = ""
    # Whether the client decides if usage comes in a stream (OpenAI's stream_options); elsewhere it always does.
    usage_optional = False
    # Whether its clients skip SSE comment lines, so a streamed `auto` answer can start at once and say what the
    # cascade does while it works (edge/early_stream.py); otherwise the stream starts once the answer does.
    comments_allowed = True

    def chat_request(self, body: Any, path_params: Mapping[str, str]) -> ChatRequest:
        """A decoded body (and the path's parameters) as the pipeline's request; BadRequest naming the bad field."""
        raise NotImplementedError

    def answer(self, answer: dict[str, Any], hermes: dict[str, Any]) -> dict[str, Any]:
        """A whole `chat.completion`, and Hermes's verdict, as this dialect's response body."""
        raise NotImplementedError

    def events(self, items: AsyncIterator[dict[str, Any] | HermesError]) -> AsyncIterator[bytes]:
        """The SSE bytes of a settled stream (sse.py): its chunks, the last with "hermes", or an error last."""
        raise NotImplementedError

    def error_body(self, error: HermesError) -> dict[str, Any]:
        """An error in this dialect's JSON shape."""
        raise NotImplementedError

    def error_event(self, error: HermesError) -> bytes:
        """An error once a stream has begun: the SSE bytes that end it in this dialect."""
        raise NotImplementedError

    def error_response(self, error: HermesError) -> JSONResponse:
        headers = {} if error.retry else {"x-should-retry": "false"}
        if error.retry_after:
            headers["retry-after"] = error.retry_after
        return JSONResponse(self.error_body(error), status_code=error.status, headers=headers)

    def json_response(self, answer: dict[str, Any], hermes: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
        """A non-streamed answer with Hermes's verdict."""
        return FastJSONResponse(self.answer(answer, hermes), headers=headers)

    def sse_response(self, chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle,
                     headers: dict[str, str]) -> ListeningStreamingResponse:
        """Stream `chunks` as server-sent events; `settle` is called exactly once.

        A failure after the first byte becomes this dialect's error event: the
        status line has gone, and OpenCode re-requests about 9 times a second
        when a streamed 200 carries anything but SSE.
        """
        return ListeningStreamingResponse(self.stream(chunks, include_usage, settle), media_type="text/event-stream",
                                          headers={"cache-control": "no-cache", **headers})

    async def stream(self, chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle
                     ) -> AsyncIterator[bytes]:
        """The SSE bytes of `chunks`, settled (sse.py) and written in this dialect."""
        async with aclosing(settled(chunks, include_usage or not self.usage_optional, settle)) as items:
            async with aclosing(self.events(items)) as events:
                async for event in events:
                    yield event
