"""OpenAI Responses (`POST /v1/responses`), with the `openai` SDK's `client.responses` as the client, as Codex is.

A real `hermes serve` in a thread, the embedded model behind Ollama's protocol, and the OpenRouter stub.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest

from proxy.config import Config
from tests.conftest import TEST_API_KEY
from tests.edge.test_app import tasks
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub

EXEC = {"type": "function", "name": "exec_command", "description": "Run a shell command.", "strict": False,
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def events(url: str, body: dict[str, object]) -> list[dict[str, object]]:
    """The events of a streamed /v1/responses, as JSON, each with the `event:` name it came under."""
    with httpx.stream("POST", f"{url}/v1/responses", json=body | {"stream": True}, timeout=120) as response:
        assert response.status_code == 200, response.read()
        text = response.read().decode()
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if lines:
            found.append(json.loads(lines["data"]) | {"_event": lines["event"]})
    return found


def test_a_local_answer_is_a_response_free_and_recorded(hermes_url: str, database: Path | str) -> None:
    raw = client(hermes_url).responses.with_raw_response.create(model="local", input="Say hi.",
                                                                max_output_tokens=16)
    response = raw.parse()

    assert response.object == "response" and response.status in ("completed", "incomplete")  # 16 tokens may cut it
    assert response.output_text.strip()
    assert response.usage is not None and response.usage.output_tokens > 0
    assert raw.headers["x-hermes-route"] == "local"
    assert json.loads(raw.http_response.text)["hermes"]["route"] == "local"
    [task] = tasks(database)
    assert (task["route"], task["cost_usd"], task["status"]) == ("local", 0.0, 200)


def test_a_streamed_answer_has_the_event_grammar_and_the_verdict_on_completed(hermes_url: str) -> None:
    found = events(hermes_url, {"model": "local", "input": "Say hi.", "max_output_tokens": 16})

    kinds = [event["type"] for event in found]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert "response.output_item.added" in kinds and "response.output_text.delta" in kinds
    assert all(event["_event"] == event["type"] for event in found)
    completed = found[-1]
    assert completed["response"]["usage"]["output_tokens"] > 0  # type: ignore[index]
    assert completed["hermes"]["route"] == "local"  # type: ignore[index]
    assert all("hermes" not in event for event in found[:-1])


def test_the_sdk_streams_an_auto_answer_through_the_cascades_comment_lines(hermes_url: str) -> None:
    with client(hermes_url).responses.stream(model="auto", input="Say hi.", max_output_tokens=16) as stream:
        text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()

    assert text.strip() and final.output_text == text


def test_a_cloud_answer_is_charged_what_openrouter_billed(hermes_url: str, openrouter: OpenRouterStub,
                                                           database: Path | str) -> None:
    raw = client(hermes_url).responses.with_raw_response.create(
        model="cloud", instructions="You are Codex.", input="Say hi.")
    response = raw.parse()

    assert response.output_text.startswith("Hello from ")
    assert response.usage is not None and (response.usage.input_tokens, response.usage.output_tokens) == (12, 7)
    assert float(raw.headers["x-hermes-cost-usd"]) == pytest.approx(COST_PER_CALL_USD)
    [task] = tasks(database)
    assert task["cost_usd"] == pytest.approx(COST_PER_CALL_USD)
    [sent] = openrouter.requests  # relayed in Responses' own dialect, as the client wrote it
    assert sent["path"] == "/responses" and sent["json"]["instructions"] == "You are Codex."
    assert sent["json"]["model"] == "anthropic/claude-3.5-sonnet" and sent["json"]["input"] == "Say hi."


def test_a_function_call_round_trip_stays_in_one_session(hermes_url: str, openrouter: OpenRouterStub) -> None:
    responses = client(hermes_url).responses
    first = responses.with_raw_response.create(model="cloud", input="What is in README.md?", tools=[EXEC])
    [call] = [item for item in first.parse().output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == ("exec_command", {"path": "README.md"})

    history = [{"role": "user", "content": "What is in README.md?"},
               {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
               {"type": "function_call_output", "call_id": call.call_id, "output": "# Hermes"}]
    second = responses.with_raw_response.create(model="cloud", input=history)  # type: ignore[arg-type]

    assert second.headers["x-hermes-session-id"] == first.headers["x-hermes-session-id"]
    assert openrouter.requests[1]["path"] == "/responses" and openrouter.requests[1]["json"]["input"] == history


def test_a_streamed_cloud_function_call_arrives_as_argument_deltas(hermes_url: str) -> None:
    found = events(hermes_url, {"model": "cloud", "input": "Read README.md", "tools": [EXEC]})

    kinds = [event["type"] for event in found]
    assert "response.function_call_arguments.delta" in kinds
    [done] = [event for event in found if event["type"] == "response.function_call_arguments.done"]
    assert json.loads(done["arguments"]) == {"path": "README.md"}  # type: ignore[arg-type]


def test_codexs_request_shape_is_answered(hermes_url: str, openrouter: OpenRouterStub) -> None:
    # What Codex CLI sends besides the input: developer and user messages as input_text parts, a
    # web_search tool, reasoning with a summary, store false, include, a prompt cache key, its headers.
    body = {
        "model": "gpt-5-codex", "instructions": "You are Codex, a coding agent.", "stream": True, "store": False,
        "input": [{"type": "message", "role": "developer",
                   "content": [{"type": "input_text", "text": "<permissions>workspace-write</permissions>"}]},
                  {"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
                  {"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "fix the typo in hello.py"}]}],
        "tools": [EXEC, {"type": "web_search"}], "tool_choice": "auto", "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"}, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k-1",
        "client_metadata": {"x": "y"},
    }
    with httpx.stream("POST", f"{hermes_url}/v1/responses", json=body, timeout=120,
                      headers={"session-id": "s-1", "accept-encoding": "zstd,gzip"}) as response:
        text = response.read().decode()

    assert response.status_code == 200, text
    assert "event: response.completed" in text


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"model": "local"}, "input", id="no-input"),
    pytest.param({"model": "local", "input": []}, "input", id="empty-input"),
    pytest.param({"model": "local", "input": [{"role": "robot", "content": "x"}]}, "input[0].role", id="bad-role"),
    pytest.param({"model": "local", "input": [{"type": "function_call", "call_id": 1}]}, "input[0].call_id",
                 id="call-id-not-a-string"),
    pytest.param({"model": "local", "input": "hi", "tools": [{"name": "x"}]}, "tools[0]", id="tool-without-type"),
    pytest.param({"model": "local", "input": "hi", "max_output_tokens": 0}, "max_output_tokens", id="zero-tokens"),
    pytest.param({"model": "local", "input": "hi", "reasoning": {"effort": "extreme"}}, "reasoning.effort",
                 id="unknown-effort"),
    pytest.param({"input": "hi"}, "model", id="no-model"),
])
def test_bad_input_is_a_400_naming_the_field(
    hermes_url: str, database: Path | str, openrouter: OpenRouterStub, body: dict[str, object], field: str
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client(hermes_url).post("/responses", cast_to=object, body=body)

    assert f"'{field}" in raised.value.body["message"]  # type: ignore[index]
    assert openrouter.requests == []
    assert all(task["cost_usd"] == 0 for task in tasks(database))


def test_a_failure_mid_stream_is_a_response_failed_event(hermes_url: str, openrouter: OpenRouterStub,
                                                          database: Path | str) -> None:
    openrouter.mode = "cut"
    found = events(hermes_url, {"model": "cloud", "input": "Say hi."})

    assert found[-1]["type"] == "response.failed"
    assert found[-1]["response"]["error"]["code"] == "upstream_stream_incomplete"  # type: ignore[index]
    [task] = tasks(database)
    assert task["status"] == 502


def test_a_wrong_key_is_a_401(make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY=TEST_API_KEY))

    assert client(url, key=TEST_API_KEY).responses.create(model="local", input="hi", max_output_tokens=8).output
    with pytest.raises(openai.AuthenticationError):
        client(url, key="wrong").responses.create(model="local", input="hi", max_output_tokens=8)


# -- a cloud call in Responses' own dialect: OpenRouter's /responses, relayed as it comes --------------------------


def test_a_recorded_stream_comes_through_with_the_same_values_plus_the_verdict(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "recorded"
    found = events(hermes_url, {"model": "cloud", "input": "Read the README.", "tools": [EXEC],
                                "include": ["reasoning.encrypted_content"], "store": False})

    sent = [json.loads(data) for data in openrouter.sent]
    assert [{k: v for k, v in event.items() if k not in ("_event", "hermes")} for event in found] == sent
    assert found[-1]["type"] == "response.completed" and found[-1]["hermes"]["route"] == "cloud"  # type: ignore[index]
    [task] = tasks(database)
    assert task["cost_usd"] == pytest.approx(COST_PER_CALL_USD)
    assert (task["input_tokens"], task["output_tokens"]) == (2060, 42)


def test_the_sdk_reads_the_encrypted_reasoning_and_the_call_from_the_relayed_stream(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    openrouter.mode = "recorded"
    with client(hermes_url).responses.stream(model="cloud", input="Read the README.", tools=[EXEC],  # type: ignore[list-item]
                                             include=["reasoning.encrypted_content"]) as stream:
        final = stream.get_final_response()

    reasoning, message, call = final.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == "gAAAAABstub=="  # type: ignore[union-attr]
    assert final.output_text == "Reading it."
    assert call.type == "function_call" and json.loads(call.arguments) == {"cmd": "cat README.md"}  # type: ignore[union-attr]


def test_the_body_goes_out_as_the_client_wrote_it_with_the_model_and_cap_set(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    body = {"model": "cloud", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "instructions": "Be brief.", "store": False, "include": ["reasoning.encrypted_content"],
            "reasoning": {"effort": "high", "summary": "auto"}, "prompt_cache_key": "k-1",
            "max_output_tokens": 200_000}
    response = httpx.post(f"{hermes_url}/v1/responses", json=body, timeout=60)

    assert response.status_code == 200, response.text
    [sent] = openrouter.requests
    assert sent["json"]["model"] == "anthropic/claude-3.5-sonnet" and sent["json"]["max_output_tokens"] < 200_000
    assert {key: sent["json"][key] for key in body if key not in ("model", "max_output_tokens")} == {
        key: value for key, value in body.items() if key not in ("model", "max_output_tokens")}
    assert response.json()["id"] == "gen-stub-resp-1" and response.json()["hermes"]["route"] == "cloud"
