"""The parameters a chat request passes through to its model, and the checks on their shape.

Hermes checks what it can cheaply (types, OpenAI's fixed ranges) so a bad
value is a clear 400 naming the field rather than an upstream's error or a
500; the values only a model knows (which efforts or tiers it offers) are
the model's to judge, and its refusal reaches the client in its own words.
"""

from __future__ import annotations

import json
from typing import Any

from proxy.errors import BadRequest

TOOL_CHOICES = frozenset({"none", "auto", "required"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
# Integer parameters must fit SQLite's INTEGER and OpenAI's int64 `seed`.
MAX_INT = 2**63 - 1

# Parameters every model takes: LiteLLM maps them for Ollama, and OpenRouter for its providers.
PORTABLE_PARAMS = (
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
# What OpenRouter also takes (openrouter.ai/docs/api-reference/parameters), passed on to cloud
# models only. Left out on purpose: `models` and `route` (OpenRouter's fallback to other
# models), which would let a request reach a model, and a price, that the budget tier and
# the reservation never saw; and `plugins` (web search), billed per result beyond the tokens.
CLOUD_PARAMS = (
    "reasoning_effort",
    "reasoning",
    "verbosity",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "user",
    "metadata",
    "prediction",
    "service_tier",
    "modalities",
    "top_k",
    "min_p",
    "repetition_penalty",
    "provider",
    "transforms",
)
# Parameters passed through to the model unchanged, once validated. Anything
# else a client sends is ignored rather than forwarded, so an option one
# upstream does not know cannot fail the request.
PASS_THROUGH = PORTABLE_PARAMS + CLOUD_PARAMS


def is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    """Whether a decoded JSON value is of `kind`."""
    # JSON true/false are Python bools, which are also ints: keep them apart.
    if isinstance(value, bool):
        return kind is bool or (isinstance(kind, tuple) and bool in kind)
    return isinstance(value, kind)


def is_one_of(value: Any, names: frozenset[str] | tuple[str, ...]) -> bool:
    """Whether a decoded JSON value is one of `names` (a list or an object is never, and never raises)."""
    return isinstance(value, str) and value in names


def json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def shown(value: Any) -> str:
    """A value as the client sent it, cut short for an error message."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_params(body: dict) -> None:  # type: ignore[type-arg]
    """BadRequest naming the first parameter in PASS_THROUGH whose shape is wrong."""
    _range(body, "temperature", 0, 2)
    _range(body, "top_p", 0, 1)
    _range(body, "presence_penalty", -2, 2)
    _range(body, "frequency_penalty", -2, 2)
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (not is_kind(value, int) or not 1 <= value <= MAX_INT):
            raise BadRequest(f"'{key}' must be a positive integer, got {shown(value)}.", code=f"invalid_{key}")
    seed = body.get("seed")
    if seed is not None and (not is_kind(seed, int) or not -MAX_INT - 1 <= seed <= MAX_INT):
        raise BadRequest(f"'seed' must be a 64-bit integer, got {shown(seed)}.", code="invalid_seed")
    _typed(body, "parallel_tool_calls", bool, "a boolean")
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise BadRequest("'stop' must be a string or an array of strings.", code="invalid_stop")
    names = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), names)
    _check_response_format(body.get("response_format"))
    _check_openrouter_params(body)


def _range(body: dict, key: str, low: float, high: float) -> None:  # type: ignore[type-arg]
    value = body.get(key)
    if value is None:
        return
    if not is_kind(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"'{key}' must be a number from {low} to {high}, got {shown(value)}.", code=f"invalid_{key}")


def _check_tools(tools: Any) -> set[str]:
    """The names of the functions offered, once each tool is checked."""
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise BadRequest(f"'tools' must be an array, got {json_type(tools)}.", code="invalid_tools")
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
            raise BadRequest(f"'{where}.{key}' must be {name}, got {json_type(schema[key])}.", code="invalid_tools")
    if schema.get("type") == "array":
        _check_schema(f"{where}.items", schema.get("items"))
    for name, value in (schema.get("properties") or {}).items():
        _check_schema(f"{where}.properties.{name}", value)


def _check_tool_choice(tool_choice: Any, offered: set[str]) -> None:
    if tool_choice is None or (isinstance(tool_choice, str) and tool_choice in TOOL_CHOICES):
        return
    shape = ("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}"
             f"; got {shown(tool_choice)}.")
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


def _check_openrouter_params(body: dict) -> None:  # type: ignore[type-arg]
    for key in ("reasoning_effort", "verbosity", "service_tier", "user"):
        _typed(body, key, str, "a string")
    _typed(body, "logprobs", bool, "a boolean")
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None and (not is_kind(top_logprobs, int) or not 0 <= top_logprobs <= 20):
        raise BadRequest(f"'top_logprobs' must be an integer from 0 to 20, got {shown(top_logprobs)}.",
                         code="invalid_top_logprobs")
    top_k = body.get("top_k")
    if top_k is not None and (not is_kind(top_k, int) or not 0 <= top_k <= MAX_INT):
        raise BadRequest(f"'top_k' must be a whole number of 0 or more, got {shown(top_k)}.", code="invalid_top_k")
    _range(body, "min_p", 0, 1)
    penalty = body.get("repetition_penalty")
    if penalty is not None and (not is_kind(penalty, (int, float)) or not 0 < penalty <= 2):
        raise BadRequest(f"'repetition_penalty' must be a number above 0 and at most 2, got {shown(penalty)}.",
                         code="invalid_repetition_penalty")
    for key in ("modalities", "transforms"):
        value = body.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise BadRequest(f"'{key}' must be an array of strings, got {shown(value)}.", code=f"invalid_{key}")
    _typed(body, "provider", dict, "an object (OpenRouter's provider preferences)")
    _check_reasoning(body.get("reasoning"))
    _check_string_map(body, "metadata")
    _check_logit_bias(body.get("logit_bias"))
    _check_prediction(body.get("prediction"))


def _typed(body: dict, key: str, kind: type, name: str) -> None:  # type: ignore[type-arg]
    value = body.get(key)
    if value is not None and not is_kind(value, kind):
        raise BadRequest(f"'{key}' must be {name}, got {json_type(value)}.", code=f"invalid_{key}")


def _check_reasoning(reasoning: Any) -> None:
    if reasoning is None:
        return
    if not isinstance(reasoning, dict):
        raise BadRequest(f"'reasoning' must be an object such as {{\"effort\": \"high\"}}, got {json_type(reasoning)}.",
                         code="invalid_reasoning")
    for key, kind, name in (("effort", str, "a string"), ("exclude", bool, "a boolean"), ("enabled", bool, "a boolean")):
        if reasoning.get(key) is not None and not is_kind(reasoning[key], kind):
            raise BadRequest(f"'reasoning.{key}' must be {name}, got {json_type(reasoning[key])}.",
                             code="invalid_reasoning")
    max_tokens = reasoning.get("max_tokens")
    if max_tokens is not None and (not is_kind(max_tokens, int) or not 0 <= max_tokens <= MAX_INT):
        raise BadRequest(f"'reasoning.max_tokens' must be a whole number of 0 or more, got {shown(max_tokens)}.",
                         code="invalid_reasoning")


def _check_string_map(body: dict, key: str) -> None:  # type: ignore[type-arg]
    value = body.get(key)
    if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
        raise BadRequest(f"'{key}' must be an object of strings, got {shown(value)}.", code=f"invalid_{key}")


def _check_logit_bias(bias: Any) -> None:
    if bias is None:
        return
    if not isinstance(bias, dict) or not all(
        key.isdigit() and is_kind(value, (int, float)) and -100 <= value <= 100 for key, value in bias.items()
    ):
        raise BadRequest(f"'logit_bias' must map token ids to numbers from -100 to 100, got {shown(bias)}.",
                         code="invalid_logit_bias")


def _check_prediction(prediction: Any) -> None:
    if prediction is None:
        return
    content = prediction.get("content") if isinstance(prediction, dict) else None
    parts_ok = isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content)
    if not isinstance(prediction, dict) or prediction.get("type") != "content" or not (isinstance(content, str) or parts_ok):
        raise BadRequest("'prediction' must be {\"type\": \"content\", \"content\": a string or text parts}.",
                         code="invalid_prediction")
