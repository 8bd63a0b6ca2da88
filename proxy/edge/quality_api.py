"""`POST /api/v1/quality/score`: the cascade's judgment of an answer, for anyone to ask.

The same function the cascade calls (`quality.score_answer`), on a body
shaped like a chat request plus the answer to judge:

    {"messages": [...], "answer": {"role": "assistant", "content": "..."},
     "finish_reason": "stop", "tools": [...], "task_type": "code_generation"}

`task_type` is optional: without it the request is classified as a chat
request would be. No model is called: the judge model, when one is
configured, grades only inside the cascade, where its cost is budgeted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.errors import BadRequest
from proxy.judgment.quality import score_answer
from proxy.wire.validate import json_object, parse_chat_request, read_json_body

KNOWN = frozenset({"messages", "answer", "finish_reason", "tools", "task_type"})
ANSWER_KEYS = frozenset({"role", "content", "tool_calls", "refusal", "reasoning", "reasoning_content", "name",
                         "function_call", "annotations", "audio"})


async def quality_score(request: Request) -> Response:
    """Score an assistant answer to a conversation from 0 to 10, with every signal.
    ---
    summary: Score an answer as the local-first cascade does (0-10, every signal)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [messages, answer]
            properties:
              messages: {type: array, items: {type: object}}
              answer: {type: object, description: an OpenAI assistant message}
              finish_reason: {type: string, nullable: true}
              tools: {type: array, items: {type: object}}
              task_type: {type: string}
    responses:
      200: {description: 'The score, the task type it was judged as, and each signal'}
      400: {$ref: '#/components/responses/BadRequest'}
    """
    services = request.app.state.services
    body = json_object(await read_json_body(request, services.config.routing.server.max_body_bytes), KNOWN)
    chat = parse_chat_request({"model": "auto", "messages": body.get("messages"),
                               **({"tools": body["tools"]} if "tools" in body else {})})
    answer = _answer(body.get("answer"))
    finish_reason = body.get("finish_reason")
    if finish_reason is not None and not isinstance(finish_reason, str):
        raise BadRequest("'finish_reason' must be a string such as \"stop\" or \"length\", or null.")
    task_type = body.get("task_type")
    if task_type is None:
        task_type = services.classifier.classify(chat.messages).task_type
    elif not isinstance(task_type, str) or not task_type.strip():
        raise BadRequest("'task_type' must be a non-empty string, e.g. \"code_generation\".")
    score = await score_answer(chat.messages, answer, finish_reason, chat.params.get("tools"), task_type,
                               services.config.routing.quality)
    return JSONResponse({
        "score": score.score,
        "task_type": task_type,
        "explanation": score.explain(),
        "signals": [dataclasses.asdict(signal) for signal in score.signals],
    })


def _answer(answer: Any) -> dict[str, Any]:
    """The answer as an assistant message, or BadRequest saying what is wrong with it."""
    if not isinstance(answer, dict):
        raise BadRequest("'answer' is required: the assistant message to score, e.g. "
                         "{\"role\": \"assistant\", \"content\": \"...\"}.")
    unknown = sorted(set(answer) - ANSWER_KEYS)
    if unknown:
        raise BadRequest(f"'answer' has an unknown key {unknown[0]!r}; an assistant message has "
                         f"{', '.join(sorted(ANSWER_KEYS))}.")
    if answer.get("role", "assistant") != "assistant":
        raise BadRequest("'answer.role' must be \"assistant\".")
    content = answer.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise BadRequest("'answer.content' must be a string, an array of content parts, or null.")
    if isinstance(content, list) and not all(isinstance(part, dict) for part in content):
        raise BadRequest("'answer.content' parts must be objects such as {\"type\": \"text\", \"text\": \"...\"}.")
    calls = answer.get("tool_calls")
    if calls is not None and not (isinstance(calls, list) and all(isinstance(call, dict) for call in calls)):
        raise BadRequest("'answer.tool_calls' must be an array of tool-call objects.")
    return answer


routes = [Route("/api/v1/quality/score", quality_score, methods=["POST"])]
