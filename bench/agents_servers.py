"""The two servers of `bench/agents.py`: a scripted cloud and a recording tap.

`ScriptedCloud` plays OpenRouter (the wire format of tests/openrouter_stub.py:
OpenAI chat completions, streamed or not, `usage.cost`; Anthropic Messages and
Responses in agents_dialects.py) as a capable model would on one task, fixing
a typo in one file:

- a request with `tools` (OpenCode, Continue): read the file with the
  client's read tool, then replace the typo with its edit tool (or rewrite the
  file with its write tool), then say so in one line once the result is back;
  tool names and argument names are taken from the request's tool list;
- a request whose tools can only run commands (Codex): `sed` on the line;
- an aider prompt: the edit in aider's SEARCH/REPLACE or whole-file format;
- anything else (a title request): a short line of text.

It also answers on `/v1` so a client can be pointed at it directly, and it can
send SSE comment lines (`: ...`) before the first `data:` line, to see whether
a client tolerates what Hermes sends while its cascade works.

`Tap` sits between a client and Hermes and records, per request, what the
client asked for and what it got, and when: first byte, first `data:` line,
comment lines, the `"hermes"` field, whether the client hung up first.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bench import agents_dialects
from bench.prompt_cache import PromptCache


@dataclass(frozen=True)
class Edit:
    path: str  # absolute
    old: str  # the line with the typo
    new: str  # the line fixed
    before: str  # the whole file, before and after
    after: str


def approx_tokens(value: Any) -> int:
    return len(json.dumps(value)) // 4


def _prop(schema: dict[str, Any], *hints: str) -> str | None:
    """The first property of a tool's JSON Schema whose lowered name contains one of `hints`."""
    for hint in hints:
        for name in (schema.get("properties") or {}):
            if hint in name.lower().replace("_", ""):
                return name
    return None


class ScriptedCloud:
    """A capable model, scripted: it reads each file, fixes it, runs `test_command` if there is one, and says so."""

    def __init__(self, edit: Edit | list[Edit], comments: int = 0, comment_interval_s: float = 0.5,
                 test_command: str | None = None) -> None:
        self.edits = edit if isinstance(edit, list) else [edit]
        self.edit = self.edits[0]
        self.test_command = test_command
        self.comments = comments  # SSE comment lines sent before the first data line
        self.comment_interval_s = comment_interval_s
        self.log: list[dict[str, Any]] = []
        self.prompt_cache: PromptCache | None = None  # Messages calls report cache reads and writes when set
        routes = [Route(f"{prefix}/chat/completions", self.chat, methods=["POST"]) for prefix in ("/api/v1", "/v1")]
        routes += [Route("/v1/models", self.models), Route("/api/v1/generation", self.generation),
                   Route("/api/v1/messages", self.messages, methods=["POST"]),
                   Route("/api/v1/responses", self.responses, methods=["POST"])]
        self.app = Starlette(routes=routes)

    async def messages(self, request: Request) -> Response:
        """Anthropic Messages, where Hermes relays Claude Code's cloud calls (agents_dialects.py)."""
        return await agents_dialects.messages(self, request)

    async def responses(self, request: Request) -> Response:
        """OpenAI Responses, where Hermes relays Codex's cloud calls (agents_dialects.py)."""
        return await agents_dialects.responses(self, request)

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "auto", "object": "model", "owned_by": "stub"}]})

    async def generation(self, request: Request) -> Response:
        return JSONResponse({"data": {"id": request.query_params.get("id", ""), "total_cost": 0.0001}})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        kind, message = self.reply(body)
        self.log.append({"t": time.time(), "path": request.url.path, "model": body.get("model"), "kind": kind,
                         "tools": len(body.get("tools") or []), "approx_tokens": approx_tokens(body.get("messages"))
                         + approx_tokens(body.get("tools") or [])})
        prompt_tokens = approx_tokens(body.get("messages")) + approx_tokens(body.get("tools") or [])
        completion_tokens = max(1, approx_tokens(message))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens,
                 "cost": round(prompt_tokens * 0.1e-6 + completion_tokens * 0.4e-6, 8)}  # Gemini Flash's prices
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        base = {"id": f"gen-agents-{len(self.log)}", "created": int(time.time()), "model": body.get("model", "auto"),
                "provider": "Stub"}
        if not body.get("stream"):
            return JSONResponse(base | {"object": "chat.completion", "usage": usage,
                                        "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
        return StreamingResponse(self._events(base | {"object": "chat.completion.chunk"}, message, finish, usage),
                                 media_type="text/event-stream")

    def reply(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """What a capable model answers to this request: (what kind of answer, the message)."""
        messages = body.get("messages") or []
        system = " ".join(_text(m) for m in messages if m.get("role") == "system")
        tools = {t["function"]["name"]: t["function"].get("parameters") or {} for t in body.get("tools") or []}
        if tools:
            return self._agent_step(messages, tools)
        if "SEARCH/REPLACE" in system:
            fences = [f"{e.path.rsplit('/', 1)[-1]}\n```python\n<<<<<<< SEARCH\n{e.old}\n=======\n{e.new}\n"
                      ">>>>>>> REPLACE\n```" for e in self.edits]
            return "aider-diff", _say("Fixing the typo.\n\n" + "\n\n".join(fences) + "\n")
        if "file listing" in system.lower() or "entire content" in system.lower():
            listings = [f"{e.path.rsplit('/', 1)[-1]}\n```python\n{e.after}```" for e in self.edits]
            return "aider-whole", _say("Fixing the typo.\n\n" + "\n\n".join(listings) + "\n")
        return "text", _say("Fix typo in greet.py")

    def _agent_step(self, messages: list[dict[str, Any]], tools: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        """The next step: for each file in turn, read it (where a read tool is offered), then fix it; then run
        the tests (where there are some and a shell tool); then say what was done."""
        calls = [(c["function"]["name"], str(c["function"].get("arguments") or "")) for m in messages
                 if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
        lowered = {name.lower(): name for name in tools}
        read = next((lowered[n] for n in ("read", "read_file", "readfile", "view") if n in lowered), None)
        edit = next((lowered[n] for n in ("edit", "edit_file", "str_replace", "search_replace", "replace", "editor")
                     if n in lowered), None)
        write = next((lowered[n] for n in ("write", "write_file", "create_new_file", "writefile") if n in lowered), None)
        shell = next((lowered[n] for n in ("exec_command", "shell", "run_shell_command", "bash", "run_terminal_command")
                      if n in lowered), None)
        command = _prop(tools[shell], "cmd", "command") if shell else None
        for fix in self.edits:
            touched = [name for name, args in calls if fix.path in args]
            changed = bool({edit, write} & set(touched)) or (shell in touched and not (edit or write))
            if changed:
                continue
            if read and read not in touched:
                path = _prop(tools[read], "filepath", "path", "file")
                return f"call {read}", _call(read, {path: fix.path} if path else {}, len(messages))
            step = self._fix(fix, tools, edit, write, shell, command, len(messages))
            if step is not None:
                return step
            return "no usable tool", _say(f"I cannot edit files with these tools: {', '.join(tools)}.")
        ran = any(name == shell and self.test_command and self.test_command in args for name, args in calls)
        if self.test_command and shell and command and not ran:
            return f"call {shell}", _call(shell, {command: self.test_command}, len(messages))
        if calls:
            return "final text", _say("Fixed the typos; the tests pass." if ran else "Fixed the typo in greet.py.")
        return "no usable tool", _say(f"I cannot edit files with these tools: {', '.join(tools)}.")

    def _fix(self, fix: Edit, tools: dict[str, dict[str, Any]], edit: str | None, write: str | None,
             shell: str | None, command: str | None, turn: int) -> tuple[str, dict[str, Any]] | None:
        """The call that fixes `fix`'s file with the tools there are, or None if none can."""
        if edit:
            schema = tools[edit]
            args = {_prop(schema, "filepath", "path", "file"): fix.path, _prop(schema, "old", "search"): fix.old,
                    _prop(schema, "new", "replace"): fix.new}
            if None not in args:
                return f"call {edit}", _call(edit, _with_required(schema, args), turn)
        if write:
            schema = tools[write]
            args = {_prop(schema, "filepath", "path", "file"): fix.path, _prop(schema, "content", "text"): fix.after}
            if None not in args:
                return f"call {write}", _call(write, args, turn)
        if shell and command:  # Codex edits with a command (its apply_patch is not a function)
            fixed = fix.new.strip().replace("'", "'\\''")
            return f"call {shell}", _call(shell, {command: f"sed -i 's/{fix.old.strip()}/{fixed}/' {fix.path}"}, turn)
        return None

    async def _events(self, base: dict[str, Any], message: dict[str, Any], finish: str, usage: dict[str, Any]):  # type: ignore[no-untyped-def]
        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return f"data: {json.dumps(base | {'choices': choices} | extra)}\n\n".encode()

        for index in range(self.comments):
            yield f": hermes: smollm2:135m scoring ({index + 1})\n\n".encode()
            await asyncio.sleep(self.comment_interval_s)
        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        for number, call in enumerate(message.get("tool_calls") or []):
            arguments = call["function"]["arguments"]
            yield event([{"index": 0, "delta": {"tool_calls": [{"index": number, "id": call["id"], "type": "function",
                          "function": {"name": call["function"]["name"], "arguments": ""}}]}, "finish_reason": None}])
            half = len(arguments) // 2  # split across chunks, as real models do
            for piece in (arguments[:half], arguments[half:]):
                yield event([{"index": 0, "delta": {"tool_calls": [{"index": number, "function": {"arguments": piece}}]},
                              "finish_reason": None}])
        for index, word in enumerate((message.get("content") or "").split(" ") if message.get("content") else []):
            yield event([{"index": 0, "delta": {"content": word if index == 0 else " " + word}, "finish_reason": None}])
        yield event([{"index": 0, "delta": {}, "finish_reason": finish}])
        yield event([], usage=usage)
        yield b"data: [DONE]\n\n"


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _say(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def _with_required(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """`args`, plus a plain sentence for any other required string (Gemini CLI's replace wants an `instruction`)."""
    extra = {name: "Fix the typo in greet.py." for name in schema.get("required") or ()
             if name not in args and (schema.get("properties") or {}).get(name, {}).get("type") == "string"}
    return args | extra


def _call(name: str, args: dict[str, Any], turn: int) -> dict[str, Any]:
    call = {"id": f"call_agents_{turn}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


@dataclass
class Exchange:
    """One request through the tap."""

    started: float
    client_tokens: int  # an estimate from the request's JSON (chars / 4), messages and tools
    tools: int
    messages: int
    max_tokens: int | None
    stream: bool
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    first_byte_s: float | None = None
    first_data_s: float | None = None
    comment_lines: int = 0
    ended_s: float | None = None
    client_hung_up_s: float | None = None
    error: str | None = None
    hermes: dict[str, Any] | None = None


# What a recording keeps of a request's headers: what Hermes reads to tell sessions and dialects apart.
RECORDED_HEADERS = ("user-agent", "x-session-id", "x-session-affinity", "anthropic-version", "content-type")
# The paths of each dialect's chat door (Hermes's front_doors.py): the requests the tap records.
CHAT_DOORS = ("/chat/completions", "/messages", "/responses", ":generateContent", ":streamGenerateContent")


class Tap:
    """A byte-for-byte relay to Hermes that records each exchange."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.exchanges: list[Exchange] = []
        self.recorded: list[dict[str, Any]] = []  # each chat request as the agent sent it (agents.py --record)
        self.client = httpx.AsyncClient(base_url=upstream, timeout=None)
        self.app = Starlette(routes=[Route("/{path:path}", self.relay, methods=["GET", "POST"])])

    async def relay(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        # Each dialect's conversation: chat's and Anthropic's messages, Responses' input, Gemini's contents.
        turns = body.get("messages") or body.get("input") or body.get("contents") or []
        tools = body.get("tools") or []
        exchange = Exchange(time.monotonic(), approx_tokens(turns) + approx_tokens(body.get("system"))
                            + approx_tokens(tools), len(tools), len(turns) if isinstance(turns, list) else 1,
                            body.get("max_tokens") or body.get("max_output_tokens"),
                            bool(body.get("stream")) or "streamGenerateContent" in request.url.path)
        if request.url.path.endswith(CHAT_DOORS):
            self.exchanges.append(exchange)
            self.recorded.append({"path": request.url.path, "query": str(request.query_params), "body": body,
                                  "headers": {k: v for k, v in request.headers.items() if k.lower() in RECORDED_HEADERS}})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        upstream = self.client.build_request(request.method, request.url.path, params=request.query_params,
                                             headers=headers, content=raw)
        sending = asyncio.ensure_future(self.client.send(upstream, stream=True))
        while not sending.done():  # Hermes may hold its headers back: notice a client that gives up meanwhile
            await asyncio.wait([sending], timeout=0.25)
            if not sending.done() and await request.is_disconnected():
                sending.cancel()  # closes the connection to Hermes, as the client's own hang-up would
                exchange.client_hung_up_s = time.monotonic() - exchange.started
                return Response(status_code=499)
        try:
            response = sending.result()
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            return JSONResponse({"error": {"message": exchange.error}}, status_code=502)
        exchange.status = response.status_code
        exchange.headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-hermes")}
        passed = {k: v for k, v in response.headers.items()
                  if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")}
        return StreamingResponse(self._pipe(response, exchange), status_code=response.status_code, headers=passed)

    async def _pipe(self, response: httpx.Response, exchange: Exchange):  # type: ignore[no-untyped-def]
        pending = b""
        finished = False
        try:
            async for chunk in response.aiter_raw():
                now = time.monotonic() - exchange.started
                if exchange.first_byte_s is None:
                    exchange.first_byte_s = now
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.startswith(b":") and exchange.first_data_s is None:
                        exchange.comment_lines += 1
                    elif line.startswith((b"data:", b"{")):
                        exchange.first_data_s = exchange.first_data_s or now
                        self._look_for_hermes(line.removeprefix(b"data:"), exchange)
                yield chunk
            self._look_for_hermes(pending, exchange)
            finished = True
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
        finally:
            if finished:
                exchange.ended_s = time.monotonic() - exchange.started
            elif exchange.error is None:
                exchange.client_hung_up_s = time.monotonic() - exchange.started
            await response.aclose()

    @staticmethod
    def _look_for_hermes(data: bytes, exchange: Exchange) -> None:
        if b'"hermes"' not in data:
            return
        try:
            exchange.hermes = json.loads(data).get("hermes") or exchange.hermes
        except ValueError:
            pass


class Served:
    """A Starlette app served by uvicorn on 127.0.0.1 in a thread of its own."""

    def __init__(self, app: Starlette, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    timeout_keep_alive=600))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
