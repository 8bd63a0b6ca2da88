"""The front doors: one route per wire dialect's chat endpoint, all onto the one pipeline.

Each dialect's module in wire/ reads its requests into the pipeline's
ChatRequest and writes answers and errors back; here each gets its routes,
and `dialect_for` says which dialect a path speaks, so that every error on
it (a bad key, a foreign origin, a 404) comes back in that client's shape.
"""

from __future__ import annotations

import dataclasses
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.edge.early_stream import early_response
from proxy.errors import HermesError
from proxy.money.estimate import count_input_tokens_off_loop
from proxy.pipeline.services import Services
from proxy.pipeline.steps import Cascade, prepare, record_failure, respond, run_cascade, understand
from proxy.wire.anthropic_api import ANTHROPIC, count_tokens_request
from proxy.wire.dialect import Dialect
from proxy.wire.disconnect import unless_client_leaves
from proxy.wire.gemini_api import GEMINI
from proxy.wire.openai_api import OPENAI
from proxy.wire.responses_api import RESPONSES
from proxy.wire.validate import read_json_body

INTERNAL_ERROR = HermesError("Hermes hit an internal error; the details are in its log.", code="internal_error")
# Which dialect a path speaks, by its start: the first that matches.
DIALECT_PATHS: tuple[tuple[str, Dialect], ...] = (("/v1/messages", ANTHROPIC), ("/v1/responses", RESPONSES),
                                                  ("/v1beta/", GEMINI))
GEMINI_METHODS = (":generateContent", ":streamGenerateContent", ":countTokens")
# Token counts for count_tokens are made with this tokenizer, whatever model is named: Anthropic's
# own is not public, and the count only has to be close (Claude Code uses it to decide when to compact).
COUNTING_MODEL = "gpt-4o"


def dialect_for(path: str) -> Dialect:
    """The dialect a request to `path` speaks: OpenAI's, unless the path is another dialect's."""
    for prefix, dialect in DIALECT_PATHS:
        if path.startswith(prefix):
            return dialect
    if path.endswith(GEMINI_METHODS):  # Gemini's v1 API, which Google's SDK calls unless told v1beta
        return GEMINI
    return OPENAI


async def chat_completions(request: Request) -> Response:
    """`POST /v1/chat/completions`: validate, understand, plan, answer (and record).
    ---
    summary: OpenAI chat completions, streamed (SSE) or not, through the local-first cascade
    requestBody:
      required: true
      content: {application/json: {schema: {$ref: '#/components/schemas/ChatCompletionRequest'}}}
    responses:
      200:
        description: An OpenAI chat.completion (or, with stream, SSE chunks) plus the "hermes" field
        headers:
          X-Hermes-Route: {$ref: '#/components/headers/Route'}
          X-Hermes-Model: {$ref: '#/components/headers/Model'}
          X-Hermes-Task-Type: {$ref: '#/components/headers/TaskType'}
          X-Hermes-Tier: {$ref: '#/components/headers/Tier'}
          X-Hermes-Quality: {$ref: '#/components/headers/Quality'}
          X-Hermes-Cost-USD: {$ref: '#/components/headers/CostUSD'}
          X-Hermes-Budget-Remaining-USD: {$ref: '#/components/headers/BudgetRemainingUSD'}
          X-Hermes-Upgrade: {$ref: '#/components/headers/Upgrade'}
          X-Hermes-Session-Id: {$ref: '#/components/headers/SessionId'}
          X-Hermes-Reason: {$ref: '#/components/headers/Reason'}
          X-Hermes-Session-Cost-USD: {$ref: '#/components/headers/SessionCostUSD'}
        content:
          application/json: {schema: {$ref: '#/components/schemas/ChatCompletion'}}
          text/event-stream:
            schema: {type: string, description: 'data: <ChatCompletionChunk JSON> events, then data: [DONE]'}
      400: {$ref: '#/components/responses/BadRequest'}
      401: {$ref: '#/components/responses/Unauthorized'}
      404: {$ref: '#/components/responses/NotFound'}
      413: {$ref: '#/components/responses/TooLarge'}
      429: {$ref: '#/components/responses/BudgetExhausted'}
      502: {$ref: '#/components/responses/UpstreamError'}
      504: {$ref: '#/components/responses/UpstreamTimeout'}
    """
    return await answer_chat(request, OPENAI)


async def answer_chat(request: Request, dialect: Dialect) -> Response:
    """Any dialect's chat request: read, understood, planned, answered in that dialect (and recorded)."""
    services: Services = request.app.state.services
    started = time.monotonic()
    chat = understood = chosen = body = None
    try:
        body = await read_json_body(request, services.config.routing.server.max_body_bytes)
        chat = dialect.chat_request(body, {**request.query_params, **request.path_params})
        resolved = services.config.resolve_alias(chat.model)  # claude-*, gpt-5*, gemini-*: routing_rules.yaml
        if resolved != chat.model:
            chat = dataclasses.replace(chat, model=resolved)
        understood = await understand(services, chat, request.headers, started,
                                      key=request.scope.get("state", {}).get("hermes_key"), dialect=dialect)

        async def answer() -> Response:
            nonlocal chosen
            status = await services.meter.budget.status()
            ready = await prepare(services, understood, status)
            if isinstance(ready, Cascade):
                if chat.stream and dialect.comments_allowed:  # starts at once; the cascade runs inside it
                    return early_response(services, understood, ready, status)
                ready = await run_cascade(services, understood, ready)
            chosen = ready
            return await respond(services, understood, chosen)

        return await unless_client_leaves(request, answer())
    except Exception as exc:  # recorded, then answered by the error handlers
        error = exc if isinstance(exc, HermesError) else INTERNAL_ERROR
        asked = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None
        await services.store.run_to_end(record_failure(services, error, started, chat, understood, chosen,
                                                       asked or request.path_params.get("model_method")))
        raise


async def messages(request: Request) -> Response:
    """`POST /v1/messages`: Anthropic Messages (Claude Code), through the same pipeline as chat.
    ---
    summary: Anthropic Messages, streamed (SSE events) or not, through the local-first cascade
    responses:
      200:
        description: An Anthropic message (or, with stream, its events) plus the "hermes" field
    """
    return await answer_chat(request, ANTHROPIC)


async def responses(request: Request) -> Response:
    """`POST /v1/responses`: OpenAI Responses (Codex CLI), through the same pipeline as chat.
    ---
    summary: OpenAI Responses, streamed (SSE events) or not, through the local-first cascade
    responses:
      200:
        description: An OpenAI response (or, with stream, its events) plus the "hermes" field
    """
    return await answer_chat(request, RESPONSES)


async def generate_content(request: Request) -> Response:
    """`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse` (Gemini CLI), and
    `:countTokens`, through the same pipeline as chat.
    ---
    summary: Gemini's generateContent, streamed (alt=sse) or not, through the local-first cascade
    parameters:
      - {name: model_method, in: path, required: true, schema: {type: string},
         description: 'MODEL:generateContent, MODEL:streamGenerateContent or MODEL:countTokens'}
    responses:
      200:
        description: A GenerateContentResponse (or, streamed, one per event) plus the "hermes" field
    """
    if request.path_params["model_method"].endswith(":countTokens"):
        services: Services = request.app.state.services
        body = await read_json_body(request, services.config.routing.server.max_body_bytes)
        method = request.path_params["model_method"].rpartition(":")[0] + ":generateContent"
        chat = GEMINI.chat_request(body.get("generateContentRequest", body) if isinstance(body, dict) else body,
                                   {"model_method": method})
        return JSONResponse({"totalTokens": await count_input_tokens_off_loop(COUNTING_MODEL, chat.messages,
                                                               chat.params.get("tools"))})
    return await answer_chat(request, GEMINI)


async def count_tokens(request: Request) -> Response:
    """`POST /v1/messages/count_tokens`: the input tokens a Messages request would send, counted as Hermes counts them.
    ---
    summary: Anthropic's token count for a Messages request
    responses:
      200:
        description: '{"input_tokens": N}'
    """
    services: Services = request.app.state.services
    chat = count_tokens_request(await read_json_body(request, services.config.routing.server.max_body_bytes))
    tokens = await count_input_tokens_off_loop(COUNTING_MODEL, chat.messages, chat.params.get("tools"))
    return JSONResponse({"input_tokens": tokens})


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/messages", messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    Route("/v1/responses", responses, methods=["POST"]),
    Route("/v1beta/models/{model_method:path}", generate_content, methods=["POST"]),
    # After GET /v1/models/{model} (app.py): Starlette takes a route whose method also fits before one whose path
    # alone does, so a POST here is Gemini's and a GET the OpenAI model card.
    Route("/v1/models/{model_method:path}", generate_content, methods=["POST"]),
]
