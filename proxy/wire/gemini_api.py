"""Gemini's API (`POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`), Gemini CLI's
only dialect, through LiteLLM's generateContent <-> chat adapter.

The model is named in the path, and whether to stream by the method; the
body (`contents`, `systemInstruction`, `tools`, `toolConfig`,
`generationConfig`) is checked here before the adapter reads it. A JSON
answer (`responseMimeType: application/json`, as Gemini CLI's own router
asks) becomes chat's `response_format`, which the adapter leaves out. Each
streamed chunk is a `GenerateContentResponse`; the last carries the usage
and Hermes's verdict as an extra "hermes" field, which Google's SDK ignores.
Google's SDKs read any line that is not `data:` as JSON, so the cascade's
SSE comment lines are not sent: a streamed `auto` answer starts once the
cascade has chosen it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from proxy.chat import ChatRequest
from proxy.errors import BadRequest, HermesError
from proxy.wire.dialect import Dialect
from proxy.wire.litellm_stream import LiteLLMChunks, StreamFailed
from proxy.wire.params import is_kind, is_one_of, json_type, shown
from proxy.wire.validate import parse_chat_request

METHODS = ("generateContent", "streamGenerateContent")
ROLES = frozenset({"user", "model", "function"})
# Google's status names by HTTP status (cloud.google.com/apis/design/errors).
STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            409: "ABORTED", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
            499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED"}
CONFIG_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "temperature": ((int, float), "a number"), "topP": ((int, float), "a number"), "topK": ((int, float), "a number"),
    "maxOutputTokens": (int, "an integer"), "candidateCount": (int, "an integer"), "seed": (int, "an integer"),
    "responseMimeType": (str, "a string"), "responseJsonSchema": (dict, "an object"),
    "responseSchema": (dict, "an object"), "thinkingConfig": (dict, "an object"),
    "stopSequences": (list, "an array of strings"),
}


class GeminiGenerateContent(Dialect):
    """Gemini's generateContent: Gemini CLI, and Google's `google-genai` SDK."""

    name = "gemini"
    comments_allowed = False

    def chat_request(self, body: Any, path_params: Mapping[str, str]) -> ChatRequest:
        model, method = split_model_method(path_params.get("model_method", ""))
        stream = method == "streamGenerateContent"
        if stream and path_params.get("alt") != "sse":
            raise BadRequest("Hermes streams Gemini's answers as server-sent events only: add ?alt=sse to the URL.",
                             code="invalid_alt")
        check_generate_request(body)
        try:
            translated = _adapter().translate_generate_content_to_completion(
                model=model, contents=body["contents"], config=body.get("generationConfig"),
                systemInstruction=body.get("systemInstruction"), tools=body.get("tools"),
                toolConfig=body.get("toolConfig"))
        except Exception as exc:  # the one boundary where LiteLLM's adapter reads a client's body
            raise BadRequest(f"The request could not be read as a Gemini generateContent request: {exc}") from None
        chat = dict(translated) | {"stream": stream, "stream_options": {"include_usage": True}}
        if (body.get("generationConfig") or {}).get("responseMimeType") == "application/json":
            chat["response_format"] = {"type": "json_object"}
        return parse_chat_request(chat)

    def answer(self, answer: dict[str, Any], hermes: dict[str, Any]) -> dict[str, Any]:
        from litellm import ModelResponse

        response = _adapter().translate_completion_to_generate_content(ModelResponse(**answer))
        return _without_text(response) | {"modelVersion": answer.get("model", ""), "hermes": hermes}

    async def events(self, items: AsyncIterator[dict[str, Any] | HermesError]) -> AsyncIterator[bytes]:
        from litellm.google_genai.adapters.transformation import GoogleGenAIStreamWrapper

        chunks = LiteLLMChunks(items)
        try:
            model = await chunks.first_model()
        except StreamFailed as failed:
            yield self.error_event(failed.error)
            return
        last: dict[str, Any] | None = None
        # The wrapper ends the stream quietly on any error, so the one that ended it is read from `chunks` after.
        async for piece in GoogleGenAIStreamWrapper(chunks):
            if last is not None:
                yield encode_event(last)
            last = _without_text(piece) | {"modelVersion": model}
        if chunks.error is not None:
            if last is not None:
                yield encode_event(last)
            yield self.error_event(chunks.error)
            return
        if last is not None:
            yield encode_event(last | ({"hermes": chunks.hermes} if chunks.hermes is not None else {}))

    def error_body(self, error: HermesError) -> dict[str, Any]:
        return {"error": {"code": error.status, "message": error.message,
                          "status": STATUSES.get(error.status, "INTERNAL")}}

    def error_event(self, error: HermesError) -> bytes:
        return encode_event(self.error_body(error))


GEMINI = GeminiGenerateContent()


def split_model_method(model_method: str) -> tuple[str, str]:
    """"gemini-2.5-pro:generateContent" -> ("gemini-2.5-pro", "generateContent"); NotFound-worthy input is a 400."""
    model, _, method = model_method.rpartition(":")
    if method not in METHODS or not model.strip():
        raise BadRequest(f"Expected /v1beta/models/MODEL:generateContent or :streamGenerateContent, got "
                         f"{shown(model_method)}.", code="invalid_method")
    return model.strip(), method


def encode_event(chunk: dict[str, Any]) -> bytes:
    """One Gemini server-sent event (`alt=sse`): `data: <GenerateContentResponse JSON>`."""
    return b"data: " + json.dumps(chunk, separators=(",", ":"), default=str).encode() + b"\n\n"


def check_generate_request(body: Any) -> None:
    """BadRequest naming the first field of a generateContent body that is not the shape the API documents."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("'contents' is required and must be a non-empty array.", code="invalid_contents")
    for index, content in enumerate(contents):
        _check_content(f"contents[{index}]", content)
    system = body.get("systemInstruction")
    if system is not None and not isinstance(system, str):
        _check_content("systemInstruction", system, role_required=False)
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise BadRequest(f"'tools' must be an array, got {json_type(tools)}.", code="invalid_tools")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise BadRequest(f"'tools[{index}]' must be an object.", code="invalid_tools")
            declarations = tool.get("functionDeclarations", [])
            if not isinstance(declarations, list) or not all(
                    isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"] for d in declarations):
                raise BadRequest(f"'tools[{index}].functionDeclarations' must be an array of objects with a "
                                 "non-empty 'name'.", code="invalid_tools")
    if body.get("toolConfig") is not None and not isinstance(body["toolConfig"], dict):
        raise BadRequest(f"'toolConfig' must be an object, got {json_type(body['toolConfig'])}.",
                         code="invalid_tool_config")
    config = body.get("generationConfig")
    if config is None:
        return
    if not isinstance(config, dict):
        raise BadRequest(f"'generationConfig' must be an object, got {json_type(config)}.",
                         code="invalid_generation_config")
    for key, (kind, name) in CONFIG_TYPES.items():
        if config.get(key) is not None and not is_kind(config[key], kind):
            raise BadRequest(f"'generationConfig.{key}' must be {name}, got {json_type(config[key])}.",
                             code="invalid_generation_config")
    if config.get("maxOutputTokens") is not None and config["maxOutputTokens"] <= 0:
        raise BadRequest("'generationConfig.maxOutputTokens' must be positive.", code="invalid_generation_config")
    if not all(isinstance(stop, str) for stop in config.get("stopSequences") or ()):
        raise BadRequest("'generationConfig.stopSequences' must be an array of strings.",
                         code="invalid_generation_config")


def _check_content(where: str, content: Any, role_required: bool = True) -> None:
    if not isinstance(content, dict):
        raise BadRequest(f"'{where}' must be an object with 'parts'.", code="invalid_contents")
    role = content.get("role")
    if role is not None and not is_one_of(role, ROLES):
        raise BadRequest(f"'{where}.role' must be user or model, got {shown(role)}.", code="invalid_contents")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"'{where}.parts' must be a non-empty array.", code="invalid_contents")
    for index, part in enumerate(parts):
        at = f"{where}.parts[{index}]"
        if not isinstance(part, dict):
            raise BadRequest(f"'{at}' must be an object.", code="invalid_contents")
        if "text" in part and not isinstance(part["text"], str):
            raise BadRequest(f"'{at}.text' must be a string.", code="invalid_contents")
        for key, inner in (("functionCall", "args"), ("functionResponse", "response")):
            if key in part:
                value = part[key]
                if not (isinstance(value, dict) and isinstance(value.get("name"), str)
                        and isinstance(value.get(inner, {}), dict)):
                    raise BadRequest(f"'{at}.{key}' must be an object with a string 'name' and an object "
                                     f"'{inner}'.", code="invalid_contents")


def _adapter() -> Any:
    from litellm.google_genai.adapters.transformation import GoogleGenAIAdapter

    return GoogleGenAIAdapter()


def _without_text(response: dict[str, Any]) -> dict[str, Any]:
    # LiteLLM adds a top-level "text" for convenience; Gemini's API has none (its SDKs compute it).
    return {key: value for key, value in response.items() if key != "text"}
