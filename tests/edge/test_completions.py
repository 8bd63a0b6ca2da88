"""`/v1/completions` (autocomplete) over real HTTP: the embedded model behind the Ollama protocol, never the cloud."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.config import Config
from proxy.errors import ConfigError
from proxy.localmodel.model import EmbeddedModel, fim_prompt
from tests.conftest import ServerThread
from tests.edge.test_app import assert_openai_error, sse_events, tasks
from tests.openrouter_stub import OpenRouterStub

Serve = Callable[..., str]
MODEL = "smollm2:135m"
PREFIX = "numbers = [1, 2, 3, 4"
SUFFIX = ", 9, 10]\nprint(numbers)\n"


def complete(url: str, body: object, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/completions", json=body, timeout=120, **kwargs)


class OllamaSpy:
    """Passes every request on to the real embedded model's server, keeping each `/api/generate` body."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.generates: list[dict[str, Any]] = []
        self.delay_s = 0.0
        self.app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["GET", "HEAD", "POST"])])

    async def forward(self, request: Request) -> Response:
        body = await request.body()
        if request.url.path == "/api/generate":
            self.generates.append(json.loads(body))
            if self.delay_s:  # a model too slow to answer in time: it never reaches the real one, so no
                await asyncio.sleep(self.delay_s)  # generation of it starts during a later test
                return Response("too late", status_code=503)
        client = httpx.AsyncClient(timeout=120)
        upstream = await client.send(client.build_request(request.method, self.target + request.url.path, content=body,
                                                          headers={"content-type": "application/json"}), stream=True)

        async def relay() -> Iterator[bytes]:  # type: ignore[misc]
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()
                await client.aclose()

        return StreamingResponse(relay(), status_code=upstream.status_code,
                                 media_type=upstream.headers.get("content-type"))


@pytest.fixture(scope="module")
def spied(ollama_url: str) -> Iterator[tuple[OllamaSpy, str]]:
    spy = OllamaSpy(ollama_url)
    with ServerThread(spy.app) as url:
        yield spy, url


@pytest.fixture
def spy(spied: tuple[OllamaSpy, str]) -> OllamaSpy:
    spy, url = spied
    spy.generates.clear()
    spy.delay_s = 0.0
    spy.url = url  # type: ignore[attr-defined]
    return spy


def test_autocomplete_is_answered_by_the_embedded_model_free_and_recorded(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    response = complete(hermes_url, {"model": "local", "prompt": PREFIX, "suffix": SUFFIX, "max_tokens": 24,
                                     "temperature": 0})
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-route"] == "local" and response.headers["x-hermes-model"] == MODEL
    assert response.headers["x-hermes-cost-usd"] == "0.000000"
    answer = response.json()
    assert answer["object"] == "text_completion" and answer["model"] == MODEL and answer["id"].startswith("cmpl-")
    [choice] = answer["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    # SmolLM2 cannot infill: it continues the prefix and stops where it reaches the suffix.
    assert choice["text"].strip() and ", 9, 10]" not in choice["text"]
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 5 and 0 < usage["completion_tokens"] < 24
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert answer["hermes"] == {
        "route": "local", "model": MODEL, "requested_model": "local", "task_type": "autocomplete", "cost_usd": 0.0,
        "fill_in_the_middle": True}
    [task] = tasks(database)
    assert (task["route"], task["model"], task["status"], task["cost_usd"], task["task_type"]) == (
        "local", MODEL, 200, 0.0, "autocomplete")
    assert (task["input_tokens"], task["output_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert openrouter.requests == []


@pytest.mark.parametrize("model", ["cloud", "gpt-4", "anthropic/claude-3.5-sonnet"])
def test_a_cloud_model_is_refused_and_never_called(
    hermes_url: str, openrouter: OpenRouterStub, embedded_model: EmbeddedModel, database: Path | str, model: str
) -> None:
    calls = embedded_model.calls
    response = complete(hermes_url, {"model": model, "prompt": "def f():", "stream": True})
    error = assert_openai_error(response, 400, "local_only")
    assert "local" in str(error["message"]) and response.headers["x-should-retry"] == "false"
    assert openrouter.requests == [] and embedded_model.calls == calls
    [task] = tasks(database)
    assert (task["status"], task["error_code"], task["cost_usd"], task["route"]) == (400, "local_only", 0.0, None)


def test_streamed_completion_is_sse_with_usage_and_hermes_last(hermes_url: str, openrouter: OpenRouterStub,
                                                               database: Path | str) -> None:
    body = {"model": "auto", "prompt": PREFIX, "max_tokens": 6, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    response = complete(hermes_url, body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-hermes-route"] == "local" and response.headers["x-hermes-cost-usd"] == "0.000000"
    *chunks, finish, usage, done = sse_events(response)
    assert done == "[DONE]" and chunks
    for chunk in chunks:
        assert chunk["object"] == "text_completion" and chunk["model"] == MODEL  # type: ignore[index]
        assert chunk["choices"][0]["finish_reason"] is None and chunk["choices"][0]["index"] == 0  # type: ignore[index]
    text = "".join(chunk["choices"][0]["text"] for chunk in chunks)  # type: ignore[index]
    assert text.startswith(", 5") and len({chunk["id"] for chunk in [*chunks, finish, usage]}) == 1  # type: ignore[index]
    assert finish["choices"] == [{"text": "", "index": 0, "logprobs": None, "finish_reason": "length"}]  # type: ignore[index]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 6  # type: ignore[index]
    assert usage["hermes"]["cost_usd"] == 0.0 and usage["hermes"]["route"] == "local"  # type: ignore[index]
    [task] = tasks(database)
    assert (task["stream"], task["status"], task["output_tokens"], task["cost_usd"]) == (1, 200, 6, 0.0)
    assert openrouter.requests == []


def test_stream_without_include_usage_ends_with_the_finish_chunk(hermes_url: str) -> None:
    response = complete(hermes_url, {"model": "local", "prompt": "def add(a, b):", "max_tokens": 4, "stream": True})
    *_, last, done = sse_events(response)
    assert done == "[DONE]" and "usage" not in last  # type: ignore[operator]
    assert last["choices"][0]["finish_reason"] == "length" and last["hermes"]["model"] == MODEL  # type: ignore[index]


def test_an_empty_prefix_gets_an_empty_completion_from_a_model_that_cannot_infill(hermes_url: str) -> None:
    body = {"model": "local", "prompt": "", "suffix": "print(x)\n"}
    answer = complete(hermes_url, body).json()
    assert answer["choices"][0]["text"] == "" and answer["choices"][0]["finish_reason"] == "stop"
    *_, last, done = sse_events(complete(hermes_url, body | {"stream": True}))
    assert done == "[DONE]" and last["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]


def test_the_suffix_reaches_the_ollama_protocol_at_its_top_level(
    make_config: Callable[..., Config], serve_hermes: Serve, spy: OllamaSpy
) -> None:
    url = serve_hermes(make_config(OLLAMA_API_BASE=spy.url))  # type: ignore[attr-defined]
    body = {"model": "local", "prompt": PREFIX, "suffix": SUFFIX, "max_tokens": 12, "stop": ["\n\n"], "temperature": 0}
    assert complete(url, body).status_code == 200
    [sent] = spy.generates
    assert (sent["model"], sent["prompt"], sent["suffix"]) == (MODEL, PREFIX, SUFFIX)
    assert "raw" not in sent and "suffix" not in sent["options"]
    assert sent["options"]["num_predict"] == 12 and sent["options"]["stop"] == ["\n\n"]

    # Continue's openai provider sends no suffix: it wraps both in a FIM template itself.
    spy.generates.clear()
    templated = {"model": "local", "prompt": f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>", "max_tokens": 12}
    assert complete(url, templated).status_code == 200
    assert (spy.generates[0]["prompt"], spy.generates[0]["suffix"]) == (PREFIX, SUFFIX)

    # With no suffix at all the prompt is continued as it stands, not as a chat turn.
    spy.generates.clear()
    assert complete(url, {"model": "local", "prompt": PREFIX, "max_tokens": 4, "stream": True}).status_code == 200
    assert spy.generates[0]["raw"] is True and "suffix" not in spy.generates[0]


def test_a_slow_local_model_times_out_with_504(make_config: Callable[..., Config], serve_hermes: Serve,
                                               spy: OllamaSpy, database: Path | str) -> None:
    url = serve_hermes(make_config({"local": {"timeout_s": 0.5}}, OLLAMA_API_BASE=spy.url))  # type: ignore[attr-defined]
    spy.delay_s = 3.0
    for stream in (False, True):
        started = time.monotonic()
        response = complete(url, {"model": "local", "prompt": "x = ", "stream": stream})
        assert_openai_error(response, 504, "timeout")
        assert time.monotonic() - started < 2.5
    assert [t["status"] for t in tasks(database)] == [504, 504]


BAD_BODIES = [
    pytest.param({"model": "local"}, 400, "invalid_prompt", id="prompt-missing"),
    pytest.param({"model": "local", "prompt": [1, 2, 3]}, 400, "invalid_prompt", id="prompt-token-ids"),
    pytest.param({"model": "local", "prompt": [[1, 2]]}, 400, "invalid_prompt", id="prompt-token-id-lists"),
    pytest.param({"model": "local", "prompt": ["a", "b"]}, 400, "invalid_prompt", id="prompt-two-strings"),
    pytest.param({"model": "local", "prompt": {"text": "a"}}, 400, "invalid_prompt", id="prompt-object"),
    pytest.param({"model": "local", "prompt": "a", "suffix": 5}, 400, "invalid_suffix", id="suffix-number"),
    pytest.param({"model": "local", "prompt": "a", "n": 2}, 400, "invalid_n", id="n-2"),
    pytest.param({"model": "local", "prompt": "a", "best_of": 3}, 400, "invalid_best_of", id="best-of-3"),
    pytest.param({"model": "local", "prompt": "a", "echo": True}, 400, "invalid_echo", id="echo"),
    pytest.param({"model": "local", "prompt": "a", "logprobs": 2}, 400, "invalid_logprobs", id="logprobs"),
    pytest.param({"model": "local", "prompt": "a", "max_tokens": -1}, 400, "invalid_max_tokens", id="max-tokens-negative"),
    pytest.param({"model": "local", "prompt": "a", "max_tokens": "8"}, 400, "invalid_max_tokens", id="max-tokens-string"),
    pytest.param({"model": "local", "prompt": "a", "temperature": 3}, 400, "invalid_temperature", id="temperature-3"),
    pytest.param({"model": "local", "prompt": "a", "stop": [1]}, 400, "invalid_stop", id="stop-numbers"),
    pytest.param({"model": "local", "prompt": "a", "stream": "yes"}, 400, "invalid_stream", id="stream-string"),
    pytest.param({"model": "local", "prompt": "a", "stream_options": []}, 400, "invalid_stream_options",
                 id="stream-options-array"),
    pytest.param({"prompt": "a"}, 400, "invalid_model", id="model-missing"),
    pytest.param({"model": "no-such-model", "prompt": "a"}, 404, "model_not_found", id="model-unknown"),
    pytest.param(["not", "an", "object"], 400, "invalid_request", id="body-array"),
]


def idle_calls(model: EmbeddedModel) -> int:
    """The shared model's generation count once it is idle: an earlier test's queued request may still run."""
    deadline, quiet = time.monotonic() + 30, 0
    while quiet < 4 and time.monotonic() < deadline:
        quiet = 0 if model.lock.locked() else quiet + 1
        time.sleep(0.05)
    return model.calls


@pytest.mark.parametrize(("body", "status", "code"), BAD_BODIES)
def test_bad_input_is_an_openai_4xx_that_reaches_no_model(
    hermes_url: str, embedded_model: EmbeddedModel, openrouter: OpenRouterStub, database: Path | str,
    body: object, status: int, code: str,
) -> None:
    calls = idle_calls(embedded_model)
    for stream in (False, True):  # a streamed request's bad input is an HTTP error too, before any stream
        sent = body | {"stream": True} if stream and isinstance(body, dict) and "stream" not in body else body
        assert_openai_error(complete(hermes_url, sent), status, code)
    assert embedded_model.calls == calls and openrouter.requests == []
    assert {(t["status"], t["error_code"], t["task_type"]) for t in tasks(database)} == {(status, code, "autocomplete")}


def test_malformed_json_and_a_get_are_openai_errors(hermes_url: str) -> None:
    response = httpx.post(f"{hermes_url}/v1/completions", content=b"{not json",
                          headers={"content-type": "application/json"}, timeout=30)
    assert_openai_error(response, 400, "invalid_json")
    assert_openai_error(httpx.get(f"{hermes_url}/v1/completions", timeout=30), 405, "http_405")


def test_without_a_model_that_fills_in_the_middle_it_is_a_clear_502(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    # fim: null asks the model's /api/show, and SmolLM2's GGUF has no FIM tokens, so no "insert" there.
    for fim in (False, None):
        url = serve_hermes(make_config({"embedded_model": {"fim": fim}}))
        error = assert_openai_error(complete(url, {"model": "local", "prompt": "x = "}), 502, "model_unavailable")
        assert "fills in the middle" in str(error["message"])
    # A local model named outright is used all the same (Ollama itself would refuse a suffix it cannot take).
    assert complete(url, {"model": MODEL, "prompt": "x = ", "max_tokens": 2}).status_code == 200
    assert openrouter.requests == []


def test_the_fim_key_is_validated(make_config: Callable[..., Config]) -> None:
    with pytest.raises(ConfigError, match=r"local\.models\[0\]\.fim"):
        make_config({"local": {"models": [{"name": "qwen2.5-coder:1.5b", "quality_prior": 6, "fim": "maybe"}]}})
    with pytest.raises(ConfigError, match=r"embedded_model\.fim"):
        make_config({"embedded_model": {"fim": [True]}})


def test_the_embedded_model_says_it_cannot_insert_and_builds_psm_prompts_with_fim_tokens(
    ollama_url: str, embedded_model: EmbeddedModel
) -> None:
    shown = httpx.post(f"{ollama_url}/api/show", json={"model": MODEL}, timeout=30).json()
    assert embedded_model.fim_tokens is None and "insert" not in shown["capabilities"]
    tokenize = embedded_model._llama.tokenize
    prompt = fim_prompt(tokenize, "def f(", "<fim_suffix>)", (7, 8, 9))
    assert prompt == [7, *tokenize(b"def f(", add_bos=False, special=False), 8,
                      *tokenize(b"<fim_suffix>)", add_bos=False, special=False), 9]


def test_a_client_that_leaves_mid_stream_stops_the_model_and_is_recorded(
    hermes_url: str, embedded_model: EmbeddedModel, database: Path | str
) -> None:
    cancelled = embedded_model.cancelled
    body = {"model": "local", "prompt": "Once upon a time", "max_tokens": 500, "stream": True}
    with httpx.stream("POST", f"{hermes_url}/v1/completions", json=body, timeout=60) as response:
        assert next(response.iter_lines()).startswith("data: ")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (embedded_model.cancelled > cancelled and tasks(database)):
        time.sleep(0.1)
    assert embedded_model.cancelled > cancelled  # stopped between two tokens, not 500 tokens later
    [task] = tasks(database)
    assert (task["status"], task["error_code"], task["cost_usd"]) == (499, "client_closed", 0.0)


ODD = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False),
                st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                                st.integers(), max_size=2))
ODD_BODIES = st.one_of(ODD, st.fixed_dictionaries({}, optional={
    "model": st.one_of(st.sampled_from(["local", "auto", "cloud", "gpt-4", MODEL, "nope"]), ODD),
    "prompt": st.one_of(st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3), ODD),
    "suffix": st.one_of(st.text(max_size=20), ODD), "max_tokens": st.one_of(st.integers(-5, 10**6), ODD),
    "stop": st.one_of(st.text(max_size=4), st.lists(st.text(max_size=4), max_size=3), ODD),
    **{key: ODD for key in ("temperature", "top_p", "stream", "stream_options", "n", "best_of", "echo", "logprobs",
                            "seed", "frequency_penalty", "presence_penalty", "colour")},
}))


@pytest.fixture
def down_url(make_config: Callable[..., Config], serve_hermes: Serve) -> str:
    """Hermes with nothing at its Ollama address: a body that passes validation ends in a fast 502."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    return serve_hermes(make_config(OLLAMA_API_BASE=f"http://127.0.0.1:{closed}"))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=ODD_BODIES)
def test_odd_bodies_never_get_a_500(down_url: str, openrouter: OpenRouterStub, body: Any) -> None:
    response = httpx.post(f"{down_url}/v1/completions", json=body, timeout=30)
    assert response.status_code in (400, 404, 502), response.text
    assert response.json()["error"]["code"] and openrouter.requests == []
