"""An OpenRouter-shaped HTTP server for tests: the one stand-in Hermes allows.

It speaks OpenRouter's wire format (OpenAI chat completions, streamed and
not, with `usage.cost`), records every request it gets, and can be told to
be slow, to fail, or to break a stream halfway.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# What each answer costs, as OpenRouter reports it in usage.cost.
COST_PER_CALL_USD = 0.00125


class OpenRouterStub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"  # ok | slow | error | cut
        self.delay_s = 5.0
        self.cost_usd = COST_PER_CALL_USD
        self.answered = 0  # responses sent whole, since the last reset
        self._generation = 0  # so a slow answer to an earlier test is not counted in this one
        self.app = Starlette(routes=[Route("/api/v1/chat/completions", self.chat, methods=["POST"])])

    def reset(self) -> None:
        self.requests.clear()
        self.mode = "ok"
        self.delay_s = 5.0
        self.cost_usd = COST_PER_CALL_USD
        self.answered = 0
        self._generation += 1

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        generation = self._generation
        self.requests.append({"headers": dict(request.headers), "json": body})
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        if self.mode == "error":
            return JSONResponse({"error": {"message": "Provider returned error", "code": 500}}, status_code=500)
        message = self._answer(body)
        usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19, "cost": self.cost_usd}
        if not body.get("stream"):
            self._count_answer(generation)
            return JSONResponse(
                {
                    "id": "gen-stub-1",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "provider": "Stub",
                    "choices": [{"index": 0, "message": message, "finish_reason": _finish(message)}],
                    "usage": usage,
                }
            )
        include_usage = (body.get("stream_options") or {}).get("include_usage", False)
        return StreamingResponse(self._events(body["model"], message, usage if include_usage else None, generation),
                                 media_type="text/event-stream")

    def _count_answer(self, generation: int) -> None:
        if generation == self._generation:
            self.answered += 1

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            call = {"id": "call_stub_1", "type": "function",
                    "function": {"name": name, "arguments": json.dumps({"path": "README.md"})}}
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        return {"role": "assistant", "content": f"Hello from {body['model']} in the cloud."}

    async def _events(self, model: str, message: dict[str, Any], usage: dict[str, Any] | None,  # type: ignore[no-untyped-def]
                      generation: int):
        base = {"id": "gen-stub-2", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return f"data: {json.dumps(base | {'choices': choices} | extra)}\n\n".encode()

        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            yield event([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                          "function": {"name": call["function"]["name"], "arguments": ""}}]}, "finish_reason": None}])
            yield event([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {
                          "arguments": call["function"]["arguments"]}}]}, "finish_reason": None}])
        else:
            words = message["content"].split(" ")
            for index, word in enumerate(words):
                piece = word if index == 0 else " " + word
                yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
                if self.mode == "cut" and index == 1:
                    raise ConnectionError("stub cut the stream")
        yield event([{"index": 0, "delta": {}, "finish_reason": _finish(message)}])
        if usage is not None:
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"
        self._count_answer(generation)


def _finish(message: dict[str, Any]) -> str:
    return "tool_calls" if message.get("tool_calls") else "stop"
