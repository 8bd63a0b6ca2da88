"""`POST /v1/completions`: editor autocomplete (fill-in-the-middle), from local models only, never billed.

OpenAI's legacy completions format in and out. The request goes through
LiteLLM's Ollama backend to `/api/generate`, with the suffix as Ollama's own
top-level `suffix` (Ollama then wraps it in the model's FIM template), to the
first configured local model that fills in the middle (`fim` in
routing_rules.yaml, or Ollama's "insert" capability). A cloud model is refused:
autocomplete fires on every pause in typing, and must never spend. Each
request is recorded as a task with route local, cost 0 and task type
"autocomplete".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from proxy.chat import CompletionRequest
from proxy.errors import BadRequest, ClientClosed, HermesError, UnknownModel, UpstreamError
from proxy.pipeline.cascade import local_target
from proxy.pipeline.report import usd
from proxy.pipeline.services import Services
from proxy.storage.store import TaskRecord
from proxy.upstreams.target import Target
from proxy.upstreams.upstream_text import finish_reason, text_choice, text_complete, text_stream
from proxy.wire.disconnect import unless_client_leaves
from proxy.wire.openai_api import SSE_DONE, encode_sse, error_body
from proxy.wire.params import check_params, is_kind, json_type, shown
from proxy.wire.sse import CLOSE_TIMEOUT_S
from proxy.wire.validate import read_json_body

TASK_TYPE = "autocomplete"
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
# The parameters passed on to the model (LiteLLM maps them to Ollama's options; it drops what Ollama lacks).
PASSED = ("stop", "temperature", "top_p", "seed", "frequency_penalty", "presence_penalty")
# FIM templates a client may already have applied. Continue's `openai` provider never sends
# `suffix`: it wraps prefix and suffix in the template it picks by model name (StarCoder's
# for "local"), so they are taken apart again here, for Ollama to use the model's own.
FIM_MARKERS = (("<fim_prefix>", "<fim_suffix>", "<fim_middle>"), ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))
INTERNAL_ERROR = HermesError("Hermes hit an internal error; the details are in its log.", code="internal_error")


@dataclass
class _Outcome:
    """Whether the request is in the tasks table yet: it is recorded exactly once."""

    recorded: bool = False


def parse_completion_request(body: Any, max_tokens_cap: int) -> CompletionRequest:
    """Validate a decoded body; BadRequest naming the first bad field. `max_tokens` is capped at `max_tokens_cap`."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string, e.g. \"local\".", code="invalid_model")
    prompt = _prompt(body.get("prompt"))
    suffix = body.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise BadRequest(f"'suffix' must be a string (the text after the cursor), got {json_type(suffix)}.",
                         code="invalid_suffix")
    if suffix is None:
        prompt, suffix = split_fim_prompt(prompt) or (prompt, "")
    _unsupported(body)
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest(f"'stream_options' must be an object, got {json_type(options)}.", code="invalid_stream_options")
    include_usage = _flag(options or {}, "include_usage", "stream_options.")
    check_params(body)  # temperature, top_p, penalties, max_tokens, seed, stop: as for chat
    max_tokens = min(body.get("max_tokens") or DEFAULT_MAX_TOKENS, max_tokens_cap)
    params = {key: body[key] for key in PASSED if body.get(key) is not None}
    return CompletionRequest(model.strip(), prompt, suffix, stream, include_usage, max_tokens, params)


def split_fim_prompt(prompt: str) -> tuple[str, str] | None:
    """(prefix, suffix) of a prompt that is already a FIM template (see FIM_MARKERS), else None."""
    for begin, hole, end in FIM_MARKERS:
        if not prompt.endswith(end) or any(prompt.count(marker) != 1 for marker in (begin, hole, end)):
            continue
        before, _, rest = prompt.partition(begin)
        if hole in rest:
            prefix, _, suffix = rest.removesuffix(end).partition(hole)
            return before + prefix, suffix
    return None


def _prompt(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]  # OpenAI's SDKs may send one prompt as a list of one
    if isinstance(value, str):
        return value
    if value is None:
        raise BadRequest("'prompt' is required: the text before the cursor, as a string.", code="invalid_prompt")
    if isinstance(value, list) and value and all(is_kind(v, int) or isinstance(v, list) for v in value):
        raise BadRequest("'prompt' as token ids is not supported: local models have tokenizers of their own; "
                         "send the text.", code="invalid_prompt")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        raise BadRequest(f"'prompt' must be one string: Hermes completes one prompt per request, got {len(value)}.",
                         code="invalid_prompt")
    raise BadRequest(f"'prompt' must be a string, got {shown(value)}.", code="invalid_prompt")


def _unsupported(body: dict[str, Any]) -> None:
    if body.get("echo") not in (None, False):
        raise BadRequest("'echo' is not supported: Hermes returns only the completion; leave it out or send false.",
                         code="invalid_echo")
    for key in ("n", "best_of"):
        value = body.get(key)
        if value is not None and not (is_kind(value, int) and value == 1):
            raise BadRequest(f"'{key}' must be 1: Hermes returns one completion per request, got {shown(value)}.",
                             code=f"invalid_{key}")
    if body.get("logprobs") is not None:
        raise BadRequest("'logprobs' is not supported: local models served through Ollama do not report them.",
                         code="invalid_logprobs")


def _flag(body: dict[str, Any], key: str, prefix: str = "") -> bool:
    value = body.get(key)
    if value is not None and not is_kind(value, bool):
        raise BadRequest(f"'{prefix}{key}' must be a boolean, got {json_type(value)}.", code=f"invalid_{key}")
    return bool(value)


async def completions(request: Request) -> Response:
    """`POST /v1/completions`: autocomplete from a local model, streamed (SSE) or not; never billed.
    ---
    summary: OpenAI legacy completions (prompt, suffix) for editor autocomplete, answered by a local model for free
    responses:
      200:
        description: An OpenAI text_completion (or SSE chunks) plus the "hermes" field and X-Hermes-* headers
      400: {description: 'Malformed request, or a cloud model named (autocomplete is local only)'}
      404: {description: Unknown model}
      413: {description: Body too large}
      502: {description: 'No local model that fills in the middle is available, or it failed'}
      504: {description: The local model timed out}
    """
    services: Services = request.app.state.services
    started, outcome = time.monotonic(), _Outcome()
    parsed = target = None
    try:
        body = await read_json_body(request, services.config.routing.server.max_body_bytes)
        parsed = parse_completion_request(body, services.config.routing.local.max_tokens)
        target = await choose_target(services, parsed.model)
        answer = _stream(services, parsed, target, started, outcome) if parsed.stream else \
            _complete(services, parsed, target, started, outcome)
        return await unless_client_leaves(request, answer)
    except Exception as exc:  # recorded, then answered by the app's error handlers
        if not outcome.recorded:
            error = exc if isinstance(exc, HermesError) else INTERNAL_ERROR
            await services.store.run_to_end(_record(services, outcome, parsed, target, started, error=error))
        raise


async def choose_target(services: Services, name: str) -> Target:
    """The local model for a request naming `name`: for `auto`/`local`, the first pulled one that fills in the middle."""
    config, catalog = services.config, services.catalog
    ref = config.find_model(name)
    if name == "cloud" or (ref is not None and ref.kind == "cloud"):
        # Served locally it would silently be another model than the one asked for; refused, it is fixed once.
        raise BadRequest(f"'{name}' is a cloud model, and /v1/completions (autocomplete) is answered by local models "
                         "only, so that it is never billed: send \"local\" or a local model's name.", code="local_only")
    if name not in ("auto", "local"):
        if ref is None:
            names = ", ".join(["local", *(m.name for m in config.local_models)])
            raise UnknownModel(f"The model '{name}' does not exist. For autocomplete: {names}.")
        if not await catalog.has(ref.name):
            raise _unavailable(f"{ref.name} is not available at {catalog.api_base}; run `ollama pull {ref.name}`.")
        return local_target(config, ref)
    if await catalog.models() is None:
        raise _unavailable(f"No local model is reachable: nothing answers at {catalog.api_base}. Start Ollama "
                           "(`ollama serve`) or let `hermes serve` start its embedded model.")
    for ref in config.local_models:
        if await catalog.has(ref.name) and await _fills_in(services, ref.name):
            return local_target(config, ref)
    raise _unavailable(f"None of the local models at {catalog.api_base} fills in the middle. Pull one that does "
                       "(e.g. `ollama pull qwen2.5-coder:1.5b`) and list it under local.models with `fim: true`.")


async def _fills_in(services: Services, name: str) -> bool:
    """Whether `name` fills in the middle: its `fim` key, else what Ollama says of it."""
    config = services.config
    setting = next((spec.fim for spec in config.routing.local.models if spec.name == name),
                   config.routing.embedded_model.fim)  # a name not in local.models is the embedded model's
    return setting if setting is not None else await services.catalog.fills_in_middle(name)


def _unavailable(message: str) -> UpstreamError:
    error = UpstreamError(message, code="model_unavailable")
    error.retry = False  # retrying cannot help until the user acts
    return error


async def _complete(services: Services, parsed: CompletionRequest, target: Target, started: float,
                    outcome: _Outcome) -> Response:
    answer = await text_complete(target, parsed)
    await services.store.run_to_end(_record(services, outcome, parsed, target, started, usage=answer["usage"]))
    return JSONResponse(answer | {"hermes": _hermes(parsed, target)}, headers=_headers(target))


async def _stream(services: Services, parsed: CompletionRequest, target: Target, started: float,
                  outcome: _Outcome) -> Response:
    items = await text_stream(target, parsed)  # fails here, as an HTTP error, if the model cannot start
    return StreamingResponse(_events(services, parsed, target, items, started, outcome), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", **_headers(target)})


async def _events(services: Services, parsed: CompletionRequest, target: Target, items: AsyncIterator[str | dict],
                  started: float, outcome: _Outcome) -> AsyncIterator[bytes]:
    """The SSE stream: a `text_completion` chunk per piece, the finish (and usage) chunk, `data: [DONE]`.

    Recorded before its last chunk goes out, or, when the client leaves first, on the way out.
    """
    base = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": target.model.name}
    usage: dict[str, Any] | None = None
    store = services.store
    try:
        try:
            async for item in items:
                if isinstance(item, dict):
                    usage = item
                else:
                    yield encode_sse(base | {"choices": [text_choice(item, None)]})
        except HermesError as error:  # the 200 has gone: an SSE error event, as for chat
            await store.run_to_end(_record(services, outcome, parsed, target, started, error=error, usage=usage))
            yield encode_sse(error_body(error))
            yield SSE_DONE
            return
        await store.run_to_end(_record(services, outcome, parsed, target, started, usage=usage))
        last = base | {"choices": [text_choice("", finish_reason(usage, parsed.max_tokens))]}
        if parsed.include_usage:
            yield encode_sse(last)
            last = base | {"choices": [], "usage": usage}
        yield encode_sse(last | {"hermes": _hermes(parsed, target)})
        yield SSE_DONE
    finally:
        with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):  # runs inside a cancelled scope when the client left
            await items.aclose()  # closes the call: the model stops generating
            if not outcome.recorded:
                gone = ClientClosed("The client closed the connection mid-stream.")
                await store.run_to_end(_record(services, outcome, parsed, target, started, error=gone, usage=usage))


def _headers(target: Target) -> dict[str, str]:
    return {"X-Hermes-Route": "local", "X-Hermes-Model": target.model.name, "X-Hermes-Task-Type": TASK_TYPE,
            "X-Hermes-Cost-USD": usd(0.0)}


def _hermes(parsed: CompletionRequest, target: Target) -> dict[str, Any]:
    return {"route": "local", "model": target.model.name, "requested_model": parsed.model, "task_type": TASK_TYPE,
            "cost_usd": 0.0, "fill_in_the_middle": bool(parsed.suffix)}


async def _record(services: Services, outcome: _Outcome, parsed: CompletionRequest | None, target: Target | None,
                  started: float, error: HermesError | None = None, usage: dict[str, Any] | None = None) -> None:
    """The task row: route local (when a model was chosen), cost 0, once."""
    if outcome.recorded:
        return
    outcome.recorded = True
    usage = usage or {}
    prompt = [{"role": "user", "content": parsed.prompt, "suffix": parsed.suffix}] if parsed else []
    await services.store.record_task(TaskRecord(
        requested_model=parsed.model if parsed else "", route="local" if target else None,
        model=target.model.name if target else None, stream=bool(parsed and parsed.stream),
        status=error.status if error else 200, error_code=error.code if error else None, messages=prompt,
        input_tokens=int(usage.get("prompt_tokens", 0)), output_tokens=int(usage.get("completion_tokens", 0)),
        cost_usd=0.0, latency_ms=(time.monotonic() - started) * 1000, task_type=TASK_TYPE,
    ))

