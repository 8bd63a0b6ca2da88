"""What the scorer's tests share: a task as a user would send it, an answer, and the score it gets."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment.quality import QualityScore, Signal, score_answer
from proxy.judgment.sandbox import sandbox_available, sandbox_status

CONFIG = QualityConfig()
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason=f"no working sandbox: {sandbox_status().reason}")

SYSTEM = {"role": "system", "content": "You are a careful senior engineer. Answer concisely."}

# The task of HumanEval/2 as a user would paste it, docstring example and all.
TRUNCATE_TASK = '''Complete this function:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, return its decimal part.
    >>> truncate_number(3.5)
    0.5
    >>> truncate_number(10.25)
    0.25
    """
```'''

RIGHT_TRUNCATE = '''Here is the completed function:

```python
def truncate_number(number: float) -> float:
    """ Given a positive floating point number, return its decimal part."""
    return number % 1.0
```

`number % 1.0` keeps what is left after removing the integer part.'''

# SmolLM2-135M's real answer to this task.
WRONG_TRUNCATE = '''```python
def truncate_number(number: float) -> float:
    """
    Returns the decimal part of the given number.
    """
    return int(round(number * 10))
```

This function uses the built-in `round()` function to truncate the number to the nearest integer.'''


def ask(text: str) -> list[dict[str, Any]]:
    return [SYSTEM, {"role": "user", "content": text}]


def reply(content: str | None, *calls: tuple[str, str]) -> dict[str, Any]:
    answer: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        answer["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(calls)
        ]
    return answer


async def score(messages: list[dict[str, Any]], answer: dict[str, Any], *, finish_reason: str = "stop",
                tools: list[dict[str, Any]] | None = None, task_type: str = "code_generation",
                config: QualityConfig = CONFIG, judge: Any = None) -> QualityScore:
    return await score_answer(messages, answer, finish_reason, tools, task_type, config, judge)


def signal(result: QualityScore, name: str) -> Signal:
    return next(s for s in result.signals if s.name == name)


# OpenCode's `read` and `bash` tools, as it sends them: JSON Schema draft 2020-12.
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "read",
            "description": "Reads a file from the local filesystem.",
            "parameters": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "filePath": {"type": "string", "description": "The path to the file to read"},
                    "offset": {"type": "number", "exclusiveMinimum": 0, "description": "The line to start at"},
                    "limit": {"type": "number", "exclusiveMinimum": 0, "description": "The number of lines"},
                },
                "required": ["filePath"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "Executes a bash command.",
            "parameters": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"command": {"type": "string"}, "timeout": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["command"],
                "additionalProperties": False,
            },
        },
    },
]
AGENT_TURN = [SYSTEM, {"role": "user", "content": "What does src/app.py do?"}]
