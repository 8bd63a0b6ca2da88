"""Broken upstreams, as a client of a real Hermes sees them: faithful statuses, clean errors, no made-up success.

The cloud is the OpenRouter stub told to misbehave (see openrouter_stub.py);
a stranger on the Ollama port is a tiny server of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.responses import Response

from proxy.config import Config
from tests.edge.test_app import HI, assert_openai_error, chat, sse_events, tasks
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query
from tests.upstreams.test_ollama import STRANGERS, stranger  # noqa: F401  (a fixture)

Serve = Callable[..., str]
CLOUD = {"model": "cloud", "messages": HI}
STREAMED = pytest.mark.parametrize("stream", [pytest.param(False, id="plain"), pytest.param(True, id="streamed")])


def assert_clean(message: str) -> None:
    """One line in Hermes's words: no traceback, no LiteLLM wrapping, no Python repr."""
    assert "\n" not in message and "Traceback" not in message and "litellm" not in message.lower()
    assert "{'" not in message and "<class" not in message and "Error:" not in message, message


def ledger_states(db: Path | str) -> dict[str, float]:
    rows = query(db, "SELECT state, SUM(cost_usd) AS usd FROM ledger GROUP BY state")
    return {row["state"]: row["usd"] for row in rows}


@pytest.fixture
def cloud_url(make_config: Callable[..., Config], serve_hermes: Serve) -> str:
    return serve_hermes(make_config({"cloud": {"timeout_s": 1.5}}))


@STREAMED
@pytest.mark.parametrize(("mode", "code"), [
    pytest.param("html", "upstream_bad_response", id="html"),
    pytest.param("empty", "upstream_bad_response", id="empty-body"),
    pytest.param("no_choices", None, id="no-choices"),
    pytest.param("no_message", "upstream_bad_response", id="choice-without-message"),
])
def test_a_broken_200_is_a_502_never_an_empty_answer(
    cloud_url: str, openrouter: OpenRouterStub, database: Path | str, mode: str, code: str | None, stream: bool
) -> None:
    openrouter.mode = mode
    # A stream of choice-less chunks ends in [DONE] without a finish_reason: incomplete rather than malformed.
    code = code or ("upstream_stream_incomplete" if stream else "upstream_bad_response")
    response = chat(cloud_url, CLOUD | {"stream": stream})
    error = assert_openai_error(response, 502, code)  # before the first byte: a real HTTP error, even when streamed
    assert error["message"].startswith("claude-3.5-sonnet ")
    assert_clean(error["message"])
    assert "retry-after" not in response.headers
    assert tasks(database)[-1]["error_code"] == code


@STREAMED
@pytest.mark.parametrize(("mode", "status", "code", "retry_after"), [
    pytest.param("rate_limited", 429, "upstream_rate_limited", "7", id="429"),
    pytest.param("unavailable", 503, "upstream_unavailable", "11", id="503"),
])
def test_upstream_429_and_503_keep_their_status_and_retry_after(
    cloud_url: str, openrouter: OpenRouterStub, mode: str, status: int, code: str, retry_after: str, stream: bool
) -> None:
    openrouter.mode = mode
    response = chat(cloud_url, CLOUD | {"stream": stream})
    error = assert_openai_error(response, status, code)
    assert response.headers["retry-after"] == retry_after
    assert "x-should-retry" not in response.headers  # retrying later is exactly right
    assert_clean(error["message"])
    assert error["type"] == "upstream_error" and f"Retry-After: {retry_after}" in error["message"]


@pytest.mark.parametrize(("mode", "code", "words"), [
    pytest.param("cut", "upstream_stream_incomplete", "Hello from", id="connection-aborted"),
    pytest.param("cut_after", "upstream_stream_incomplete", "Hello from anthropic/claude-3.5-sonnet in",
                 id="closed-without-finish"),
    pytest.param("garbage", "upstream_bad_response", "Hello from", id="line-not-json"),
    pytest.param("error_event", "upstream_error", "Hello from", id="openrouter-error-event"),
])
def test_a_stream_cut_midway_ends_with_an_sse_error_not_a_made_up_stop(
    cloud_url: str, openrouter: OpenRouterStub, database: Path | str, mode: str, code: str, words: str
) -> None:
    openrouter.mode = mode
    response = chat(cloud_url, CLOUD | {"stream": True, "stream_options": {"include_usage": True}})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    error = events[-2]["error"]
    assert error["code"] == code and error["message"].startswith("claude-3.5-sonnet ")
    assert_clean(error["message"])
    chunks = events[:-2]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == words
    assert not [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]  # no fabricated "stop"
    assert tasks(database)[-1]["error_code"] == code
    states = ledger_states(database)
    assert "held" not in states and states.get("charged", 0) > 0  # what was streamed is paid for


@STREAMED
def test_an_upstream_that_never_answers_hits_the_cloud_timeout(
    cloud_url: str, openrouter: OpenRouterStub, stream: bool
) -> None:
    openrouter.mode = "hang"
    started = time.monotonic()
    error = assert_openai_error(chat(cloud_url, CLOUD | {"stream": stream}), 504, "timeout")
    assert time.monotonic() - started < 10  # cloud.timeout_s is 1.5 here
    assert error["message"] == "claude-3.5-sonnet did not answer within 1.5s (timeout_s in routing_rules.yaml)."


def test_a_stream_that_goes_silent_ends_with_a_timeout_event(cloud_url: str, openrouter: OpenRouterStub) -> None:
    openrouter.mode = "stall"
    started = time.monotonic()
    events = sse_events(chat(cloud_url, CLOUD | {"stream": True}))
    assert time.monotonic() - started < 10
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "timeout"
    assert not [c for c in events[:-2] if c["choices"] and c["choices"][0]["finish_reason"]]


def test_a_healthy_cloud_stream_still_ends_with_its_own_finish_reason(
    cloud_url: str, openrouter: OpenRouterStub
) -> None:
    events = sse_events(chat(cloud_url, CLOUD | {"stream": True}))
    assert events[-1] == "[DONE]" and "error" not in events[-2]
    assert [c["choices"][0]["finish_reason"] for c in events[:-1] if c["choices"]][-1] == "stop"


@pytest.mark.parametrize("reply", STRANGERS)
def test_a_stranger_on_the_ollama_port_is_unreachable_not_a_500(
    make_config: Callable[..., Config], serve_hermes: Serve, stranger: Callable[[Callable[[], Response]], str],  # noqa: F811 (the fixture)
    reply: Callable[[], Response],
) -> None:
    base = stranger(reply)
    url = serve_hermes(make_config({"upgrade_policy": "never"}, OLLAMA_API_BASE=base))
    health = httpx.get(f"{url}/health", timeout=10)
    assert health.status_code == 503  # the embedded model is enabled, and nothing usable answers
    assert health.json()["status"] == "degraded" and health.json()["down"] == {"local": f"nothing answers at {base}"}
    error = assert_openai_error(chat(url, {"model": "local", "messages": HI}), 502, "model_unavailable")
    assert f"nothing answers at {base}" in error["message"]
    assert_openai_error(chat(url, {"model": "auto", "messages": HI}), 502, "no_local_answer")


def test_health_without_a_local_model_by_choice_is_degraded_but_200(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    url = serve_hermes(make_config({"embedded_model": {"enabled": False}}, OLLAMA_API_BASE="http://127.0.0.1:9"))
    health = httpx.get(f"{url}/health", timeout=10)
    assert health.status_code == 200  # cloud only is how this user runs Hermes
    assert health.json() == {"status": "degraded", "local_api_base": "http://127.0.0.1:9", "local_models": None,
                             "down": {"local": "nothing answers at http://127.0.0.1:9"}}
