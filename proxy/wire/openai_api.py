"""The OpenAI wire format: render errors, encode SSE; requests are checked in validate.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from proxy.chat import ChatRequest
from proxy.errors import HermesError
from proxy.wire.dialect import Dialect
from proxy.wire.json_codec import dumps
from proxy.wire.sse import Settle
from proxy.wire.validate import parse_chat_request

SSE_DONE = b"data: [DONE]\n\n"


class OpenAIChat(Dialect):
    """OpenAI Chat Completions, Hermes's own dialect: requests checked in validate.py, answers as they are."""

    name = "openai"
    usage_optional = True

    def chat_request(self, body: Any, path_params: Mapping[str, str]) -> ChatRequest:
        return parse_chat_request(body)

    def answer(self, answer: dict[str, Any], hermes: dict[str, Any]) -> dict[str, Any]:
        return answer | {"hermes": hermes}

    async def events(self, items: AsyncIterator[dict[str, Any] | HermesError]) -> AsyncIterator[bytes]:
        async for item in items:
            if isinstance(item, HermesError):
                yield encode_sse(error_body(item))
                break
            yield encode_sse(item)
        yield SSE_DONE

    def error_body(self, error: HermesError) -> dict[str, Any]:
        return error_body(error)

    def error_event(self, error: HermesError) -> bytes:
        return encode_sse(error_body(error)) + SSE_DONE


def error_body(error: HermesError) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": error.message, "type": error.type, "param": None, "code": error.code}}


def encode_sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying a JSON object."""
    return b"data: " + dumps(data) + b"\n\n"


OPENAI = OpenAIChat()
error_response = OPENAI.error_response


def sse_events(chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle) -> AsyncIterator[bytes]:
    """The SSE bytes of `chunks`, then `data: [DONE]`; `settle` is called exactly once (sse.py)."""
    return OPENAI.stream(chunks, include_usage, settle)


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
                call = self._calls.setdefault(part.get("index", 0), {"id": None, "name": "", "arguments": ""})
                call["id"] = call["id"] or part.get("id")  # the client sends it back: the session's link (session.py)
                function = part.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""

    def message(self) -> dict[str, Any]:
        calls = [{"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
                 for call in (self._calls[i] for i in sorted(self._calls))]
        return {"role": "assistant", "content": "".join(self._text), **({"tool_calls": calls} if calls else {})}
