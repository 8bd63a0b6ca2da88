"""An OpenRouter-shaped HTTP server for tests: the one stand-in Hermes allows.

It speaks OpenRouter's wire format (OpenAI chat completions, streamed and
not, with `usage.cost`; Anthropic Messages and OpenAI Responses in openrouter_dialects.py), records every request it gets, and can be told to
misbehave the ways real upstreams do (`mode`):

    ok            answers
    slow          answers after `delay_s`
    error         500 with OpenRouter's error JSON
    cut           streams two words, then aborts the connection mid-body
    cut_after     streams `cut_after_words` words, then ends the body cleanly
                  with no finish_reason and no [DONE]
    garbage       streams two words, then a `data:` line that is not JSON
    stall         streams two words, then goes silent until reset
    hang          accepts the request and never answers (until reset)
    html          200 text/html, a proxy's error page
    empty         200 application/json with an empty body
    no_choices    200 {"choices": []} (streamed: chunks without choices)
    no_message    200 with a choice that has no message
    rate_limited  429 with Retry-After: 7
    unavailable   503 with Retry-After: 11
    error_event   streams two words, then OpenRouter's mid-stream error event
                  (an "error" object and finish_reason "error")
    recorded      a real OpenRouter answer replayed (RECORDED_CHUNKS, RECORDED_ANSWER): reasoning
                  deltas, a tool call split across chunks, logprobs, provider fields, usage with cost
    paced         streams the greeting a word a chunk, `pace_s` apart; with `gate` set, the
                  chunks after the first wait for the gate to open instead

`GET /api/v1/models` serves `catalogue` (tests/openrouter_models.json
unless a test changes it; None: a 503, a catalogue that cannot be fetched).

Every request is recorded with the client's address (`client`), so a test
can tell how many connections it came over; `sent` holds each streamed
event's data as it was sent.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests import openrouter_dialects

# OpenRouter's model list in its own shape (its API reference's fields), for the models the tests use.
CATALOGUE = Path(__file__).parent / "openrouter_models.json"
# What each answer costs, as OpenRouter reports it in usage.cost.
COST_PER_CALL_USD = 0.00125

# A streamed answer as OpenRouter sends it for a reasoning model asked to read a file (shape taken
# from OpenRouter's streams; ids and signature shortened). Each gets "id", "object", "created",
# "model" and "provider"; the usage gets usage.cost = the stub's cost.
_REASONING = {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0}
_LOGPROBS = {"content": [{"token": "Reading", "logprob": -0.0123, "bytes": [82, 101, 97, 100, 105, 110, 103],
                          "top_logprobs": [{"token": "Reading", "logprob": -0.0123, "bytes": None},
                                           {"token": "Let", "logprob": -4.5, "bytes": None}]}],
             "refusal": None}
RECORDED_CHUNKS: list[dict[str, Any]] = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "reasoning": "The user wants",
                                        "reasoning_details": [_REASONING | {"text": "The user wants"}]},
                  "finish_reason": None, "native_finish_reason": None, "logprobs": None}]},
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "reasoning": " the README.",
                                        "reasoning_details": [_REASONING | {"text": " the README.",
                                                                            "signature": "EqQBCkYIBxgCKkB3"}]},
                  "finish_reason": None, "native_finish_reason": None, "logprobs": None}]},
    {"system_fingerprint": "fp_stub_7",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Reading", "refusal": None,
                                        "annotations": [{"type": "url_citation", "url_citation": {
                                            "url": "https://example.org/readme", "title": "README",
                                            "start_index": 0, "end_index": 7}}]},
                  "finish_reason": None, "native_finish_reason": None, "logprobs": _LOGPROBS}]},
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "toolu_01ReadMe", "type": "function", "function": {"name": "read_file", "arguments": ""}}]},
                  "finish_reason": None, "native_finish_reason": None, "logprobs": None}]},
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "type": "function", "function": {"arguments": "{\"path\": "}}]},
                  "finish_reason": None, "native_finish_reason": None, "logprobs": None}]},
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "type": "function", "function": {"arguments": "\"README.md\"}"}}]},
                  "finish_reason": None, "native_finish_reason": None, "logprobs": None}]},
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                  "finish_reason": "tool_calls", "native_finish_reason": "tool_use", "logprobs": None}]},
    {"choices": [], "usage": {
        "prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290, "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0, "audio_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": 20, "image_tokens": 0}}},
]
# The same answer, not streamed.
RECORDED_ANSWER: dict[str, Any] = {
    "system_fingerprint": "fp_stub_7",
    "choices": [{"index": 0, "logprobs": _LOGPROBS, "finish_reason": "tool_calls", "native_finish_reason": "tool_use",
                 "message": {"role": "assistant", "content": "Reading", "refusal": None,
                             "reasoning": "The user wants the README.",
                             "reasoning_details": [_REASONING | {"text": "The user wants the README.",
                                                                 "signature": "EqQBCkYIBxgCKkB3"}],
                             "annotations": RECORDED_CHUNKS[2]["choices"][0]["delta"]["annotations"],
                             "tool_calls": [{"index": 0, "id": "toolu_01ReadMe", "type": "function",
                                             "function": {"name": "read_file", "arguments": "{\"path\": \"README.md\"}"}}]}}],
    "usage": RECORDED_CHUNKS[-1]["usage"],
}


class OpenRouterStub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"  # see the module docstring
        self.delay_s = 5.0
        self.cut_after_words = 4
        self.cost_usd = COST_PER_CALL_USD
        self.answer_words: int | None = None  # answer this many words (non-streamed) instead of a greeting
        self.usage_extra: dict[str, Any] = {}  # merged into each chat answer's usage (e.g. prompt_tokens_details)
        self.answered = 0  # responses sent whole, since the last reset
        self._generation = 0  # so a slow answer to an earlier test is not counted in this one
        self.generations: dict[str, float] = {}  # streamed generation id -> what it cost, for GET /generation
        self.pace_s = 0.2
        self.gate: threading.Event | None = None  # paced: the chunks after the first wait for it
        self.sent: list[str] = []  # the data of each streamed event, as sent
        self.catalogue: dict[str, Any] | None = json.loads(CATALOGUE.read_text())
        self.catalogue_fetches = 0
        self.app = Starlette(routes=[Route("/api/v1/models", self.models),
                                     Route("/api/v1/chat/completions", self.chat, methods=["POST"]),
                                     Route("/api/v1/messages", self.messages, methods=["POST"]),
                                     Route("/api/v1/responses", self.responses, methods=["POST"]),
                                     Route("/api/v1/generation", self.generation)])

    async def messages(self, request: Request) -> Response:
        """Anthropic Messages, as OpenRouter serves them (openrouter_dialects.py)."""
        return await openrouter_dialects.messages(self, request)

    async def responses(self, request: Request) -> Response:
        """OpenAI Responses, as OpenRouter serves them (openrouter_dialects.py)."""
        return await openrouter_dialects.responses(self, request)

    async def models(self, request: Request) -> Response:
        """OpenRouter's model list (no key needed), or a 503 when `catalogue` is None."""
        self.catalogue_fetches += 1
        if self.catalogue is None:
            return JSONResponse({"error": {"message": "Service unavailable", "code": 503}}, status_code=503)
        return JSONResponse(self.catalogue)

    def reset(self) -> None:
        self.catalogue = json.loads(CATALOGUE.read_text())
        self.catalogue_fetches = 0
        self.requests.clear()
        self.mode = "ok"
        self.delay_s = 5.0
        self.cut_after_words = 4
        self.cost_usd = COST_PER_CALL_USD
        self.answer_words = None
        self.usage_extra = {}
        self.generations.clear()
        self.answered = 0
        self.pace_s = 0.2
        if self.gate is not None:
            self.gate.set()  # a stream still waiting on it goes on, and ends
        self.gate = None
        self.sent.clear()
        self._generation += 1

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        generation = self._generation
        client = (request.client.host, request.client.port) if request.client else None
        self.requests.append({"headers": dict(request.headers), "json": body, "client": client})
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        if self.mode == "error":
            return JSONResponse({"error": {"message": "Provider returned error", "code": 500}}, status_code=500)
        if self.mode == "hang":
            await self._until_reset(generation)
            return Response(status_code=504)
        broken = self._broken_reply(body)
        if broken is not None:
            return broken
        message, finish = self._answer(body), None
        usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19, "cost": self.cost_usd} | self.usage_extra
        if self.answer_words and not body.get("tools"):  # a long answer, cut at max_tokens (one token a word)
            words = min(self.answer_words, body.get("max_tokens") or self.answer_words)
            message = {"role": "assistant", "content": " ".join(["word"] * words)}
            finish = "length" if words < self.answer_words else "stop"
            usage |= {"completion_tokens": words, "total_tokens": 12 + words}
        if self.mode == "recorded":
            answer = copy.deepcopy(RECORDED_ANSWER)
            answer["usage"]["cost"] = self.cost_usd
            message, usage = answer["choices"][0]["message"], answer["usage"]
        if not body.get("stream"):
            self._count_answer(generation)
            if self.mode == "recorded":
                answer = {"id": "gen-stub-1", "provider": "Anthropic", "model": body["model"],
                          "object": "chat.completion", "created": int(time.time())} | answer
                self.sent.append(json.dumps(answer))
                return JSONResponse(answer)
            return JSONResponse(
                {
                    "id": "gen-stub-1",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "provider": "Stub",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish or _finish(message)}],
                    "usage": usage,
                }
            )
        include_usage = (body.get("stream_options") or {}).get("include_usage", False)
        return StreamingResponse(self._events(body["model"], message, usage if include_usage else None, generation),
                                 media_type="text/event-stream")

    async def generation(self, request: Request) -> Response:
        """OpenRouter's `GET /api/v1/generation?id=`: what a generation cost, once it is known."""
        cost = self.generations.get(request.query_params.get("id", ""))
        if cost is None:
            return JSONResponse({"error": {"message": "Generation not found", "code": 404}}, status_code=404)
        return JSONResponse({"data": {"id": request.query_params["id"], "total_cost": cost}})

    async def _pace(self) -> None:
        """Wait `pace_s`, or for the gate to open (a test lets the next chunk go once it has seen the last)."""
        if self.gate is None:
            await asyncio.sleep(self.pace_s)
            return
        opened = await asyncio.to_thread(self.gate.wait, 30.0)
        assert opened, "the gate was never opened"

    async def _until_reset(self, generation: int) -> None:
        while generation == self._generation:
            await asyncio.sleep(0.05)

    def _broken_reply(self, body: dict[str, Any]) -> Response | None:
        """The reply for a mode that breaks before any answer, else None."""
        if self.mode == "rate_limited":
            return JSONResponse({"error": {"message": "Rate limit exceeded: free-models-per-min", "code": 429}},
                                status_code=429, headers={"Retry-After": "7"})
        if self.mode == "unavailable":
            return JSONResponse({"error": {"message": "No instances available", "code": 503}},
                                status_code=503, headers={"Retry-After": "11"})
        if self.mode == "html":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", media_type="text/html")
        if self.mode == "empty":
            return Response(b"", media_type="application/json")
        if body.get("stream"):
            return None  # no_choices and no_message break the stream itself
        base = {"id": "gen-stub-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"]}
        if self.mode == "no_choices":
            return JSONResponse(base | {"choices": []})
        if self.mode == "no_message":
            return JSONResponse(base | {"choices": [{"index": 0, "finish_reason": "stop"}]})
        return None

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
        generation_id = f"gen-stub-{len(self.generations) + 2}"
        self.generations[generation_id] = self.cost_usd  # billed as soon as it starts, as a real provider does
        base = {"id": generation_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            data = json.dumps(base | {"choices": choices} | extra)
            self.sent.append(data)
            return f"data: {data}\n\n".encode()

        if self.mode == "recorded":
            base["provider"] = "Anthropic"
            yield b": OPENROUTER PROCESSING\n\n"
            for chunk in copy.deepcopy(RECORDED_CHUNKS):
                if "usage" in chunk:
                    if usage is None:
                        continue
                    chunk["usage"]["cost"] = self.cost_usd
                yield event(**chunk)
            yield b"data: [DONE]\n\n"
            self._count_answer(generation)
            return
        if self.mode in ("no_choices", "no_message"):
            yield event([])
            yield event([{"index": 0, "finish_reason": None}] if self.mode == "no_message" else [])
            yield b"data: [DONE]\n\n"
            return
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
                if self.mode == "paced" and index > 0:
                    await self._pace()
                yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
                if self.mode == "cut" and index == 1:
                    await asyncio.sleep(0.2)  # let the words already sent reach Hermes before the abort
                    raise ConnectionError("stub cut the stream")
                if self.mode == "cut_after" and index + 1 == self.cut_after_words:
                    return  # the body ends cleanly: no finish_reason, no [DONE]
                if self.mode == "garbage" and index == 1:
                    yield b'data: {"id": "gen-stub-2", "choices": [{"delta": {"content": " tru\n\n'
                if self.mode == "error_event" and index == 1:
                    yield event([{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
                                error={"code": 502, "message": "Provider disconnected unexpectedly"})
                    yield b"data: [DONE]\n\n"
                    return
                if self.mode == "stall" and index == 1:
                    await self._until_reset(generation)
                    return
        yield event([{"index": 0, "delta": {}, "finish_reason": _finish(message)}])
        if usage is not None:
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"
        self._count_answer(generation)


def _finish(message: dict[str, Any]) -> str:
    return "tool_calls" if message.get("tool_calls") else "stop"
