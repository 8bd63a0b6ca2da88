"""Request bodies as they arrive: decoded strictly, and chat requests checked field by field.

A bad request is rejected here, before anything else runs, so it never
reaches a model, the store or a response header, and never turns into a 500.
`openai_api.py` re-exports the names other modules import.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request

from proxy.chat import ChatRequest
from proxy.errors import BadRequest, BodyTooLarge

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
TOOL_CHOICES = frozenset({"none", "auto", "required"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
IMAGE_DETAILS = frozenset({"auto", "low", "high"})

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

# Decoding limits, far past what any chat body needs: 64 levels leaves room
# for nested tool schemas, and 64 digits for any count or seed, well short of
# the 4300 digits at which Python's int() gives up.
MAX_DEPTH = 64
MAX_INT_DIGITS = 64
# Integer parameters must fit SQLite's INTEGER and OpenAI's int64 `seed`.
MAX_INT = 2**63 - 1

# For the depth check on the raw bytes (in UTF-8 no multi-byte character holds an ASCII byte):
# strings, then everything but brackets, removed; braces become brackets. An unterminated
# string runs to the end, so no match is retried from the next quote (which is quadratic).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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


def decode_json(raw: bytes) -> Any:
    """`raw` decoded as JSON, or BadRequest (invalid_json) for anything a later step could not handle.

    Refused, beyond malformed JSON: bytes that are not UTF-8, NaN and
    Infinity (Python's json takes them; nothing can store or send them
    back), numbers that overflow a float, integers over MAX_INT_DIGITS
    digits, nesting deeper than MAX_DEPTH (measured before parsing, so the
    parser never recurses deeply) and lone UTF-16 surrogates (they cannot be
    written out as UTF-8 again).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"it is not UTF-8 (byte {exc.start} is {raw[exc.start:exc.start + 1]!r}).") from None
    _check_depth(raw)
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except _Refused as exc:
        raise _invalid(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise _invalid(f"{exc}.") from None
    except RecursionError:  # _check_depth should make this unreachable
        raise _invalid(f"it nests arrays and objects more than {MAX_DEPTH} levels deep.") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid("a string holds a lone UTF-16 surrogate (such as \\ud800); send valid Unicode.") from None
    return value


class _Refused(ValueError):
    """Raised from a json.loads hook; its message says why."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; send a finite number or null.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:32]} is too large for a 64-bit float.")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer has more than {MAX_INT_DIGITS} digits.")
    return int(text)


def _check_depth(raw: bytes) -> None:
    """BadRequest if `raw` nests deeper than MAX_DEPTH, without recursing.

    With strings removed, the brackets left are JSON's structure; each pass
    removes every innermost pair, so balanced brackets vanish in as many
    passes as they nest deep.
    """
    brackets = _STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return
        inner_removed = brackets.replace(b"[]", b"")
        if inner_removed == brackets:  # unbalanced, so not JSON: json.loads says where, unless it could nest far
            if len(brackets) > MAX_DEPTH:
                raise _invalid(f"its brackets do not balance ({len(brackets)} left unpaired).")
            return
        brackets = inner_removed
    if brackets:
        raise _invalid(f"it nests arrays and objects more than {MAX_DEPTH} levels deep.")


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"The request body is not valid JSON: {reason}", code="invalid_json")


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


def _shown(value: Any) -> str:
    """A value as the client sent it, cut short for an error message."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest(f"'{where}' must be an object with 'role' and 'content'.", code="invalid_messages")
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise BadRequest(f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {_shown(role)}.",
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
        raise BadRequest(f"'{where}.content' must be a string or an array of parts, got {_json_type(content)}.",
                         code="invalid_messages")
    for key in ("name", "tool_call_id", "refusal"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise BadRequest(f"'{where}.{key}' must be a string, got {_json_type(message[key])}.",
                             code="invalid_messages")
    if message.get("tool_calls") is not None:
        _check_tool_calls(where, message["tool_calls"])


# OpenAI's content part types. A text or refusal part carries a string under its type's
# name, the others an object with these strings (a file: file_data or file_id, checked below).
PART_OBJECTS: dict[str, tuple[str, ...]] = {"image_url": ("url",), "input_audio": ("data", "format"), "file": ()}
PART_TYPES = ("text", "refusal", *PART_OBJECTS)


def _check_part(where: str, part: Any, role: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str):
        raise BadRequest(f"'{where}' must be an object with a 'type'.", code="invalid_messages")
    if kind not in PART_TYPES:
        raise BadRequest(f"'{where}.type' must be one of {', '.join(PART_TYPES)}; got {_shown(kind)}.",
                         code="invalid_messages")
    if kind in ("text", "refusal"):
        if not isinstance(part.get(kind), str):
            raise BadRequest(f"'{where}.{kind}' must be a string, got {_json_type(part.get(kind))}.",
                             code="invalid_messages")
        if kind == "refusal" and role != "assistant":
            raise BadRequest(f"'{where}': a refusal part belongs in an assistant message, not {role!r}.",
                             code="invalid_messages")
        return
    inner = part.get(kind)
    if not isinstance(inner, dict):
        raise BadRequest(f"'{where}.{kind}' must be an object, got {_json_type(inner)}.", code="invalid_messages")
    for name in PART_OBJECTS[kind]:
        if not isinstance(inner.get(name), str) or not inner[name]:
            raise BadRequest(f"'{where}.{kind}.{name}' is required and must be a non-empty string.",
                             code="invalid_messages")
    detail = inner.get("detail") if kind == "image_url" else None
    if detail is not None and not (isinstance(detail, str) and detail in IMAGE_DETAILS):
        raise BadRequest(f"'{where}.image_url.detail' must be auto, low or high; got {_shown(detail)}.",
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
                             f"{_json_type(function.get('arguments'))}.", code="invalid_messages")


def _check_params(body: dict) -> None:  # type: ignore[type-arg]
    _range(body, "temperature", 0, 2)
    _range(body, "top_p", 0, 1)
    _range(body, "presence_penalty", -2, 2)
    _range(body, "frequency_penalty", -2, 2)
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (not _is(value, int) or not 1 <= value <= MAX_INT):
            raise BadRequest(f"'{key}' must be a positive integer, got {_shown(value)}.", code=f"invalid_{key}")
    seed = body.get("seed")
    if seed is not None and (not _is(seed, int) or not -MAX_INT - 1 <= seed <= MAX_INT):
        raise BadRequest(f"'seed' must be a 64-bit integer, got {_shown(seed)}.", code="invalid_seed")
    _optional(body, "parallel_tool_calls", bool, "a boolean", None)
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise BadRequest("'stop' must be a string or an array of strings.", code="invalid_stop")
    names = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), names)
    _check_response_format(body.get("response_format"))


def _range(body: dict, key: str, low: float, high: float) -> None:  # type: ignore[type-arg]
    value = body.get(key)
    if value is None:
        return
    if not _is(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"'{key}' must be a number from {low} to {high}, got {_shown(value)}.", code=f"invalid_{key}")


def _check_tools(tools: Any) -> set[str]:
    """The names of the functions offered, once each tool is checked."""
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise BadRequest(f"'tools' must be an array, got {_json_type(tools)}.", code="invalid_tools")
    names = set()
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise BadRequest(
                f"'tools[{index}]' must be {{\"type\": \"function\", \"function\": {{...}}}}.", code="invalid_tools"
            )
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise BadRequest(f"'tools[{index}].function.name' must be a non-empty string.", code="invalid_tools")
        if function.get("description") is not None and not isinstance(function["description"], str):
            raise BadRequest(f"'tools[{index}].function.description' must be a string.", code="invalid_tools")
        if "parameters" in function:
            _check_schema(f"tools[{index}].function.parameters", function["parameters"])
        names.add(function["name"])
    return names


def _check_schema(where: str, schema: Any) -> None:
    # What LiteLLM's token counter and the scorer read must have its JSON Schema type (as
    # OpenAI requires: an array needs its `items`); the rest is the model's business.
    if not isinstance(schema, dict):
        raise BadRequest(f"'{where}' must be a JSON Schema object.", code="invalid_tools")
    for key, kind, name in (("$schema", str, "a string"), ("properties", dict, "an object of schemas"),
                            ("required", list, "an array of property names"), ("enum", list, "an array")):
        if schema.get(key) is not None and not isinstance(schema[key], kind):
            raise BadRequest(f"'{where}.{key}' must be {name}, got {_json_type(schema[key])}.", code="invalid_tools")
    if schema.get("type") == "array":
        _check_schema(f"{where}.items", schema.get("items"))
    for name, value in (schema.get("properties") or {}).items():
        _check_schema(f"{where}.properties.{name}", value)


def _check_tool_choice(tool_choice: Any, offered: set[str]) -> None:
    if tool_choice is None or (isinstance(tool_choice, str) and tool_choice in TOOL_CHOICES):
        return
    shape = ("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}"
             f"; got {_shown(tool_choice)}.")
    if not isinstance(tool_choice, dict) or tool_choice.get("type") != "function":
        raise BadRequest(shape, code="invalid_tool_choice")
    function = tool_choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequest(shape, code="invalid_tool_choice")
    if name not in offered:
        raise BadRequest(f"'tool_choice' names the function {name!r}, which is not in 'tools'.",
                         code="invalid_tool_choice")


def _check_response_format(response_format: Any) -> None:
    if response_format is None:
        return
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if not isinstance(kind, str) or kind not in RESPONSE_FORMATS:
        raise BadRequest("'response_format' must be an object whose 'type' is text, json_object or json_schema.",
                         code="invalid_response_format")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise BadRequest("'response_format.json_schema' must be an object with a 'name' (and a 'schema').",
                             code="invalid_response_format")
        if spec.get("schema") is not None and not isinstance(spec["schema"], dict):
            raise BadRequest("'response_format.json_schema.schema' must be a JSON Schema object.",
                             code="invalid_response_format")
