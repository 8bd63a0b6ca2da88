"""`POST /api/v1/quality/score`: anyone can ask how the cascade would judge an answer."""

from __future__ import annotations

import httpx
import pytest

from tests.edge.test_app import assert_openai_error

TASK = [{"role": "user", "content": (
    "Write a Python function add(a, b) that returns the sum.\n\n>>> add(2, 3)\n5\n>>> add(-1, 1)\n0")}]
RIGHT = {"role": "assistant", "content": "```python\ndef add(a, b):\n    return a + b\n```"}
WRONG = {"role": "assistant", "content": "```python\ndef add(a, b):\n    return a - b\n```"}


def score(url: str, body: object) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/quality/score", json=body, timeout=60)


def test_a_working_answer_outscores_a_broken_one_and_every_signal_is_shown(hermes_url: str) -> None:
    right = score(hermes_url, {"messages": TASK, "answer": RIGHT, "finish_reason": "stop"})
    wrong = score(hermes_url, {"messages": TASK, "answer": WRONG, "finish_reason": "stop"})
    assert right.status_code == wrong.status_code == 200, (right.text, wrong.text)
    good, bad = right.json(), wrong.json()
    assert 0 <= bad["score"] < good["score"] <= 10
    assert good["task_type"] == bad["task_type"]  # classified as a chat request would be
    names = {signal["name"] for signal in good["signals"]}
    assert {"empty", "truncated", "refusal"} <= names
    assert all(set(signal) >= {"name", "passed", "weight", "detail"} for signal in good["signals"])
    assert good["explanation"].startswith(f"{good['score']:.1f}")


def test_a_truncated_answer_and_a_refusal_score_low(hermes_url: str) -> None:
    cut = score(hermes_url, {"messages": TASK, "answer": RIGHT, "finish_reason": "length"}).json()
    refused = score(hermes_url, {"messages": TASK, "answer": {
        "role": "assistant", "content": "I'm sorry, but I can't help with that."}}).json()
    full = score(hermes_url, {"messages": TASK, "answer": RIGHT, "finish_reason": "stop"}).json()
    assert cut["score"] < full["score"] and refused["score"] < full["score"]


def test_the_caller_may_name_the_task_type(hermes_url: str) -> None:
    named = score(hermes_url, {"messages": TASK, "answer": RIGHT, "task_type": "question"}).json()
    assert named["task_type"] == "question"


@pytest.mark.parametrize("body", [
    pytest.param({"answer": RIGHT}, id="no-messages"),
    pytest.param({"messages": [], "answer": RIGHT}, id="messages-empty"),
    pytest.param({"messages": TASK}, id="no-answer"),
    pytest.param({"messages": TASK, "answer": "5"}, id="answer-string"),
    pytest.param({"messages": TASK, "answer": {"role": "user", "content": "x"}}, id="answer-from-user"),
    pytest.param({"messages": TASK, "answer": {"content": 5}}, id="content-number"),
    pytest.param({"messages": TASK, "answer": {"content": "x", "tool_calls": {}}}, id="tool-calls-object"),
    pytest.param({"messages": TASK, "answer": {"content": "x", "mood": "happy"}}, id="answer-unknown-key"),
    pytest.param({"messages": TASK, "answer": RIGHT, "finish_reason": 1}, id="finish-reason-number"),
    pytest.param({"messages": TASK, "answer": RIGHT, "task_type": ""}, id="task-type-empty"),
    pytest.param({"messages": TASK, "answer": RIGHT, "tools": "all"}, id="tools-string"),
    pytest.param({"messages": TASK, "answer": RIGHT, "extra": 1}, id="unknown-key"),
    pytest.param([TASK, RIGHT], id="body-array"),
])
def test_a_bad_body_is_an_openai_400(hermes_url: str, body: object) -> None:
    response = score(hermes_url, body)
    assert response.status_code == 400, response.text
    assert_openai_error(response, 400, response.json()["error"]["code"])
