"""The OpenAI wire format: validate chat requests, render errors, encode SSE.

A bad request is rejected here, before anything else runs, so it never
reaches a model and never turns into a 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from proxy.errors import BadRequest, BodyTooLarge, ClientClosed, HermesError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
TOOL_CHOICES = frozenset({"none", "auto", "required"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})

# Parameters passed through to the model unchanged, once validated. Anything
# else a client sends is ignored rather than forwarded, so an option one
# upstream does not know cannot fail the request.
PASS_THROUGH = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
)

SSE_DONE = b"data: [DONE]\n\n"


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


def message_text(message: dict[str, Any]) -> str:
    """A message's text: the string content, or its text parts joined (images and files ignored)."""
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


async def read_json_body(request: Request, max_body_bytes: int) -> Any:
    """The request's JSON body, refusing one over `max_body_bytes` before reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise BodyTooLarge(_too_large(max_body_bytes))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_body_bytes:
            raise BodyTooLarge(_too_large(max_body_bytes))
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from None


def json_object(body: Any, known: frozenset[str] | set[str]) -> dict[str, Any]:
    """`body` as a JSON object with only `known` keys, or BadRequest naming the first stranger."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise BadRequest(f"Unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}.")
    return body


def _too_large(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes (server.max_body_bytes)."


def parse_chat_request(body: Any) -> ChatRequest:
    """Validate a decoded chat body; raise BadRequest naming the first bad field."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string, e.g. \"auto\".", code="invalid_model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' is required and must be a non-empty array.", code="invalid_messages")
    for index, message in enumerate(messages):
        _check_message(index, message)
    stream = _optional(body, "stream", bool, "a boolean", False)
    options = _optional(body, "stream_options", dict, "an object", {})
    include_usage = _optional(options, "include_usage", bool, "a boolean", False, prefix="stream_options.")
    if body.get("n", 1) != 1:
        raise BadRequest("'n' must be 1: Hermes returns one choice per request.", code="invalid_n")
    _check_params(body)
    params = {key: body[key] for key in PASS_THROUGH if body.get(key) is not None}
    return ChatRequest(model=model.strip(), messages=messages, stream=stream, include_usage=include_usage, params=params)


def _optional(body: dict, key: str, kind: type, name: str, default: Any, prefix: str = "") -> Any:  # type: ignore[type-arg]
    value = body.get(key)
    if value is None:
        return default
    if not _is(value, kind):
        raise BadRequest(f"'{prefix}{key}' must be {name}, got {_json_type(value)}.", code=f"invalid_{key}")
    return value


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    # JSON true/false are Python bools, which are also ints: keep them apart.
    if isinstance(value, bool):
        return kind is bool or (isinstance(kind, tuple) and bool in kind)
    return isinstance(value, kind)


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _check_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest(f"'{where}' must be an object with 'role' and 'content'.", code="invalid_messages")
    role = message.get("role")
    if role not in ROLES:
        raise BadRequest(
            f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {json.dumps(role)}.",
            code="invalid_messages",
        )
    content = message.get("content")
    if content is None:
        # Only an assistant turn that calls tools may leave content out.
        if role != "assistant":
            raise BadRequest(f"'{where}.content' is required for role '{role}'.", code="invalid_messages")
    elif isinstance(content, list):
        for part_index, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequest(
                    f"'{where}.content[{part_index}]' must be an object with a 'type'.", code="invalid_messages"
                )
    elif not isinstance(content, str):
        raise BadRequest(
            f"'{where}.content' must be a string or an array of parts, got {_json_type(content)}.",
            code="invalid_messages",
        )
    if "tool_calls" in message and not isinstance(message["tool_calls"], list):
        raise BadRequest(f"'{where}.tool_calls' must be an array.", code="invalid_messages")


def _check_params(body: dict) -> None:  # type: ignore[type-arg]
    _range(body, "temperature", 0, 2)
    _range(body, "top_p", 0, 1)
    _range(body, "presence_penalty", -2, 2)
    _range(body, "frequency_penalty", -2, 2)
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (not _is(value, int) or value < 1):
            raise BadRequest(f"'{key}' must be a positive integer, got {json.dumps(value)}.", code=f"invalid_{key}")
    _optional(body, "seed", int, "an integer", None)
    _optional(body, "parallel_tool_calls", bool, "a boolean", None)
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise BadRequest("'stop' must be a string or an array of strings.", code="invalid_stop")
    _check_tools(body.get("tools"), body.get("tool_choice"))
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict) or response_format.get("type") not in RESPONSE_FORMATS
    ):
        raise BadRequest(
            "'response_format' must be an object whose 'type' is text, json_object or json_schema.",
            code="invalid_response_format",
        )


def _range(body: dict, key: str, low: float, high: float) -> None:  # type: ignore[type-arg]
    value = body.get(key)
    if value is None:
        return
    if not _is(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"'{key}' must be a number from {low} to {high}, got {json.dumps(value)}.", code=f"invalid_{key}")


def _check_tools(tools: Any, tool_choice: Any) -> None:
    if tools is not None:
        if not isinstance(tools, list):
            raise BadRequest(f"'tools' must be an array, got {_json_type(tools)}.", code="invalid_tools")
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
                raise BadRequest(
                    f"'tools[{index}]' must be {{\"type\": \"function\", \"function\": {{...}}}}.", code="invalid_tools"
                )
            if not isinstance(function.get("name"), str) or not function["name"]:
                raise BadRequest(f"'tools[{index}].function.name' must be a non-empty string.", code="invalid_tools")
            if "parameters" in function and not isinstance(function["parameters"], dict):
                raise BadRequest(f"'tools[{index}].function.parameters' must be a JSON Schema object.", code="invalid_tools")
    if tool_choice is None or tool_choice in TOOL_CHOICES:
        return
    if isinstance(tool_choice, dict) and isinstance((tool_choice.get("function") or {}).get("name"), str):
        return
    raise BadRequest(
        "'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}.",
        code="invalid_tool_choice",
    )


def error_body(error: HermesError) -> dict[str, Any]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": error.message, "type": error.type, "param": None, "code": error.code}}


def error_response(error: HermesError) -> JSONResponse:
    headers = {} if error.retry else {"x-should-retry": "false"}
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
) -> StreamingResponse:
    """Stream `chunks` as server-sent events, ending with `data: [DONE]`.

    A failure after the first byte becomes an SSE error event: the status line
    has gone, and OpenCode re-requests about 9 times a second when a streamed
    200 carries anything but SSE.
    """
    return StreamingResponse(
        _events(chunks, include_usage, settle),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", **headers},
    )


async def _events(
    chunks: AsyncIterator[dict[str, Any]], include_usage: bool, settle: Settle
) -> AsyncIterator[bytes]:
    held: dict[str, Any] | None = None  # one chunk behind, so the last can carry "hermes"
    usage: dict[str, Any] | None = None
    settled = False
    try:
        try:
            async for chunk in chunks:
                if not chunk["choices"] and "usage" in chunk:
                    usage = chunk["usage"]
                    if not include_usage:
                        continue
                if held is not None:
                    yield encode_sse(held)
                held = chunk
        except HermesError as error:
            if held is not None:
                yield encode_sse(held)
            settled = True
            await settle(usage, error)
            yield encode_sse(error_body(error))
            yield SSE_DONE
            return
        settled = True
        hermes = await settle(usage, None)
        if held is not None:
            yield encode_sse(held | {"hermes": hermes})
        yield SSE_DONE
    finally:
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
