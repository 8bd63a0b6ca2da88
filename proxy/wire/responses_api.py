"""OpenAI Responses (`POST /v1/responses`), Codex CLI's only dialect, through LiteLLM's Responses <-> chat bridge.

As for Anthropic's (anthropic_api.py), a request's shape is checked here
before LiteLLM's transformation reads it, and the chat request it makes is
checked as any other. Streams go back as Responses events (`response.created`,
`response.output_item.added`, `response.output_text.delta`,
`response.function_call_arguments.delta`/`.done`, `response.output_item.done`,
`response.completed` with the usage), through LiteLLM's streaming iterator;
`response.completed` carries Hermes's verdict as an extra "hermes" field, as
the non-streamed response does. A failure once the stream has begun is a
`response.failed` event, which Codex reports as the turn's error. A cloud
call goes out in Responses' own dialect instead (responses_native.py), and
its response or events come back as they came, plus the verdict.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from proxy.chat import ChatRequest
from proxy.errors import BadRequest, HermesError
from proxy.wire.dialect import Dialect
from proxy.wire.litellm_stream import LiteLLMChunks, StreamFailed
from proxy.wire.openai_api import error_body
from proxy.wire.params import is_kind, is_one_of, json_type, shown
from proxy.wire.responses_native import ResponsesNative
from proxy.wire.validate import parse_chat_request

# What the transformation reads besides `model` and `input`; the rest (store, include,
# prompt_cache_key, client_metadata, ...) means nothing to a chat model, and is not passed on.
PASSED = ("instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens", "temperature",
          "top_p", "reasoning", "text", "metadata", "user")
ITEM_ROLES = frozenset({"user", "assistant", "system", "developer"})
EFFORTS = frozenset({"minimal", "low", "medium", "high", "xhigh", "none"})


class OpenAIResponses(Dialect):
    """OpenAI Responses: Codex CLI, and the `openai` SDK's `client.responses`."""

    name = "responses"

    def chat_request(self, body: Any, path_params: Mapping[str, str]) -> ChatRequest:
        check_responses_request(body)
        params = {key: body[key] for key in PASSED if body.get(key) is not None}
        try:
            translated = _transformation().transform_responses_api_request_to_chat_completion_request(
                model=body["model"], input=body["input"], responses_api_request=params, stream=body.get("stream"))
        except Exception as exc:  # the one boundary where LiteLLM's transformation reads a client's body
            raise BadRequest(f"The request could not be read as an OpenAI Responses request: {exc}") from None
        chat = dict(translated)
        # LiteLLM carries `reasoning` over whole; chat takes only its effort, as a string.
        chat.pop("reasoning_effort", None)
        effort = (body.get("reasoning") or {}).get("effort")
        if effort is not None:
            chat["reasoning_effort"] = effort
        chat["stream_options"] = {"include_usage": True}  # response.completed carries the usage
        return dataclasses.replace(parse_chat_request(chat), native=ResponsesNative(body))

    def answer(self, answer: dict[str, Any], hermes: dict[str, Any]) -> dict[str, Any]:
        if "native" in answer:  # relayed in Responses' own dialect: as it came
            return answer["native"] | {"hermes": hermes}
        response = _transformation().transform_chat_completion_response_to_responses_api_response(
            request_input="", responses_api_request={}, chat_completion_response=answer)
        return response.model_dump(mode="json", exclude_none=True) | {"hermes": hermes}

    async def events(self, items: AsyncIterator[dict[str, Any] | HermesError]) -> AsyncIterator[bytes]:
        from litellm.responses.litellm_completion_transformation.streaming_iterator import (
            LiteLLMCompletionStreamingIterator,
        )

        chunks = LiteLLMChunks(items)
        events = LiteLLMCompletionStreamingIterator(model="", litellm_custom_stream_wrapper=chunks,  # type: ignore[arg-type]
                                                    request_input="", responses_api_request={})
        try:
            if await chunks.first_is_native():  # relayed in Responses' own dialect: its events as they came
                async for native in chunks.native_events():
                    yield encode_event(native)
                return
            async for event in events:
                data = event.model_dump(mode="json", exclude_none=True) if hasattr(event, "model_dump") else dict(event)
                if data.get("type") == "response.completed" and chunks.hermes is not None:
                    data["hermes"] = chunks.hermes
                yield encode_event(data)
        except StreamFailed as failed:
            yield self.error_event(failed.error)

    def error_body(self, error: HermesError) -> dict[str, Any]:
        return error_body(error)

    def error_event(self, error: HermesError) -> bytes:
        return encode_event({"type": "response.failed", "response": {
            "object": "response", "status": "failed", "output": [],
            "error": {"code": error.code, "message": error.message}}})


RESPONSES = OpenAIResponses()


def encode_event(event: dict[str, Any]) -> bytes:
    """One Responses server-sent event: `event: <type>`, then its JSON."""
    data = json.dumps(event, separators=(",", ":"), default=str)
    return f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode()


def check_responses_request(body: Any) -> None:
    """BadRequest naming the first field of a Responses body that is not the shape the API documents."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise BadRequest("'model' is required and must be a non-empty string, e.g. \"auto\".", code="invalid_model")
    given = body.get("input")
    if isinstance(given, str):
        if not given:
            raise BadRequest("'input' must not be empty.", code="invalid_input")
    elif isinstance(given, list) and given:
        for index, item in enumerate(given):
            _check_item(f"input[{index}]", item)
    else:
        raise BadRequest(f"'input' is required: a string, or a non-empty array of items; got {json_type(given)}.",
                         code="invalid_input")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise BadRequest(f"'tools' must be an array, got {json_type(tools)}.", code="invalid_tools")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
                raise BadRequest(f"'tools[{index}]' must be an object with a 'type'.", code="invalid_tools")
            if tool["type"] == "function" and not (isinstance(tool.get("name"), str) and tool["name"]):
                raise BadRequest(f"'tools[{index}].name' must be a non-empty string.", code="invalid_tools")
    for key, kind, name in (("instructions", str, "a string"), ("stream", bool, "a boolean"),
                            ("temperature", (int, float), "a number"), ("top_p", (int, float), "a number"),
                            ("parallel_tool_calls", bool, "a boolean"), ("reasoning", dict, "an object"),
                            ("text", dict, "an object"), ("tool_choice", (str, dict), "a string or an object")):
        if body.get(key) is not None and not is_kind(body[key], kind):
            raise BadRequest(f"'{key}' must be {name}, got {json_type(body[key])}.", code=f"invalid_{key}")
    limit = body.get("max_output_tokens")
    if limit is not None and not (is_kind(limit, int) and limit > 0):
        raise BadRequest(f"'max_output_tokens' must be a positive integer, got {shown(limit)}.",
                         code="invalid_max_output_tokens")
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None and not is_one_of(effort, EFFORTS):
        raise BadRequest(f"'reasoning.effort' must be one of {', '.join(sorted(EFFORTS))}; got {shown(effort)}.",
                         code="invalid_reasoning")


def _check_item(where: str, item: Any) -> None:
    if not isinstance(item, dict):
        raise BadRequest(f"'{where}' must be an object.", code="invalid_input")
    kind = item.get("type", "message")
    if kind == "message" or (kind is None and "role" in item):
        if not is_one_of(item.get("role"), ITEM_ROLES):
            raise BadRequest(f"'{where}.role' must be one of {', '.join(sorted(ITEM_ROLES))}; got "
                             f"{shown(item.get('role'))}.", code="invalid_input")
        content = item.get("content")
        if isinstance(content, list):
            for index, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise BadRequest(f"'{where}.content[{index}]' must be an object with a 'type'.",
                                     code="invalid_input")
                if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
                    raise BadRequest(f"'{where}.content[{index}].text' must be a string.", code="invalid_input")
        elif not isinstance(content, str):
            raise BadRequest(f"'{where}.content' must be a string or an array of parts, got {json_type(content)}.",
                             code="invalid_input")
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise BadRequest(f"'{where}.{name}' must be a string.", code="invalid_input")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise BadRequest(f"'{where}.call_id' must be a string.", code="invalid_input")
        if not isinstance(item.get("output"), (str, list)):
            raise BadRequest(f"'{where}.output' must be a string or an array.", code="invalid_input")
    elif not isinstance(kind, str):
        raise BadRequest(f"'{where}.type' must be a string.", code="invalid_input")


def _transformation() -> Any:
    from litellm.responses.litellm_completion_transformation.transformation import (
        LiteLLMCompletionResponsesConfig,
    )

    return LiteLLMCompletionResponsesConfig
