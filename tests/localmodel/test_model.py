"""The embedded model speaks Ollama's HTTP API well enough for LiteLLM and curl."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from proxy.localmodel.llama_translate import parse_tool_call, to_llama_messages
from proxy.localmodel.model import EmbeddedModel

MODEL = "smollm2:135m"
TOOLS = [{"type": "function", "function": {"name": "read_file", "description": "Read a file",
                                           "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=120)


def ndjson(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# At temperature 0 SmolLM2 keeps counting until num_predict stops it: at the
# 7-15 tokens/s of a busy 2-core machine, 2000 tokens take minutes.
LONG = {"model": MODEL, "options": {"temperature": 0, "num_predict": 2000},
        "messages": [{"role": "user", "content": "Write the numbers from 1 to 5000 separated by commas."}]}
SHORT = {"model": MODEL, "stream": False, "options": {"num_predict": 4}, "messages": [{"role": "user", "content": "hi"}]}


def test_version_tags_and_show(ollama_url: str) -> None:
    assert httpx.get(f"{ollama_url}/api/version").json()["version"]
    [entry] = httpx.get(f"{ollama_url}/api/tags").json()["models"]
    assert entry["name"] == MODEL and entry["details"]["format"] == "gguf"
    shown = post(ollama_url, "/api/show", {"model": MODEL}).json()
    assert shown["model_info"]["llama.context_length"] == 8192
    assert post(ollama_url, "/api/show", {"model": "llama3.2:3b"}).status_code == 404


def test_chat_answers_with_counts(ollama_url: str) -> None:
    body = {"model": MODEL, "stream": False, "options": {"temperature": 0, "num_predict": 16},
            "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    answer = post(ollama_url, "/api/chat", body).json()
    assert answer["done"] is True and answer["done_reason"] in ("stop", "length")
    assert answer["message"]["role"] == "assistant" and answer["message"]["content"].strip()
    assert 0 < answer["eval_count"] <= 16 and answer["prompt_eval_count"] > 5


def test_chat_streams_ndjson_by_default(ollama_url: str) -> None:
    # Greedy: sampled, the model may end its answer before 8 tokens.
    body = {"model": MODEL, "options": {"num_predict": 8, "temperature": 0},
            "messages": [{"role": "user", "content": "Count to five."}]}
    response = post(ollama_url, "/api/chat", body)
    assert response.headers["content-type"] == "application/x-ndjson"
    *pieces, final = ndjson(response)
    assert all(line["done"] is False for line in pieces) and final["done"] is True
    assert final["eval_count"] == len(pieces) == 8
    assert final["done_reason"] == "length"


def test_generate_streamed_and_not(ollama_url: str) -> None:
    body = {"model": MODEL, "prompt": "def add(a, b):", "raw": True, "options": {"num_predict": 6, "temperature": 0}}
    *pieces, final = ndjson(post(ollama_url, "/api/generate", body))
    assert final["done"] and len(pieces) == 6 and all("response" in p for p in pieces)
    whole = post(ollama_url, "/api/generate", body | {"stream": False}).json()
    assert whole["done"] and whole["response"]
    assert post(ollama_url, "/api/generate", {"model": MODEL, "prompt": ""}).json()["done_reason"] == "load"


def test_json_format_constrains_the_answer(ollama_url: str) -> None:
    body = {"model": MODEL, "stream": False, "format": "json", "options": {"temperature": 0, "num_predict": 60},
            "messages": [{"role": "user", "content": "Give me a JSON object with a name and an age."}]}
    content = post(ollama_url, "/api/chat", body).json()["message"]["content"]
    assert isinstance(json.loads(content), dict)


def test_prompt_beyond_the_context_is_refused_clearly(ollama_url: str, embedded_model: EmbeddedModel) -> None:
    calls = embedded_model.calls
    long = "word " * 9000
    response = post(ollama_url, "/api/chat", {"model": MODEL, "messages": [{"role": "user", "content": long}]})
    assert response.status_code == 400
    assert "context of 8192 tokens" in response.json()["error"]
    assert embedded_model.calls == calls


def test_agent_sized_prompt_fits(ollama_url: str) -> None:
    system = "You are a coding agent. Follow the rules. " * 300  # about 3k tokens, like OpenCode's
    body = {"model": MODEL, "stream": False, "options": {"num_predict": 4},
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]}
    answer = post(ollama_url, "/api/chat", body).json()
    assert answer["prompt_eval_count"] > 2500 and answer["done"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"model": "llama3.2:3b", "messages": []}, 404, id="unknown-model"),
        pytest.param({"model": MODEL, "messages": "hi"}, 400, id="messages-not-array"),
    ],
)
def test_bad_requests(ollama_url: str, body: dict, status: int) -> None:
    assert post(ollama_url, "/api/chat", body).status_code == status
    assert httpx.post(f"{ollama_url}/api/chat", content=b"{", timeout=10).status_code == 400


def test_concurrent_requests_are_queued_not_mixed(ollama_url: str) -> None:
    body = {"model": MODEL, "stream": False, "options": {"temperature": 0, "num_predict": 12},
            "messages": [{"role": "user", "content": "Name a colour."}]}
    # Warm the prompt cache first: llama.cpp's first pass over a prompt can
    # round differently from later passes that reuse the cached prefix.
    post(ollama_url, "/api/chat", body)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: post(ollama_url, "/api/chat", body).json(), range(3)))
    assert len({a["message"]["content"] for a in answers}) == 1
    assert all(a["eval_count"] == 12 or a["done_reason"] == "stop" for a in answers)


def test_tools_are_described_to_the_model() -> None:
    messages = to_llama_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], TOOLS)
    assert messages[0]["content"].startswith("Be brief.") and "- read_file: Read a file" in messages[0]["content"]
    assert to_llama_messages([{"role": "user", "content": "hi"}], TOOLS)[0]["role"] == "system"


def test_tool_call_history_becomes_text_the_template_accepts() -> None:
    messages = to_llama_messages(
        [{"role": "assistant", "content": None,
          "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "a.py"}}}]},
         {"role": "tool", "content": "print(1)"}],
        None,
    )
    assert messages == [
        {"role": "assistant", "content": '{"name": "read_file", "arguments": {"path": "a.py"}}'},
        {"role": "tool", "content": "print(1)"},
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"name": "read_file", "arguments": {"path": "x"}}',
                     {"function": {"name": "read_file", "arguments": {"path": "x"}}}, id="plain"),
        pytest.param('```json\n{"name": "read_file", "arguments": {}}\n```',
                     {"function": {"name": "read_file", "arguments": {}}}, id="fenced"),
        pytest.param('{"name": "delete_all", "arguments": {}}', None, id="tool-not-offered"),
        pytest.param("Sure, I will read it.", None, id="prose"),
    ],
)
def test_parse_tool_call(text: str, expected: dict | None) -> None:
    assert parse_tool_call(text, TOOLS) == expected


def test_a_client_that_leaves_mid_stream_stops_the_generation(ollama_url: str, embedded_model: EmbeddedModel) -> None:
    cancelled = embedded_model.cancelled
    with httpx.Client(timeout=120) as client, client.stream("POST", f"{ollama_url}/api/chat", json=LONG) as response:
        lines = response.iter_lines()
        started = time.monotonic()
        pieces = [json.loads(next(lines)) for _ in range(5)]
        seconds_per_token = (time.monotonic() - started) / 5
    assert not any(piece["done"] for piece in pieces)  # closing the client is the only thing ending it
    wait_for(lambda: embedded_model.cancelled > cancelled)
    started = time.monotonic()
    assert post(ollama_url, "/api/chat", SHORT).json()["done"]
    # The lock is free at once: far sooner than the rest of the long answer would take.
    assert time.monotonic() - started < max(30.0, 0.25 * 1995 * seconds_per_token)


def test_a_client_that_leaves_a_plain_request_stops_the_generation(
    ollama_url: str, embedded_model: EmbeddedModel
) -> None:
    cancelled, calls = embedded_model.cancelled, embedded_model.calls
    body = json.dumps(LONG | {"stream": False}).encode()
    host, port = ollama_url.removeprefix("http://").split(":")
    # A raw socket, so the client leaves exactly when the generation is under way.
    with socket.create_connection((host, int(port))) as client:
        client.sendall(b"POST /api/chat HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body))
        wait_for(lambda: embedded_model.calls > calls, 60)
    wait_for(lambda: embedded_model.cancelled > cancelled)
    assert post(ollama_url, "/api/chat", SHORT).json()["done"]


def test_a_request_queued_behind_one_whose_client_left_starts_at_once(
    ollama_url: str, embedded_model: EmbeddedModel
) -> None:
    with ThreadPoolExecutor(1) as pool:
        with httpx.Client(timeout=120) as client, client.stream("POST", f"{ollama_url}/api/chat", json=LONG) as response:
            lines = response.iter_lines()  # kept: a dropped iterator closes the connection
            next(lines)  # the long answer holds the model
            queued = pool.submit(post, ollama_url, "/api/chat", SHORT)
            time.sleep(0.5)
            assert not queued.done()
        started = time.monotonic()
        assert queued.result(timeout=30).json()["done"]
    assert time.monotonic() - started < 30
