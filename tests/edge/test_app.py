"""Hermes over real HTTP: the embedded model, the OpenRouter stub, a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from proxy.config import Config
from proxy.localmodel.model import EmbeddedModel
from tests.conftest import TEST_API_KEY
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub
from tests.postgres import query

HI = [{"role": "user", "content": "hi"}]
ELEVEN_MIB = 11 * 1024 * 1024


def chat(url: str, body: object | None = None, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120, **kwargs)  # type: ignore[arg-type]


def sse_events(response: httpx.Response) -> list[object]:
    """The data of each server-sent event, JSON-decoded except for [DONE]."""
    events = []
    for block in response.text.split("\n\n"):
        if block.startswith("data: "):
            data = block.removeprefix("data: ")
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def tasks(location: Path | str) -> list[dict[str, object]]:
    """Every task recorded in the store at `location` (the `database` fixture), oldest first."""
    return query(location, "SELECT * FROM tasks ORDER BY id")


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


BAD_BODIES = [
    pytest.param(b"{not json", "invalid_json", id="malformed-json"),
    pytest.param(b"[1, 2]", "invalid_request", id="body-not-object"),
    pytest.param(json.dumps({"model": "local"}).encode(), "invalid_messages", id="messages-missing"),
    pytest.param(json.dumps({"model": "local", "messages": []}).encode(), "invalid_messages", id="messages-empty"),
    pytest.param(json.dumps({"model": "local", "messages": "hi"}).encode(), "invalid_messages", id="messages-string"),
    pytest.param(json.dumps({"model": "local", "messages": [{"role": "wizard", "content": "x"}]}).encode(),
                 "invalid_messages", id="unknown-role"),
    pytest.param(json.dumps({"model": "local", "messages": [{"role": "user", "content": 5}]}).encode(),
                 "invalid_messages", id="content-number"),
    pytest.param(json.dumps({"messages": HI}).encode(), "invalid_model", id="model-missing"),
    pytest.param(json.dumps({"model": 7, "messages": HI}).encode(), "invalid_model", id="model-number"),
    pytest.param(json.dumps({"model": "local", "messages": HI, "stream": "yes"}).encode(), "invalid_stream",
                 id="stream-string"),
    pytest.param(json.dumps({"model": "local", "messages": HI, "temperature": "hot"}).encode(),
                 "invalid_temperature", id="temperature-string"),
    pytest.param(json.dumps({"model": "local", "messages": HI, "max_tokens": -5}).encode(), "invalid_max_tokens",
                 id="max-tokens-negative"),
    pytest.param(json.dumps({"model": "local", "messages": HI, "tools": {"a": 1}}).encode(), "invalid_tools",
                 id="tools-object"),
    pytest.param(json.dumps({"model": "cloud", "messages": HI, "tools": [{"type": "function"}]}).encode(),
                 "invalid_tools", id="tool-without-function"),
]


@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
def test_bad_request_is_400_and_reaches_no_model(
    hermes_url: str, body: bytes, code: str, embedded_model: EmbeddedModel, openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    calls = embedded_model.calls
    response = httpx.post(f"{hermes_url}/v1/chat/completions", content=body, timeout=30)
    error = assert_openai_error(response, 400, code)
    assert error["type"] == "invalid_request_error"
    assert response.headers["x-should-retry"] == "false"
    assert embedded_model.calls == calls
    assert openrouter.requests == []
    [task] = tasks(database)  # a failure is counted like an answer: in stats, dashboard and /metrics
    assert (task["status"], task["error_code"], task["cost_usd"], task["route"]) == (400, code, 0.0, None)


def test_unknown_model_is_404_naming_the_choices(
    hermes_url: str, embedded_model: EmbeddedModel, openrouter: OpenRouterStub
) -> None:
    calls = embedded_model.calls
    error = assert_openai_error(chat(hermes_url, {"model": "gpt-9", "messages": HI}), 404, "model_not_found")
    assert "gpt-9" in error["message"] and "auto, local, cloud" in error["message"]
    assert embedded_model.calls == calls
    assert openrouter.requests == []


def test_body_over_the_limit_is_413(hermes_url: str, embedded_model: EmbeddedModel, openrouter: OpenRouterStub) -> None:
    calls = embedded_model.calls
    big = json.dumps({"model": "local", "messages": [{"role": "user", "content": "x" * ELEVEN_MIB}]})
    error = assert_openai_error(chat(hermes_url, content=big), 413, "request_too_large")
    assert "10485760" in error["message"]
    assert embedded_model.calls == calls
    assert openrouter.requests == []


def test_chunked_body_over_the_limit_is_413(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], embedded_model: EmbeddedModel
) -> None:
    url = serve_hermes(make_config({"server": {"max_body_bytes": 1000}}))
    calls = embedded_model.calls

    def pieces():  # no Content-Length: the limit must hold while reading
        yield b'{"model": "local", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}]}'

    response = httpx.post(f"{url}/v1/chat/completions", content=pieces(), timeout=30)
    assert_openai_error(response, 413, "request_too_large")
    assert embedded_model.calls == calls


def test_models_lists_routes_and_every_configured_model(hermes_url: str) -> None:
    response = httpx.get(f"{hermes_url}/v1/models", timeout=10)
    ids = [card["id"] for card in response.json()["data"]]
    assert ids[:3] == ["auto", "local", "cloud"]
    for name in ("llama3.2:3b", "qwen2.5-coder:7b", "gemma3:latest", "llama3.1:8b", "smollm2:135m",
                 "claude-3.5-sonnet", "gpt-4", "claude-3-opus", "gemini-flash"):
        assert name in ids
    assert httpx.get(f"{hermes_url}/v1/models/gpt-4", timeout=10).json()["owned_by"] == "openrouter"
    assert_openai_error(httpx.get(f"{hermes_url}/v1/models/nope", timeout=10), 404, "model_not_found")


def test_health_reports_the_local_models(hermes_url: str) -> None:
    response = httpx.get(f"{hermes_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["local_models"] == ["smollm2:135m"]


def test_unknown_path_and_method_get_openai_errors(hermes_url: str) -> None:
    assert_openai_error(httpx.get(f"{hermes_url}/v1/nothing", timeout=10), 404, "http_404")
    assert_openai_error(httpx.get(f"{hermes_url}/v1/chat/completions", timeout=10), 405, "http_405")


def test_local_answer_is_real_free_and_recorded(hermes_url: str, database: Path | str) -> None:
    response = chat(hermes_url, {"model": "local", "messages": HI, "max_tokens": 24, "temperature": 0})
    assert response.status_code == 200
    assert response.headers["x-hermes-route"] == "local"
    assert response.headers["x-hermes-model"] == "smollm2:135m"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["completion_tokens"] > 0
    hermes = body["hermes"]
    assert (hermes["route"], hermes["model"], hermes["requested_model"]) == ("local", "smollm2:135m", "local")
    assert (hermes["cost_usd"], hermes["budget_remaining_usd"], hermes["tier"]) == (0.0, 5.0, "normal")
    assert response.headers["x-hermes-cost-usd"] == "0.000000"
    assert response.headers["x-hermes-budget-remaining-usd"] == "5.000000"
    [task] = tasks(database)
    assert (task["route"], task["model"], task["status"], task["cost_usd"]) == ("local", "smollm2:135m", 200, 0.0)
    assert task["output_tokens"] == body["usage"]["completion_tokens"]


def test_local_stream_is_sse_with_usage_and_hermes_on_the_last_chunk(hermes_url: str) -> None:
    body = {"model": "local", "messages": HI, "max_tokens": 12, "stream": True,
            "stream_options": {"include_usage": True}}
    response = chat(hermes_url, body)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-hermes-route"] == "local"
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    *chunks, usage_chunk = events[:-1]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] > 0
    assert usage_chunk["hermes"]["model"] == "smollm2:135m"
    assert all("hermes" not in chunk for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks).strip()
    assert len({chunk["id"] for chunk in events[:-1]}) == 1


def test_stream_without_include_usage_sends_no_usage_chunk(hermes_url: str) -> None:
    events = sse_events(chat(hermes_url, {"model": "local", "messages": HI, "max_tokens": 6, "stream": True}))
    chunks = events[:-1]
    assert all(chunk["choices"] for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-1]["hermes"]["route"] == "local"


def test_cloud_call_reaches_openrouter_with_key_and_params(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
    body = {"model": "claude-3.5-sonnet", "messages": HI, "max_tokens": 80, "temperature": 0.2, "stop": ["END"],
            "tools": tools, "tool_choice": "auto", "response_format": {"type": "json_object"}, "unknown_x": 1}
    response = chat(hermes_url, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-route"] == "cloud"
    [sent] = openrouter.requests
    assert sent["headers"]["authorization"] == f"Bearer {TEST_API_KEY}"
    assert sent["json"]["model"] == "anthropic/claude-3.5-sonnet"
    for key in ("max_tokens", "temperature", "stop", "tools", "tool_choice", "response_format"):
        assert sent["json"][key] == body[key], key
    assert "unknown_x" not in sent["json"]
    call = response.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "read_file", "arguments": '{"path": "README.md"}'}
    [task] = tasks(database)
    assert task["route"] == "cloud" and task["cost_usd"] == pytest.approx(COST_PER_CALL_USD)


def test_cloud_stream_carries_usage_cost(hermes_url: str, openrouter: OpenRouterStub) -> None:
    body = {"model": "cloud", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    events = sse_events(chat(hermes_url, body))
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1] if e["choices"])
    assert text == "Hello from anthropic/claude-3.5-sonnet in the cloud."
    assert events[-2]["usage"]["cost"] == pytest.approx(COST_PER_CALL_USD)
    assert events[-2]["hermes"]["route"] == "cloud"


def test_cloud_without_key_is_a_clear_400_that_agents_do_not_retry(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], openrouter: OpenRouterStub
) -> None:
    # A 4xx: aider, OpenCode and Continue retry any 5xx for a minute or more, whatever x-should-retry says.
    url = serve_hermes(make_config(OPENROUTER_API_KEY=""))
    for body in ({"model": "gpt-4", "messages": HI}, {"model": "cloud", "messages": HI, "stream": True}):
        response = chat(url, body)
        error = assert_openai_error(response, 400, "cloud_unavailable")  # streamed too: before any byte
        assert error["message"] == (f"{'gpt-4' if body['model'] == 'gpt-4' else 'claude-3.5-sonnet'} is a cloud "
                                    "model and OPENROUTER_API_KEY is not set: set it and restart Hermes, or ask "
                                    "for model 'local'.")
        assert response.headers["x-should-retry"] == "false"
    assert openrouter.requests == []


def test_auto_without_key_says_on_every_answer_that_it_cannot_upgrade(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(OPENROUTER_API_KEY=""))
    response = chat(url, {"model": "auto", "messages": HI, "max_tokens": 4})
    assert response.status_code == 200 and response.headers["x-hermes-route"] == "local"
    assert response.headers["x-hermes-cloud"] == "unavailable: OPENROUTER_API_KEY is not set"
    assert response.json()["hermes"]["cloud_unavailable"].startswith(
        "OPENROUTER_API_KEY is not set: auto cannot upgrade to a cloud model")
    local = chat(url, {"model": "local", "messages": HI, "max_tokens": 4})  # asked for local: nothing to say
    assert "x-hermes-cloud" not in local.headers and local.json()["hermes"]["cloud_unavailable"] is None


def test_slow_cloud_model_times_out_with_504(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    url = serve_hermes(make_config({"cloud": {"timeout_s": 0.5}}))
    openrouter.mode = "slow"
    started = time.monotonic()
    error = assert_openai_error(chat(url, {"model": "cloud", "messages": HI}), 504, "timeout")
    assert time.monotonic() - started < 4
    assert "0.5s" in error["message"]
    assert tasks(database)[0]["status"] == 504


def test_slow_streamed_cloud_model_times_out_before_the_first_byte(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"cloud": {"timeout_s": 0.5}}))
    openrouter.mode = "slow"
    assert_openai_error(chat(url, {"model": "cloud", "messages": HI, "stream": True}), 504, "timeout")


def test_failing_cloud_model_is_502(hermes_url: str, openrouter: OpenRouterStub, database: Path | str) -> None:
    openrouter.mode = "error"
    assert_openai_error(chat(hermes_url, {"model": "cloud", "messages": HI, "stream": True}), 502, "upstream_error")
    assert [t["status"] for t in tasks(database)] == [502]


def test_stream_broken_midway_ends_with_an_sse_error_event(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "cut"
    response = chat(hermes_url, {"model": "cloud", "messages": HI, "stream": True})
    assert response.status_code == 200
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["type"] == "upstream_error"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert text == "Hello from"  # what arrived before the cut still reached the client
    assert tasks(database)[0]["status"] == 502


def test_local_model_not_pulled_is_a_clear_502(hermes_url: str) -> None:
    error = assert_openai_error(chat(hermes_url, {"model": "llama3.2:3b", "messages": HI}), 502, "model_unavailable")
    assert "ollama pull llama3.2:3b" in error["message"]


def test_ollama_down_is_a_clear_502(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(OLLAMA_API_BASE="http://127.0.0.1:9"))
    error = assert_openai_error(chat(url, {"model": "local", "messages": HI}), 502, "model_unavailable")
    assert "nothing answers at http://127.0.0.1:9" in error["message"]


def test_api_key_is_required_when_set(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], embedded_model: EmbeddedModel
) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY="s3cret"))
    calls = embedded_model.calls
    assert_openai_error(chat(url, {"model": "local", "messages": HI}), 401, "invalid_api_key")
    wrong = {"Authorization": "Bearer nope"}
    assert_openai_error(chat(url, {"model": "local", "messages": HI}, headers=wrong), 401, "invalid_api_key")
    assert embedded_model.calls == calls
    right = {"Authorization": "Bearer s3cret"}
    assert chat(url, {"model": "local", "messages": HI, "max_tokens": 4}, headers=right).status_code == 200
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200


def test_with_an_api_key_the_dashboard_page_is_public_but_its_data_is_not(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY="s3cret"))
    assert httpx.get(f"{url}/dashboard", timeout=10).status_code == 200
    assert httpx.get(f"{url}/dashboard/dashboard.js", timeout=10).status_code == 200
    assert_openai_error(httpx.get(f"{url}/api/v1/monitoring/dashboard", timeout=10), 401, "invalid_api_key")
    authorised = httpx.get(f"{url}/api/v1/monitoring/dashboard", headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert authorised.status_code == 200
    assert "location.hash" in httpx.get(f"{url}/dashboard/dashboard.js", timeout=10).text


def test_root_redirects_to_the_dashboard_without_a_key(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(HERMES_API_KEY="s3cret"))
    response = httpx.get(f"{url}/", timeout=10)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/dashboard"  # the browser keeps /#key=... as /dashboard#key=...
    landed = httpx.get(f"{url}/", follow_redirects=True, timeout=10)
    assert landed.status_code == 200 and "<title>Hermes dashboard</title>" in landed.text


def test_models_mark_which_are_available_in_the_openai_shape(hermes_url: str) -> None:
    """The embedded model serves smollm2:135m; llama3.2:3b is configured but not pulled there."""
    listing = httpx.get(f"{hermes_url}/v1/models", timeout=10).json()
    cards = {card["id"]: card for card in listing["data"]}
    assert all(set(card) == {"id", "object", "created", "owned_by", "available"} for card in cards.values()
               if card["owned_by"] != "openrouter")
    # A cloud model's card says what it costs per million tokens, and where that price comes from.
    assert cards["gpt-4"]["pricing"] == {"input_usd_per_mtok": 30.0, "output_usd_per_mtok": 60.0,
                                         "cache_read_usd_per_mtok": None, "cache_write_usd_per_mtok": None,
                                         "source": "litellm 1.100.5's table"}
    assert listing["hermes"]["prices"] == "litellm 1.100.5's table (OpenRouter's catalogue has not been fetched yet)"
    assert cards["smollm2:135m"]["available"] is True
    for name in ("llama3.2:3b", "qwen2.5-coder:7b", "gemma3:latest", "llama3.1:8b"):
        assert (cards[name]["owned_by"], cards[name]["available"]) == ("ollama", False), name
    assert cards["gpt-4"]["available"] is True  # OPENROUTER_API_KEY is set
    assert [cards[name]["available"] for name in ("auto", "local", "cloud")] == [True, True, True]
    assert httpx.get(f"{hermes_url}/v1/models/llama3.2:3b", timeout=10).json()["available"] is False

    import openai  # an OpenAI client reads the list as usual, and ignores the extra field

    listed = openai.OpenAI(base_url=f"{hermes_url}/v1", api_key="unused").models.list()
    assert [model.id for model in listed.data] == list(cards)


def test_models_without_a_cloud_key_or_a_local_model_are_marked_unavailable(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]
) -> None:
    url = serve_hermes(make_config(OPENROUTER_API_KEY="", OLLAMA_API_BASE="http://127.0.0.1:9"))
    cards = {card["id"]: card["available"] for card in httpx.get(f"{url}/v1/models", timeout=10).json()["data"]}
    assert set(cards.values()) == {False}
    assert "smollm2:135m" in cards and "claude-3.5-sonnet" in cards  # listed all the same


@pytest.mark.parametrize(("key", "said"), [pytest.param(TEST_API_KEY, "OPENROUTER_API_KEY is set", id="set"),
                                           pytest.param("", "OPENROUTER_API_KEY is not set", id="not-set")])
def test_start_up_log_says_whether_a_cloud_key_is_set_never_the_key(
    make_config: Callable[..., Config], serve_hermes: Callable[[Config], str], caplog: pytest.LogCaptureFixture,
    key: str, said: str,
) -> None:
    caplog.set_level(logging.INFO, logger="hermes")
    serve_hermes(make_config(OPENROUTER_API_KEY=key))
    lines = [record.getMessage() for record in caplog.records if record.name == "hermes"]
    assert any(line.startswith(said) for line in lines), lines
    assert all(TEST_API_KEY not in line for line in caplog.text.splitlines())
