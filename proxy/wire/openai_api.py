"""The OpenAI wire format: render errors, encode SSE; requests are checked in validate.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.responses import JSONResponse

from proxy.errors import ClientClosed, HermesError
from proxy.wire.disconnect import ListeningStreamingResponse

SSE_DONE = b"data: [DONE]\n\n"
# How long the end of a stream may take to close its upstream and settle its money.
CLOSE_TIMEOUT_S = 30.0


def error_body(error: HermesError) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": error.message, "type": error.type, "param": None, "code": error.code}}


def error_response(error: HermesError) -> JSONResponse:
    headers = {} if error.retry else {"x-should-retry": "false"}
    if error.retry_after:
        headers["retry-after"] = error.retry_after
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def encode_sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying a JSON object."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def json_response(answer: dict[str, Any], hermes: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
    """A non-streamed answer with Hermes's one extra field."""
    return JSONResponse(answer | {"hermes": hermes}, headers=headers)


# Called once when a stream ends: with the usage seen (if any) and the error
# that ended it (if any); returns the "hermes" field for the final chunk.
Settle = Callable[[dict[str, Any] | None, HermesError | None], Awaitable[dict[str, Any]]]


def sse_response(
    chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle, headers: dict[str, str]
) -> ListeningStreamingResponse:
    """Stream `chunks` as server-sent events, ending with `data: [DONE]`.

    A failure after the first byte becomes an SSE error event: the status line
    has gone, and OpenCode re-requests about 9 times a second when a streamed
    200 carries anything but SSE.
    """
    return ListeningStreamingResponse(
        sse_events(chunks, include_usage, settle),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", **headers},
    )


async def sse_events(
    chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle
) -> AsyncIterator[bytes]:
    """The SSE bytes of `chunks`, then `data: [DONE]`; `settle` is called exactly once.

    Each chunk goes out the moment it arrives, until the stream's ending: the
    chunk with the finish_reason, the one with the usage, and anything after
    them are held until the stream ends, so that the last one sent carries the
    "hermes" field (which needs the usage, and so comes last). Usage is what
    Hermes asks every upstream for; a client that did not ask for it
    (`stream_options.include_usage`) gets none.
    """
    held: list[dict[str, Any]] = []  # the stream's ending, until it ends
    usage: dict[str, Any] | None = None
    settled = False
    try:
        try:
            async for chunk in chunks:
                if chunk.get("usage") is not None:
                    usage = chunk["usage"]
                    if not include_usage:
                        chunk = {key: value for key, value in chunk.items() if key != "usage"}
                        if not chunk["choices"]:
                            continue
                    held.append(chunk)
                elif held or any(choice.get("finish_reason") for choice in chunk["choices"]):
                    held.append(chunk)
                else:
                    yield encode_sse(chunk)
        except HermesError as error:
            for chunk in held:
                yield encode_sse(chunk)
            settled = True
            await settle(usage, error)
            yield encode_sse(error_body(error))
            yield SSE_DONE
            return
        settled = True
        hermes = await settle(usage, None)
        if held:
            *ending, last = held
            for chunk in ending:
                yield encode_sse(chunk)
            yield encode_sse(last | {"hermes": hermes})
        yield SSE_DONE
    finally:
        # Shielded (and bounded): when the client goes away this runs inside a cancelled scope.
        with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()  # stop the upstream call: nobody will read what it generates
            if not settled:  # the client went away mid-stream
                await settle(usage, ClientClosed("The client closed the connection mid-stream."))


async def completion_chunks(answer: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """A whole `chat.completion` as the chunks a stream of it would have carried, usage last."""
    base = {"id": answer["id"], "object": "chat.completion.chunk", "created": answer["created"], "model": answer["model"]}
    message = answer["choices"][0]["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [call | {"index": index} for index, call in enumerate(message["tool_calls"])]
    yield base | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}
    finish = answer["choices"][0]["finish_reason"]
    yield base | {"choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]}
    yield base | {"choices": [], "usage": answer["usage"]}


class StreamedMessage:
    """The assistant message a stream's chunks add up to (its text and tool calls), as the client will resend it."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, chunk: dict[str, Any]) -> None:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self._text.append(delta["content"])
            for part in delta.get("tool_calls") or ():
                call = self._calls.setdefault(part.get("index", 0), {"name": "", "arguments": ""})
                function = part.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""

    def message(self) -> dict[str, Any]:
        calls = [{"type": "function", "function": self._calls[i]} for i in sorted(self._calls)]
        return {"role": "assistant", "content": "".join(self._text), **({"tool_calls": calls} if calls else {})}
