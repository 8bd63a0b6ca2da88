"""Ollama's request fields as llama.cpp's inputs, and tool calls read out of the model's text.

SmolLM2's chat template knows nothing of tools, so the embedded model is
told about them in its system prompt and its JSON reply is recognised here.
"""

from __future__ import annotations

import json
from typing import Any

TOOL_PROMPT = (
    "You can call these tools. To call one, reply with only a JSON object "
    '{"name": "<tool name>", "arguments": {...}} and nothing else.\nTools:\n'
)


def to_llama_messages(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """Ollama chat messages as plain role/content pairs the chat template accepts."""
    converted = []
    for message in messages:
        content = message.get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content)
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            content += json.dumps({"name": function.get("name"), "arguments": function.get("arguments", {})})
        converted.append({"role": str(message.get("role", "user")), "content": content})
    if tools:
        described = "\n".join(_describe_tool(tool) for tool in tools)
        if converted and converted[0]["role"] == "system":
            converted[0] = {"role": "system", "content": converted[0]["content"] + "\n\n" + TOOL_PROMPT + described}
        else:
            converted.insert(0, {"role": "system", "content": TOOL_PROMPT + described})
    return converted


def _describe_tool(tool: dict[str, Any]) -> str:
    function = tool.get("function", {})
    schema = json.dumps(function.get("parameters", {}), separators=(",", ":"))
    return f"- {function.get('name')}: {function.get('description', '')} Parameters: {schema}"


def parse_tool_call(text: str, tools: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """An Ollama tool call if `text` is a JSON call of an offered tool, else None."""
    if not tools:
        return None
    stripped = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        call = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    names = {tool.get("function", {}).get("name") for tool in tools}
    if not isinstance(call, dict) or call.get("name") not in names:
        return None
    arguments = call.get("arguments", {})
    return {"function": {"name": call["name"], "arguments": arguments if isinstance(arguments, dict) else {}}}


def to_sampling(options: dict[str, Any] | None, response_format: Any, default_max_tokens: int) -> dict[str, Any]:
    """Ollama `options` and `format` as llama-cpp keyword arguments."""
    options = options or {}
    sampling: dict[str, Any] = {"max_tokens": default_max_tokens}
    num_predict = options.get("num_predict")
    if isinstance(num_predict, int) and num_predict > 0:
        sampling["max_tokens"] = num_predict
    for ollama_key, llama_key in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
                                  ("seed", "seed"), ("repeat_penalty", "repeat_penalty")):
        if options.get(ollama_key) is not None:
            sampling[llama_key] = options[ollama_key]
    stop = options.get("stop")
    if stop:
        sampling["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return sampling | _grammar(response_format)


def _grammar(response_format: Any) -> dict[str, Any]:
    if response_format == "json":
        return {"response_format": {"type": "json_object"}}
    if isinstance(response_format, dict):
        return {"response_format": {"type": "json_object", "schema": response_format}}
    return {}
