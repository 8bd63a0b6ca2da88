"""A streamed `auto` request starts at once: comment lines while the cascade works, then the answer.

The embedded model is made slow the honest way: another request keeps it
busy, so the cascade of the streamed one has to wait its turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import openai

from proxy.config import Config
from tests.edge.test_app import sse_events
from tests.edge.test_disconnects import rows, wait_for
from tests.openrouter_stub import OpenRouterStub

Serve = Callable[..., str]
ROME = [{"role": "user", "content": "Tell me about the history of Rome."}]  # no rule matches: the cascade runs
ESSAY = [{"role": "user", "content": "Write a long essay about the history of Rome, with many details."}]
ASK = {"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask"}  # rejected locally, kept under ask


def keep_the_model_busy(url: str) -> threading.Thread:
    """A long local answer in the background; the embedded model answers one request at a time."""
    body = {"model": "local", "messages": ESSAY, "max_tokens": 64, "temperature": 0}
    thread = threading.Thread(target=httpx.post, args=(f"{url}/v1/chat/completions",),
                              kwargs={"json": body, "timeout": 300}, daemon=True)
    thread.start()
    return thread


def test_the_first_bytes_arrive_before_the_cascade_has_an_answer(
    make_config: Callable[..., Config], serve_hermes: Serve, database: Path | str
) -> None:
    url = serve_hermes(make_config(ASK))
    busy = keep_the_model_busy(url)
    body = {"model": "auto", "messages": ROME, "max_tokens": 16, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=300) as response:
        lines = response.iter_lines()
        first = next(lines)
        # The status line, the headers and a comment have come; the local model has not answered anyone yet.
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert first == ": hermes: working"
        assert busy.is_alive() and rows(database, "SELECT id FROM tasks") == []
        assert response.headers["x-hermes-task-type"] == "conversation; tier=default; rule=default"
        assert "x-hermes-route" not in response.headers  # not known yet: it rides in the final chunk
        rest = [line for line in lines if line]
    comments = [line for line in rest if line.startswith(":")]
    data = [line for line in rest if line.startswith("data: ")]
    assert ": hermes: smollm2:135m generating" in comments and ": hermes: smollm2:135m scoring" in comments
    assert rest.index(": hermes: smollm2:135m scoring") < rest.index(data[0])  # statuses, then the answer
    assert data[-1] == "data: [DONE]"
    busy.join(timeout=300)


def test_the_openai_sdk_reads_the_answer_and_the_verdict_past_the_comments(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    url = serve_hermes(make_config(ASK))
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    chunks = list(client.chat.completions.create(model="auto", messages=ROME, max_tokens=16, temperature=0,  # type: ignore[arg-type]
                                                 stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    hermes = chunks[-1].model_extra["hermes"]  # type: ignore[index]
    assert hermes["route"] == "local" and hermes["cascade"]["attempts"][-1]["outcome"] == "rejected"
    assert hermes["cascade"]["decision"].startswith("policy ask: accept with X-Hermes-Upgrade")


def test_an_upgrade_decided_in_the_stream_streams_the_cloud_answer(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "auto"}))
    response = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={
        "model": "auto", "messages": ROME, "max_tokens": 16, "stream": True, "stream_options": {"include_usage": True}})
    assert response.status_code == 200
    assert ": hermes: upgrading to " in response.text
    events = sse_events(response)
    hermes = events[-2]["hermes"]
    assert hermes["route"] == "cloud" and hermes["cost_usd"] > 0
    assert len(openrouter.requests) == 1
    assert rows(database, "SELECT route, status FROM tasks") == [("cloud", 200)]


def test_no_answer_at_all_is_an_error_event_after_the_200_and_is_recorded(
    make_config: Callable[..., Config], serve_hermes: Serve, database: Path | str
) -> None:
    # No local model answers and there is no key for the cloud: nothing can answer.
    url = serve_hermes(make_config(OLLAMA_API_BASE="http://127.0.0.1:9", OPENROUTER_API_KEY=""))
    response = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                          json={"model": "auto", "messages": ROME, "stream": True})
    assert response.status_code == 200  # sent before the cascade knew
    events = sse_events(response)
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "no_local_answer"
    assert "OPENROUTER_API_KEY" in events[-2]["error"]["message"]
    assert rows(database, "SELECT status, error_code FROM tasks") == [(502, "no_local_answer")]


def test_a_bad_header_is_still_an_http_error_before_any_stream(hermes_url: str) -> None:
    response = httpx.post(f"{hermes_url}/v1/chat/completions", headers={"X-Hermes-Upgrade-Policy": "sometimes"},
                          json={"model": "auto", "messages": ROME, "stream": True}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_policy"


def test_a_client_that_leaves_during_the_cascade_is_recorded_and_breaks_nothing(
    make_config: Callable[..., Config], serve_hermes: Serve, database: Path | str
) -> None:
    url = serve_hermes(make_config(ASK))
    body = {"model": "auto", "messages": ESSAY, "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=300) as response:
        for line in response.iter_lines():
            if line == ": hermes: smollm2:135m generating":
                break  # leave while the local model writes its essay
    db = database
    wait_for(lambda: rows(db, "SELECT error_code FROM tasks") == [("client_closed",)], timeout_s=60)
    # Nothing was left broken or held: the next request is answered.
    after = httpx.post(f"{url}/v1/chat/completions", timeout=300,
                       json={"model": "local", "messages": ROME, "max_tokens": 4})
    assert after.status_code == 200


def test_a_streamed_yolo_request_relays_the_local_tokens_live(hermes_url: str, database: Path | str) -> None:
    # The yolo rule turns scoring off: nothing to wait for, so the local model's own stream is the answer.
    response = httpx.post(f"{hermes_url}/v1/chat/completions", timeout=120, json={
        "model": "auto", "messages": [{"role": "user", "content": "yolo: say hi"}], "stream": True})
    assert response.status_code == 200
    assert response.headers["x-hermes-route"] == "local"  # decided before the first byte: a normal stream
    assert ": hermes:" not in response.text
    events = sse_events(response)
    assert len([e for e in events[:-1] if e["choices"] and e["choices"][0]["delta"].get("content")]) > 1
    hermes = events[-2]["hermes"]
    assert hermes["cascade"]["attempts"] == [{"model": "smollm2:135m", "outcome": "unscored",
                                              "detail": "relayed live: rule yolo turns the cascade off"}]
    assert rows(database, "SELECT route, model, status FROM tasks") == [("local", "smollm2:135m", 200)]
