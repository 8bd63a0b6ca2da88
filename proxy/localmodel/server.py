"""The embedded model's HTTP server: enough of Ollama's API for LiteLLM's Ollama backend and curl.

`/api/tags`, `/api/chat`, `/api/generate`, `/api/show` and `/api/version`,
in Ollama's shapes (NDJSON streams, a `done` line with the counts, each
token's `logprobs` when asked for, as Ollama 0.12.11 added), over the
model in model.py. Generation runs in worker threads holding the
model's lock, so requests queue as Ollama queues them, and a client that
leaves stops its generation between two tokens (disconnect.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.localmodel.llama_translate import parse_tool_call, to_llama_messages, to_sampling
from proxy.localmodel.model import ContextTooLong, EmbeddedModel, Finished, Pieces, Scored
from proxy.wire.disconnect import CancellingStreamingResponse, collect_unless_disconnected

# The Ollama release whose API this imitates (the first with `logprobs`); clients only read it.
OLLAMA_VERSION = "0.12.11"
MAX_TOP_LOGPROBS = 20  # Ollama's own limit


def create_local_model_app(model: EmbeddedModel) -> Starlette:
    """The Ollama-protocol ASGI app serving `model`."""

    async def version(request: Request) -> Response:
        return JSONResponse({"version": OLLAMA_VERSION})

    async def tags(request: Request) -> Response:
        return JSONResponse({"models": [_model_entry(model)]})

    async def show(request: Request) -> Response:
        body = await _body_for(request, model, "model", "name")
        if isinstance(body, Response):
            return body
        return JSONResponse(
            {
                "modelfile": f"FROM {model.path.name}",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": _model_entry(model)["details"],
                "model_info": {"general.architecture": "llama", "llama.context_length": model.context_tokens},
                # "insert" (Ollama's word for fill-in-the-middle) only when the GGUF has FIM tokens.
                "capabilities": ["completion", "tools"] + (["insert"] if model.fim_tokens else []),
            }
        )

    async def chat(request: Request) -> Response:
        body = await _body_for(request, model, "model")
        if isinstance(body, Response):
            return body
        if not isinstance(body.get("messages"), list):
            return JSONResponse({"error": "messages must be an array"}, status_code=400)
        tools = body.get("tools") or None
        messages = to_llama_messages(body["messages"], tools)
        prompt_tokens = _prompt_tokens(model, messages)
        if isinstance(prompt_tokens, Response):
            return prompt_tokens
        sampling = to_sampling(body.get("options"), body.get("format"), model.default_max_tokens)
        logprobs = _logprobs(body)
        if isinstance(logprobs, Response):
            return logprobs
        cancel = threading.Event()
        pieces = _run(model, lambda: model.chat(messages, sampling, cancel, logprobs), buffer=bool(tools))
        return await _respond(request, cancel, model, pieces, prompt_tokens, body.get("stream", True), "message", tools)

    async def generate(request: Request) -> Response:
        body = await _body_for(request, model, "model")
        if isinstance(body, Response):
            return body
        prompt = body.get("prompt") or ""
        suffix = body.get("suffix") or ""
        if not isinstance(prompt, str) or not isinstance(suffix, str):
            return JSONResponse({"error": "prompt and suffix must be strings"}, status_code=400)
        if not prompt and (not suffix or body.get("raw")):  # Ollama's way of loading a model: an empty answer
            return JSONResponse(_final(model, "response", "load", 0, 0, 0))
        messages = [{"role": "user", "content": prompt + suffix}]
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": body["system"]})
        prompt_tokens = _prompt_tokens(model, messages)
        if isinstance(prompt_tokens, Response):
            return prompt_tokens
        sampling = to_sampling(body.get("options"), body.get("format"), model.default_max_tokens)
        logprobs = _logprobs(body)
        if isinstance(logprobs, Response):
            return logprobs
        cancel = threading.Event()
        if suffix and not body.get("raw"):  # fill in the middle; a raw prompt is used as it is, as by Ollama
            pieces = _run(model, lambda: model.infill(prompt, suffix, sampling, cancel, logprobs))
        elif body.get("raw"):
            pieces = _run(model, lambda: model.generate(prompt, sampling, cancel, logprobs))
        else:
            pieces = _run(model, lambda: model.chat(messages, sampling, cancel, logprobs))
        return await _respond(request, cancel, model, pieces, prompt_tokens, body.get("stream", True), "response", None)

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


async def _run(
    model: EmbeddedModel, start: Callable[[], Pieces], buffer: bool = False
) -> AsyncIterator[str | Scored | Finished]:
    """Run one generation in worker threads while holding the model's lock.

    The lock is taken inside the generator, so a response that is never
    iterated (the client left first) never holds it, and released however
    the generator ends: finished, cancelled, or closed.
    """
    async with model.lock:
        tokens = start()
        try:
            pieces = iterate_in_threadpool(tokens)
            if buffer:  # a tool call can only be recognised once the whole answer is in
                collected = [piece async for piece in pieces]
                if collected and isinstance(collected[-1], Finished):
                    text = "".join(_text(p) for p in collected[:-1])
                    scored = [entry for p in collected if isinstance(p, Scored) for entry in p.logprobs]
                    yield Scored(text, tuple(scored)) if any(isinstance(p, Scored) for p in collected) else text
                    yield collected[-1]
            else:
                async for piece in pieces:
                    yield piece
        finally:
            # The worker thread has returned by now (anyio waits for it), so
            # closing the generator here cannot race it.
            tokens.close()


async def _respond(
    request: Request,
    cancel: threading.Event,
    model: EmbeddedModel,
    pieces: AsyncIterator[str | Scored | Finished],
    prompt_tokens: int,
    stream: bool,
    field: str,
    tools: list[dict[str, Any]] | None,
) -> Response:
    lines = _ndjson(model, pieces, prompt_tokens, field, tools)
    if stream:
        return CancellingStreamingResponse(_encoded(lines), cancel, media_type="application/x-ndjson")
    collected = await collect_unless_disconnected(request.receive, lines, cancel)
    if not collected:  # the client has gone: nobody reads this
        return Response(status_code=499)
    final = collected[-1]
    if "error" in final:
        return JSONResponse(final, status_code=400)
    if field == "message":
        calls = [call for line in collected for call in line["message"].get("tool_calls", [])]
        text = "".join(line["message"]["content"] for line in collected)
        final["message"] = {"role": "assistant", "content": text} | ({"tool_calls": calls} if calls else {})
    else:
        final["response"] = "".join(line["response"] for line in collected)
    if any("logprobs" in line for line in collected):
        final["logprobs"] = [entry for line in collected for entry in line.get("logprobs", ())]
    return JSONResponse(final)


async def _encoded(lines: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async with aclosing(lines):
        async for line in lines:
            yield json.dumps(line) + "\n"


async def _ndjson(
    model: EmbeddedModel,
    pieces: AsyncIterator[str | Scored | Finished],
    prompt_tokens: int,
    field: str,
    tools: list[dict[str, Any]] | None,
) -> AsyncIterator[dict[str, Any]]:
    """Ollama's stream: a line per piece, then a `done` line with the counts."""
    started = time.monotonic_ns()
    count = 0
    try:
        async with aclosing(pieces):  # closing this stream closes the generation (and frees the lock)
            async for piece in pieces:
                if isinstance(piece, Finished):
                    eval_ns = max(time.monotonic_ns() - started, 1)
                    yield _final(model, field, piece.reason, prompt_tokens, count, eval_ns)
                    return
                text = _text(piece)
                count += model.token_count(text) if tools else 1
                call = parse_tool_call(text, tools)
                line = _line(model, field, "", tool_calls=[call]) if call else _line(model, field, text)
                if isinstance(piece, Scored):
                    line["logprobs"] = list(piece.logprobs)
                yield line
    except ContextTooLong as exc:
        # Once a stream has begun, Ollama reports errors as a JSON line.
        yield {"error": str(exc)}


def _text(piece: str | Scored | Finished) -> str:
    return piece.text if isinstance(piece, Scored) else piece if isinstance(piece, str) else ""


def _logprobs(body: dict[str, Any]) -> int | None | Response:
    """How many alternatives each token's entry lists (0: none), None when `logprobs` is not asked for;
    or Ollama's 400 for a value of the wrong kind."""
    asked, top = body.get("logprobs"), body.get("top_logprobs")
    if asked is not None and not isinstance(asked, bool):
        return JSONResponse({"error": "logprobs must be a boolean"}, status_code=400)
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS):
        return JSONResponse({"error": f"top_logprobs must be an integer from 0 to {MAX_TOP_LOGPROBS}"},
                            status_code=400)
    return (top or 0) if asked else None


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


async def _body_for(request: Request, model: EmbeddedModel, *name_keys: str) -> dict[str, Any] | Response:
    """The request's JSON object, or Ollama's error: a body that is no JSON object, or another model's name."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid JSON body"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    name = next((body[key] for key in name_keys if body.get(key)), None)
    return body if name == model.name else _not_found(name)


def _prompt_tokens(model: EmbeddedModel, messages: list[dict[str, str]]) -> int | Response:
    """The prompt's size in tokens, or Ollama's 400 for one beyond the model's context."""
    try:
        return model.check_fits(messages)
    except ContextTooLong as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


def _not_found(name: Any) -> Response:
    return JSONResponse({"error": f"model '{name}' not found, try pulling it first"}, status_code=404)
