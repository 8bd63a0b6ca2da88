"""Request bodies as they arrive: decoded strictly, and chat requests checked field by field.

A bad request is rejected here, before anything else runs, so it never
reaches a model, the store or a response header, and never turns into a 500.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from proxy.chat import ChatRequest
from proxy.errors import BadRequest, BodyTooLarge
from proxy.wire.json_codec import decode_json
from proxy.wire.params import PASS_THROUGH, check_params, is_kind, json_type, shown

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
IMAGE_DETAILS = frozenset({"auto", "low", "high"})


async def read_json_body(request: Request, max_body_bytes: int) -> Any:
    """The request's JSON body, refusing one over `max_body_bytes` before reading it all; see `decode_json`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise BodyTooLarge(_too_large(max_body_bytes))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_body_bytes:
            raise BodyTooLarge(_too_large(max_body_bytes))
    return decode_json(bytes(body))


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
        if not _plainly_valid(message):
            _check_message(index, message)
    stream = _optional(body, "stream", bool, "a boolean", False)
    options = _optional(body, "stream_options", dict, "an object", {})
    include_usage = _optional(options, "include_usage", bool, "a boolean", False, prefix="stream_options.")
    if body.get("n", 1) != 1:
        raise BadRequest("'n' must be 1: Hermes returns one choice per request.", code="invalid_n")
    check_params(body)
    params = {key: body[key] for key in PASS_THROUGH if body.get(key) is not None}
    return ChatRequest(model=model.strip(), messages=messages, stream=stream, include_usage=include_usage, params=params)


def _optional(body: dict, key: str, kind: type, name: str, default: Any, prefix: str = "") -> Any:  # type: ignore[type-arg]
    value = body.get(key)
    if value is None:
        return default
    if not is_kind(value, kind):
        raise BadRequest(f"'{prefix}{key}' must be {name}, got {json_type(value)}.", code=f"invalid_{key}")
    return value


def _plainly_valid(message: Any) -> bool:
    """True for the shapes nearly every message of an agent's history has, each of which `_check_message` accepts.

    A role and a string content, and at most a tool result's id or a list of well-formed tool calls: in half
    the time of the full check, which every other message (and every message this cannot vouch for) still gets.
    A test checks that this never accepts what the full check refuses.
    """
    if type(message) is not dict:
        return False
    role = message.get("role")
    if type(role) is not str or role not in ROLES or type(message.get("content")) is not str:
        return False
    size = len(message)
    if size == 2:
        return True
    if size != 3:
        return False
    if type(message.get("tool_call_id")) is str:
        return True
    calls = message.get("tool_calls")
    if type(calls) is not list:
        return False
    for call in calls:
        function = call.get("function") if type(call) is dict else None
        if (type(function) is not dict or call.get("type", "function") != "function"
                or type(call.get("id", "")) is not str):
            return False
        name = function.get("name")
        if type(name) is not str or not name or type(function.get("arguments")) is not str:
            return False
    return True


def _check_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest(f"'{where}' must be an object with 'role' and 'content'.", code="invalid_messages")
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise BadRequest(f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {shown(role)}.",
                         code="invalid_messages")
    content = message.get("content")
    if content is None:
        # Only an assistant turn that calls tools (or refuses) may leave content out.
        if role != "assistant":
            raise BadRequest(f"'{where}.content' is required for role '{role}'.", code="invalid_messages")
    elif isinstance(content, list):
        for part_index, part in enumerate(content):
            _check_part(f"{where}.content[{part_index}]", part, role)
    elif not isinstance(content, str):
        raise BadRequest(f"'{where}.content' must be a string or an array of parts, got {json_type(content)}.",
                         code="invalid_messages")
    for key in ("name", "tool_call_id", "refusal"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise BadRequest(f"'{where}.{key}' must be a string, got {json_type(message[key])}.",
                             code="invalid_messages")
    if message.get("tool_calls") is not None:
        _check_tool_calls(where, message["tool_calls"])
    call = message.get("function_call")  # OpenAI's legacy form of one tool call; LiteLLM raises on any other shape
    if call is not None and not (role == "assistant" and isinstance(call, dict) and isinstance(call.get("name"), str)
                                 and isinstance(call.get("arguments"), str)):
        raise BadRequest(f"'{where}.function_call' must be an object with string 'name' and 'arguments', on an "
                         "assistant message.", code="invalid_messages")


# OpenAI's content part types. A text or refusal part carries a string under its type's
# name, the others an object with these strings (a file: file_data or file_id, checked below).
PART_OBJECTS: dict[str, tuple[str, ...]] = {"image_url": ("url",), "input_audio": ("data", "format"), "file": ()}
PART_TYPES = ("text", "refusal", *PART_OBJECTS)


def _check_part(where: str, part: Any, role: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str):
        raise BadRequest(f"'{where}' must be an object with a 'type'.", code="invalid_messages")
    if kind not in PART_TYPES:
        raise BadRequest(f"'{where}.type' must be one of {', '.join(PART_TYPES)}; got {shown(kind)}.",
                         code="invalid_messages")
    if kind in ("text", "refusal"):
        if not isinstance(part.get(kind), str):
            raise BadRequest(f"'{where}.{kind}' must be a string, got {json_type(part.get(kind))}.",
                             code="invalid_messages")
        if kind == "refusal" and role != "assistant":
            raise BadRequest(f"'{where}': a refusal part belongs in an assistant message, not {role!r}.",
                             code="invalid_messages")
        return
    inner = part.get(kind)
    if not isinstance(inner, dict):
        raise BadRequest(f"'{where}.{kind}' must be an object, got {json_type(inner)}.", code="invalid_messages")
    for name in PART_OBJECTS[kind]:
        if not isinstance(inner.get(name), str) or not inner[name]:
            raise BadRequest(f"'{where}.{kind}.{name}' is required and must be a non-empty string.",
                             code="invalid_messages")
    detail = inner.get("detail") if kind == "image_url" else None
    if detail is not None and not (isinstance(detail, str) and detail in IMAGE_DETAILS):
        raise BadRequest(f"'{where}.image_url.detail' must be auto, low or high; got {shown(detail)}.",
                         code="invalid_messages")
    if kind == "file":
        for name in ("file_data", "file_id", "filename"):
            if inner.get(name) is not None and not isinstance(inner[name], str):
                raise BadRequest(f"'{where}.file.{name}' must be a string.", code="invalid_messages")
        if not inner.get("file_data") and not inner.get("file_id"):
            raise BadRequest(f"'{where}.file' needs 'file_data' (base64) or 'file_id'.", code="invalid_messages")


def _check_tool_calls(where: str, calls: Any) -> None:
    if not isinstance(calls, list):
        raise BadRequest(f"'{where}.tool_calls' must be an array.", code="invalid_messages")
    for index, call in enumerate(calls):
        at = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise BadRequest(f"'{at}' must be {{\"id\", \"type\": \"function\", \"function\": {{...}}}}.",
                             code="invalid_messages")
        if call.get("type", "function") != "function" or not isinstance(call.get("id", ""), str):
            raise BadRequest(f"'{at}' must have \"type\": \"function\" and a string 'id'.", code="invalid_messages")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise BadRequest(f"'{at}.function.name' must be a non-empty string.", code="invalid_messages")
        if not isinstance(function.get("arguments"), str):
            raise BadRequest(f"'{at}.function.arguments' must be a string of JSON, got "
                             f"{json_type(function.get('arguments'))}.", code="invalid_messages")
