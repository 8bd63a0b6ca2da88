"""Anthropic Messages (`POST /v1/messages`), Claude Code's dialect, through LiteLLM's Messages <-> chat bridge.

A request's shape is checked here first, so that what LiteLLM's adapter is
given cannot make it raise (and anything it raises all the same is a 400,
at this one boundary); the chat request it makes is then checked as any
other (validate.py). Answers and streams go back through the same adapter:
`message_start`, content blocks (`text_delta`, `input_json_delta`,
`thinking_delta`), `message_delta` with the stop reason and usage,
`message_stop`, which carries Hermes's verdict as an extra "hermes" field,
as the non-streamed message does; Anthropic's clients ignore both. A cloud
call goes out in Anthropic's own dialect instead (anthropic_native.py), and
its message or events come back as they came, plus the verdict.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from proxy.chat import ChatRequest
from proxy.errors import BadRequest, HermesError
from proxy.wire.anthropic_native import AnthropicNative
from proxy.wire.dialect import Dialect
from proxy.wire.litellm_stream import LiteLLMChunks, StreamFailed
from proxy.wire.params import is_kind, is_one_of, json_type, shown
from proxy.wire.validate import parse_chat_request

ROLES = frozenset({"user", "assistant", "system"})  # Claude Code sends its environment as a system message inside
# Anthropic's error types by status (docs.anthropic.com/en/api/errors); anything else is an api_error.
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 415: "invalid_request_error",
               429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}


class AnthropicMessages(Dialect):
    """Anthropic Messages: Claude Code, and anything built on Anthropic's SDKs."""

    name = "anthropic"

    def chat_request(self, body: Any, path_params: Mapping[str, str]) -> ChatRequest:
        check_messages_request(body, max_tokens_required=True)
        return dataclasses.replace(_as_chat(body), native=AnthropicNative(body))

    def answer(self, answer: dict[str, Any], hermes: dict[str, Any]) -> dict[str, Any]:
        from litellm import ModelResponse

        if "native" in answer:  # relayed in Anthropic's dialect: as it came
            return answer["native"] | {"hermes": hermes}
        message = _adapter().translate_openai_response_to_anthropic(ModelResponse(**answer))
        return _plain(dict(message)) | {"hermes": hermes}

    async def events(self, items: AsyncIterator[dict[str, Any] | HermesError]) -> AsyncIterator[bytes]:
        from litellm.llms.anthropic.experimental_pass_through.adapters.streaming_iterator import (
            AnthropicStreamWrapper,
        )

        chunks = LiteLLMChunks(items)
        try:
            if await chunks.first_is_native():  # relayed in Anthropic's dialect: its events as they came
                async for event in chunks.native_events():
                    yield encode_event(event)
                return
            events = AnthropicStreamWrapper(chunks, model=await chunks.first_model())
            async for event in events:
                if event.get("type") == "message_stop" and chunks.hermes is not None:
                    event = event | {"hermes": chunks.hermes}
                yield encode_event(_plain(event))
        except StreamFailed as failed:
            yield self.error_event(failed.error)

    def error_body(self, error: HermesError) -> dict[str, Any]:
        kind = ERROR_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}

    def error_event(self, error: HermesError) -> bytes:
        return encode_event(self.error_body(error))


ANTHROPIC = AnthropicMessages()


def count_tokens_request(body: Any) -> ChatRequest:
    """A `/v1/messages/count_tokens` body (a message request without max_tokens) as a chat request."""
    check_messages_request(body, max_tokens_required=False)
    return _as_chat(body | {"max_tokens": 1})


def encode_event(event: dict[str, Any]) -> bytes:
    """One Anthropic server-sent event: `event: <type>`, then its JSON."""
    data = json.dumps(event, separators=(",", ":"), default=str)
    return f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode()


def check_messages_request(body: Any, max_tokens_required: bool) -> None:
    """BadRequest naming the first field of an Anthropic Messages body that is not the shape the API documents."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise BadRequest("'model' is required and must be a non-empty string, e.g. \"auto\".", code="invalid_model")
    max_tokens = body.get("max_tokens")
    if (max_tokens is not None or max_tokens_required) and not (is_kind(max_tokens, int) and max_tokens > 0):
        raise BadRequest(f"'max_tokens' is required and must be a positive integer, got {shown(max_tokens)}.",
                         code="invalid_max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' is required and must be a non-empty array.", code="invalid_messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or not is_one_of(message.get("role"), ROLES):
            raise BadRequest(f"'{where}' must be an object with 'role' user or assistant, and 'content'.",
                             code="invalid_messages")
        _check_content(where, message.get("content"))
    system = body.get("system")
    if system is not None:
        _check_content("system", system)
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise BadRequest(f"'tools' must be an array, got {json_type(tools)}.", code="invalid_tools")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
                raise BadRequest(f"'tools[{index}]' must be an object with a non-empty 'name'.", code="invalid_tools")
            schema = tool.get("input_schema")
            if schema is not None and not isinstance(schema, dict):
                raise BadRequest(f"'tools[{index}].input_schema' must be an object.", code="invalid_tools")
    for key, kind, name in (("stream", bool, "a boolean"), ("temperature", (int, float), "a number"),
                            ("top_p", (int, float), "a number"), ("top_k", int, "an integer"),
                            ("tool_choice", dict, "an object"), ("metadata", dict, "an object"),
                            ("thinking", dict, "an object")):
        if body.get(key) is not None and not is_kind(body[key], kind):
            raise BadRequest(f"'{key}' must be {name}, got {json_type(body[key])}.", code=f"invalid_{key}")
    stops = body.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(stop, str) for stop in stops)):
        raise BadRequest("'stop_sequences' must be an array of strings.", code="invalid_stop_sequences")


def _check_content(where: str, content: Any) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise BadRequest(f"'{where}.content' must be a string or an array of content blocks, got "
                         f"{json_type(content)}.", code="invalid_messages")
    for index, block in enumerate(content):
        at = f"{where}.content[{index}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise BadRequest(f"'{at}' must be an object with a 'type'.", code="invalid_messages")
        kind = block["type"]
        if kind == "text" and not isinstance(block.get("text"), str):
            raise BadRequest(f"'{at}.text' must be a string.", code="invalid_messages")
        if kind == "tool_use" and not (isinstance(block.get("id"), str) and isinstance(block.get("name"), str)
                                       and isinstance(block.get("input", {}), dict)):
            raise BadRequest(f"'{at}' must have a string 'id' and 'name', and an object 'input'.",
                             code="invalid_messages")
        if kind == "tool_result":
            if not isinstance(block.get("tool_use_id"), str):
                raise BadRequest(f"'{at}.tool_use_id' must be a string.", code="invalid_messages")
            if block.get("content") is not None:
                _check_content(at, block["content"])
        if kind == "image" and not isinstance(block.get("source"), dict):
            raise BadRequest(f"'{at}.source' must be an object.", code="invalid_messages")


def _as_chat(body: dict[str, Any]) -> ChatRequest:
    """The body through LiteLLM's adapter, then checked as a chat request; whatever the adapter raises is a 400."""
    try:
        translated, _ = _adapter().translate_anthropic_to_openai(body)  # type: ignore[arg-type]
    except Exception as exc:  # the one boundary where LiteLLM's adapter reads a client's body
        raise BadRequest(f"The request could not be read as Anthropic Messages: {exc}") from None
    chat = dict(translated)
    chat["stream_options"] = {"include_usage": True}  # message_delta carries the usage
    return parse_chat_request(chat)


def _adapter() -> Any:
    from litellm.llms.anthropic.experimental_pass_through.adapters.transformation import (
        LiteLLMAnthropicMessagesAdapter,
    )

    return LiteLLMAnthropicMessagesAdapter()


def _plain(value: Any) -> Any:
    """A translated message or event as plain JSON: LiteLLM's objects dumped, its empty extras left out."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()
                if not (key == "provider_specific_fields" and not item)}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
