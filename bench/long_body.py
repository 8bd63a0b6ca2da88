"""An OpenCode-sized conversation for bench/proxy_compare.py: 100 messages, 10 tools, about 30k tokens.

Coding agents do not send two-message requests: by the middle of a task
OpenCode resends its system prompt, its ten tool schemas and every tool call
and result so far, about 139 KB of JSON. The system prompt and the tools are
OpenCode's own (the recording in tests/clients/); the 98 messages after them
are made here, the same every time (a seeded generator), in the shape
OpenCode sends: the task, then reads, greps and edits with their results.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

RECORDING = Path(__file__).resolve().parent.parent / "tests" / "clients" / "opencode-refactor-attached-file.json"
MESSAGES = 100
WORDS = ("value", "result", "line", "parse", "token", "key", "config", "items", "index", "count", "name",
         "path", "text", "error", "record", "entry", "field", "buffer", "offset", "source")


def conversation(model: str, *, stream: bool = False) -> dict[str, Any]:
    """The request body: OpenCode's system prompt and tools, then the made-up tool calls up to 100 messages."""
    recorded = json.loads(RECORDING.read_text())["body"]
    rng = random.Random(2026)
    messages: list[dict[str, Any]] = [recorded["messages"][0],
                                      {"role": "user", "content": "Refactor the parser package into smaller "
                                                                  "functions and keep the tests passing."}]
    turn = 0
    while len(messages) < MESSAGES - 2:
        call_id = f"call_{turn:04d}"
        tool, arguments, result = _tool_round(rng, turn)
        messages.append({"role": "assistant", "content": "",
                         "tool_calls": [{"id": call_id, "type": "function",
                                         "function": {"name": tool, "arguments": json.dumps(arguments)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
        turn += 1
    messages.append({"role": "assistant", "content": "The parser is split into four functions; the tests pass."})
    messages.append({"role": "user", "content": "Now do the same for the writer module."})
    body: dict[str, Any] = {"model": model, "max_tokens": 16, "messages": messages, "tools": recorded["tools"],
                            "tool_choice": "auto"}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def _tool_round(rng: random.Random, turn: int) -> tuple[str, dict[str, Any], str]:
    path = f"/tmp/proj/parser/{rng.choice(WORDS)}_{turn}.py"
    kind = turn % 3
    if kind == 0:
        source = "\n".join(f"{n}: {_code_line(rng)}" for n in range(1, 1 + rng.randint(52, 66)))
        return "read", {"filePath": path}, f"<path>{path}</path>\n<type>file</type>\n<content>\n{source}\n</content>"
    if kind == 1:
        word = rng.choice(WORDS)
        hits = "\n".join(f"{path}:{rng.randint(1, 200)}: {_code_line(rng)}" for _ in range(rng.randint(24, 32)))
        return "grep", {"pattern": word, "path": "/tmp/proj"}, f"Found {hits.count(chr(10)) + 1} matches\n{hits}"
    old, new = _code_line(rng), _code_line(rng)
    return "edit", {"filePath": path, "oldString": old, "newString": new}, "Edit applied successfully."


def _code_line(rng: random.Random) -> str:
    a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
    shapes = (f"    {a} = {b}.{c}({rng.randint(0, 99)})",
              f"    if {a} and not {b}.startswith(\"{c}\"):",
              f"        return [{a} for {a} in {b} if {a}.{c}]",
              f"def {a}_{b}({c}: str, {a}: int = {rng.randint(0, 9)}) -> list[str]:",
              f"    # {a} the {b} before the {c} is read",
              f"    {a}[\"{b}\"] = {c}.get(\"{a}\", {rng.random():.3f})")
    return rng.choice(shapes)


if __name__ == "__main__":
    made = json.dumps(conversation("claude-sonnet")).encode()
    print(f"{len(made):,} bytes, {len(conversation('x')['messages'])} messages")
