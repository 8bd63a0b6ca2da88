"""Anthropic Messages (`POST /v1/messages`), with Anthropic's own SDK as the client, as Claude Code is.

A real `hermes serve` in a thread, the embedded model behind Ollama's protocol, and the OpenRouter stub.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anthropic
import httpx
import pytest

from proxy.config import Config
from tests.conftest import TEST_API_KEY
from tests.edge.test_app import tasks
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub

ASK = [{"role": "user", "content": "Say hi."}]
READ_TOOL = {"name": "Read", "description": "Read a file.",
             "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}


def client(url: str, key: str = "unused") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=120)


def sse(url: str, body: dict[str, object]) -> list[dict[str, object]]:
    """The events of a streamed /v1/messages, as JSON, each with the `event:` name it came under."""
    with httpx.stream("POST", f"{url}/v1/messages", json=body | {"stream": True}, timeout=120) as response:
        assert response.status_code == 200, response.read()
        text = response.read().decode()
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if lines:
            events.append(json.loads(lines["data"]) | {"_event": lines["event"]})
    return events


def test_a_local_answer_is_an_anthropic_message_free_and_recorded(hermes_url: str, database: Path | str) -> None:
    raw = client(hermes_url).messages.with_raw_response.create(model="local", max_tokens=16, messages=ASK)
    message = raw.parse()

    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text.strip()
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert raw.headers["x-hermes-route"] == "local" and raw.headers["x-hermes-cost-usd"] == "0.000000"
    assert json.loads(raw.http_response.text)["hermes"]["route"] == "local"
    [task] = tasks(database)
    assert (task["route"], task["cost_usd"], task["status"]) == ("local", 0.0, 200)


def test_a_streamed_local_answer_has_the_event_grammar_and_the_verdict_last(hermes_url: str) -> None:
    events = sse(hermes_url, {"model": "local", "max_tokens": 16, "messages": ASK})

    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1] == "content_block_start" and "content_block_delta" in kinds and "content_block_stop" in kinds
    assert all(event["_event"] == event["type"] for event in events)
    assert events[-2]["delta"]["stop_reason"] in ("end_turn", "max_tokens")
    assert events[-2]["usage"]["output_tokens"] > 0
    assert events[-1]["hermes"]["route"] == "local"
    assert all("hermes" not in event for event in events[:-1])


def test_the_sdk_streams_an_auto_answer_through_the_cascades_comment_lines(hermes_url: str) -> None:
    with client(hermes_url).messages.stream(model="auto", max_tokens=16, messages=ASK) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text.strip() and final.content[0].text == text
    assert final.usage.output_tokens > 0


def test_a_cloud_answer_is_charged_what_openrouter_billed(hermes_url: str, openrouter: OpenRouterStub,
                                                           database: Path | str) -> None:
    raw = client(hermes_url).messages.with_raw_response.create(model="cloud", max_tokens=1024, messages=ASK)
    message = raw.parse()

    assert message.content[0].text.startswith("Hello from ") and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)
    assert raw.headers["x-hermes-route"] == "cloud"
    assert float(raw.headers["x-hermes-cost-usd"]) == pytest.approx(COST_PER_CALL_USD)
    [task] = tasks(database)
    assert task["cost_usd"] == pytest.approx(COST_PER_CALL_USD)
    assert openrouter.requests[0]["json"]["messages"][-1] == {"role": "user", "content": "Say hi."}


def test_a_tool_use_round_trip_stays_in_one_session(hermes_url: str, openrouter: OpenRouterStub) -> None:
    anthropic_client = client(hermes_url)
    first = anthropic_client.messages.with_raw_response.create(
        model="cloud", max_tokens=64, messages=[{"role": "user", "content": "What is in README.md?"}],
        tools=[READ_TOOL])
    message = first.parse()
    [call] = [block for block in message.content if block.type == "tool_use"]
    assert (call.name, call.input, message.stop_reason) == ("Read", {"path": "README.md"}, "tool_use")

    history = [{"role": "user", "content": "What is in README.md?"},
               {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "# Hermes"}]}]
    second = anthropic_client.messages.with_raw_response.create(model="cloud", max_tokens=64, messages=history)

    assert second.headers["x-hermes-session-id"] == first.headers["x-hermes-session-id"]
    # Relayed in Anthropic's own dialect: the history goes to OpenRouter's /messages as the client wrote it.
    assert [request["path"] for request in openrouter.requests] == ["/messages", "/messages"]
    assert openrouter.requests[1]["json"]["messages"] == history


def test_a_streamed_cloud_tool_call_arrives_as_input_json_deltas(hermes_url: str) -> None:
    with client(hermes_url).messages.stream(model="cloud", max_tokens=64, tools=[READ_TOOL],
                                            messages=[{"role": "user", "content": "Read README.md"}]) as stream:
        final = stream.get_final_message()

    [call] = final.content
    assert (call.type, call.name, call.input, final.stop_reason) == ("tool_use", "Read", {"path": "README.md"},
                                                                      "tool_use")


def test_claude_codes_request_shape_is_answered(hermes_url: str, openrouter: OpenRouterStub) -> None:
    # What Claude Code sends besides the messages: system blocks with cache_control, its environment as a
    # system message inside `messages`, adaptive thinking, metadata, betas in a header and `?beta=true`.
    body = {
        "model": "cloud", "max_tokens": 32000, "stream": False,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "system", "content": "<env>Working directory: /tmp/x</env>"},
                     {"role": "user", "content": [
                         {"type": "text", "text": "<system-reminder>Be brief.</system-reminder>"},
                         {"type": "text", "text": "fix the typo in hello.py", "cache_control": {"type": "ephemeral"}}]}],
        "tools": [READ_TOOL], "thinking": {"type": "adaptive"}, "metadata": {"user_id": "user_1"},
        "output_config": {"effort": "high"}, "context_management": {"edits": []},
    }
    response = httpx.post(f"{hermes_url}/v1/messages?beta=true", json=body, timeout=120,
                          headers={"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219",
                                   "x-api-key": "unused", "X-Claude-Code-Session-Id": "s-1"})

    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"
    sent = openrouter.requests[0]["json"]
    assert sent["messages"][0]["role"] == "system" and "fix the typo" in json.dumps(sent["messages"])


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"model": "local", "messages": ASK}, "max_tokens", id="no-max-tokens"),
    pytest.param({"model": "local", "max_tokens": 8}, "messages", id="no-messages"),
    pytest.param({"model": "local", "max_tokens": 8, "messages": [{"role": "robot", "content": "x"}]}, "messages[0]",
                 id="bad-role"),
    pytest.param({"model": "local", "max_tokens": 8, "messages": [{"role": "user", "content": [{"text": 1}]}]},
                 "messages[0].content[0]", id="block-without-type"),
    pytest.param({"model": "local", "max_tokens": 8, "messages": ASK, "tools": [{"input_schema": {}}]}, "tools[0]",
                 id="tool-without-name"),
    pytest.param({"model": "", "max_tokens": 8, "messages": ASK}, "model", id="empty-model"),
    pytest.param({"model": "local", "max_tokens": 8, "messages": ASK, "temperature": "hot"}, "temperature",
                 id="temperature-not-a-number"),
])
def test_bad_input_is_a_400_in_anthropics_shape_naming_the_field(
    hermes_url: str, database: Path | str, openrouter: OpenRouterStub, body: dict[str, object], field: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client(hermes_url).post("/v1/messages", cast_to=object, body=body)

    error = raised.value.body
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert f"'{field}" in error["error"]["message"]  # type: ignore[index]
    assert openrouter.requests == []
    assert all(task["cost_usd"] == 0 for task in tasks(database))


def test_an_unknown_model_is_a_404_in_anthropics_shape(hermes_url: str) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client(hermes_url).messages.create(model="no-such-model", max_tokens=8, messages=ASK)

    assert raised.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "no-such-model" in raised.value.body["error"]["message"]  # type: ignore[index]


def test_a_spent_budget_is_a_429_the_sdk_is_told_not_to_retry(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(budget={"daily_limit_usd": 0.0}))
    with pytest.raises(anthropic.RateLimitError) as raised:
        client(url).messages.create(model="cloud", max_tokens=8, messages=ASK)

    assert raised.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert raised.value.response.headers["x-should-retry"] == "false"


def test_the_key_is_taken_from_x_api_key_and_a_wrong_one_is_refused_in_anthropics_shape(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY=TEST_API_KEY))

    assert client(url, key=TEST_API_KEY).messages.create(model="local", max_tokens=8, messages=ASK).content
    with pytest.raises(anthropic.AuthenticationError) as raised:
        client(url, key="wrong").messages.create(model="local", max_tokens=8, messages=ASK)
    assert raised.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    bearer = anthropic.Anthropic(base_url=url, auth_token=TEST_API_KEY, max_retries=0)  # ANTHROPIC_AUTH_TOKEN
    assert bearer.messages.create(model="local", max_tokens=8, messages=ASK).content


def test_count_tokens_counts_the_whole_request(hermes_url: str) -> None:
    short = client(hermes_url).messages.count_tokens(model="auto", messages=ASK)
    longer = client(hermes_url).messages.count_tokens(model="auto", messages=ASK, tools=[READ_TOOL],
                                                      system="You are a careful engineer. " * 20)

    assert 0 < short.input_tokens < longer.input_tokens


def test_claude_codes_small_fast_model_is_answered_locally(hermes_url: str, openrouter: OpenRouterStub) -> None:
    raw = client(hermes_url).messages.with_raw_response.create(model="claude-haiku-4-5-20251001", max_tokens=8,
                                                               messages=ASK)

    assert raw.headers["x-hermes-route"] == "local" and raw.headers["x-hermes-model"] == "smollm2:135m"
    assert openrouter.requests == []


def test_claude_codes_main_model_goes_through_the_cascade(hermes_url: str, openrouter: OpenRouterStub) -> None:
    raw = client(hermes_url).messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=8,
                                                               messages=ASK)

    # auto: the embedded model answered first, and its answer was scored before any upgrade.
    assert "the best local answer (smollm2:135m) scored" in raw.headers["x-hermes-reason"]



def test_when_the_upgrade_fails_claude_code_still_gets_the_local_answer(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "error"  # OpenRouter down: the upgrade fails, the answer in hand is given
    raw = client(hermes_url).messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=8,
                                                               messages=ASK)
    message = raw.parse()

    assert message.type == "message" and message.content[0].type == "text" and message.content[0].text
    assert raw.headers["x-hermes-route"] == "local" and raw.headers["x-hermes-model"] == "smollm2:135m"
    assert raw.headers["x-hermes-reason"].startswith("policy auto: the upgrade to ")
    assert "failed (502 upstream_error: " in raw.headers["x-hermes-reason"]
    assert len(openrouter.requests) == 1
    assert [(task["route"], task["status"]) for task in tasks(database)] == [("cloud", 502), ("local", 200)]

# -- a cloud call in Anthropic's own dialect: OpenRouter's /messages, relayed as it comes -------------------------


def test_a_recorded_stream_comes_through_with_the_same_values_plus_the_verdict(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "recorded"
    events = sse(hermes_url, {"model": "cloud", "max_tokens": 1024, "messages": ASK, "tools": [READ_TOOL]})

    sent = [json.loads(data) for data in openrouter.sent]
    assert [{k: v for k, v in event.items() if k not in ("_event", "hermes")} for event in events] == sent
    assert events[-1]["type"] == "message_stop" and events[-1]["hermes"]["route"] == "cloud"
    [task] = tasks(database)
    assert task["cost_usd"] == pytest.approx(COST_PER_CALL_USD)
    assert (task["input_tokens"], task["output_tokens"]) == (12 + 2048, 42)  # cache reads are input too


def test_the_sdk_reads_thinking_and_a_split_tool_call_from_the_relayed_stream(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    openrouter.mode = "recorded"
    with client(hermes_url).messages.stream(model="cloud", max_tokens=1024, messages=ASK, tools=[READ_TOOL],
                                            thinking={"type": "enabled", "budget_tokens": 512}) as stream:
        final = stream.get_final_message()

    thinking, text, call = final.content
    assert (thinking.type, thinking.thinking, thinking.signature) == ("thinking", "The user wants the README.",
                                                                      "EqQBCkYIBxgC")
    assert text.text == "Reading it." and (call.name, call.input) == ("Read", {"file_path": "/p/README.md"})
    assert final.usage.cache_read_input_tokens == 2048


def test_the_body_goes_out_as_the_client_wrote_it_with_the_model_and_cap_set(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    body = {"model": "cloud", "max_tokens": 200_000, "stream": False,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": ASK, "thinking": {"type": "enabled", "budget_tokens": 1024}, "metadata": {"user_id": "u1"}}
    response = httpx.post(f"{hermes_url}/v1/messages", json=body, timeout=60)

    assert response.status_code == 200, response.text
    [sent] = openrouter.requests
    assert sent["path"] == "/messages" and sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["json"]["model"] == "anthropic/claude-3.5-sonnet"
    assert sent["json"]["max_tokens"] < 200_000  # the meter's cap: what the budget reserved
    assert {key: sent["json"][key] for key in ("system", "messages", "thinking", "metadata")} == {
        key: body[key] for key in ("system", "messages", "thinking", "metadata")}
    assert response.json()["id"] == "gen-stub-msg-1" and response.json()["hermes"]["route"] == "cloud"


def test_a_relayed_stream_cut_midway_ends_with_an_anthropic_error_event(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "cut"
    events = sse(hermes_url, {"model": "cloud", "max_tokens": 1024, "messages": ASK})

    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    assert [task["status"] for task in tasks(database)] == [502]


def test_an_upstream_error_is_a_502_in_anthropics_shape(hermes_url: str, openrouter: OpenRouterStub) -> None:
    openrouter.mode = "error"
    with pytest.raises(anthropic.InternalServerError) as raised:
        client(hermes_url).messages.create(model="cloud", max_tokens=64, messages=ASK)

    assert raised.value.status_code == 502 and "Provider returned error" in raised.value.body["error"]["message"]
