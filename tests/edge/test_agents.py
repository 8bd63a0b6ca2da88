"""What a coding agent gets out of the box: the shipped config, `model: auto`, an OpenRouter key.

Agents read neither X-Hermes-Upgrade nor the "hermes" field, so the default
policy upgrades a local answer that misses its target, within the daily
budget and the session cap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from proxy.config import Config
from tests.edge.test_app import sse_events
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

READ_FILE = {"type": "function", "function": {
    "name": "read_file", "description": "Read a file of the project",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}


def agent_turn(url: str, session: str, text: str = "Fix the off-by-one error in the pager.") -> httpx.Response:
    """A request shaped like OpenCode's: a system prompt, tools, streamed with usage."""
    body = {"model": "auto", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 24,
            "tools": [READ_FILE], "temperature": 0,
            "messages": [{"role": "system", "content": "You are a coding agent. Use the tools to edit files."},
                         {"role": "user", "content": text}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers={"X-Session-Id": session}, timeout=300)


def test_an_agent_gets_the_cloud_answer_when_the_local_one_misses(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    url = serve_hermes(make_config())  # the shipped files as they are
    openrouter.cost_usd = 0.00001  # what a one-line edit costs on Gemini Flash
    response = agent_turn(url, "agent-1")
    assert response.status_code == 200
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    calls = [c for e in events[:-1] for ch in e["choices"] for c in ch["delta"].get("tool_calls", [])]
    assert calls and calls[0]["function"]["name"] == "read_file"  # the cloud model's tool call reached the agent
    hermes = events[-2]["hermes"]
    assert hermes["route"] == "cloud" and hermes["cascade"]["policy"] == "auto"
    # The embedded model has never passed an agent's turn: it sits this one out, and says why.
    [attempt] = [a for a in hermes["cascade"]["attempts"] if a["model"] == "smollm2:135m"]  # the others: not pulled
    assert (attempt["outcome"], attempt["detail"]) == (
        "skipped", "an agent's turn: smollm2:135m has passed none so far; next probe in 9 such requests")
    assert hermes["cascade"]["decision"].startswith("policy auto: upgraded to ")
    [row] = query(database, "SELECT state, cost_usd FROM ledger")
    assert (row["state"], row["cost_usd"]) == ("charged", 0.00001)
    assert hermes["cost_usd"] == 0.00001 and hermes["budget_remaining_usd"] == 5.0 - 0.00001


def test_the_session_cap_keeps_one_session_local_while_another_still_upgrades(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub
) -> None:
    # Two upgrades (2 x 0.000015) reach a 0.00003 cap: the third turn of that session stays local.
    url = serve_hermes(make_config(budget={"session_limit_usd": 0.00003}))
    openrouter.cost_usd = 0.000015
    routes = [sse_events(agent_turn(url, "runaway"))[-2]["hermes"] for _ in range(3)]
    assert [h["route"] for h in routes] == ["cloud", "cloud", "local"]
    assert routes[2]["cascade"]["decision"] == (
        "session cap: this session has spent $0.000030 of its $0.000030 (session_limit_usd); it stays on local models")
    assert routes[2]["cost_usd"] == 0.0
    other = sse_events(agent_turn(url, "fresh"))[-2]["hermes"]
    assert other["route"] == "cloud"
    assert len(openrouter.requests) == 3


def test_a_local_model_that_never_passed_a_tool_turn_is_probed_every_tenth_one(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    url = serve_hermes(make_config())
    outcomes = [a["outcome"] for n in range(11) for a in sse_events(agent_turn(url, f"agent-{n}"))[-2]["hermes"][
        "cascade"]["attempts"] if a["model"] == "smollm2:135m"]
    # Nine skipped at once, the tenth tried (and rejected: the 135M model cannot make this edit), then skipped again.
    assert outcomes == ["skipped"] * 9 + ["rejected", "skipped"]
    assert len(openrouter.requests) == 11  # every turn got the cloud's answer
    [row] = query(database, "SELECT COUNT(*) AS n FROM local_attempts WHERE tools = 1 AND accepted IS NULL")
    assert row["n"] == 10


def test_under_ask_an_agents_turn_no_local_model_takes_is_an_offer_before_any_byte(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    # A streamed turn: the decision that no local model will try is made before the stream would start,
    # so the offer is a 400 the agent shows, not an error event inside a 200 it retries.
    url = serve_hermes(make_config({"upgrade_policy": "ask"}))
    response = agent_turn(url, "asked")
    assert response.status_code == 400 and response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["code"] == "upgrade_offered" and "re-send with header X-Hermes-Upgrade: " in error["message"]
    assert "an agent's turn: smollm2:135m has passed none so far" in error["message"]
    assert openrouter.requests == []
    [task] = query(database, "SELECT status, error_code FROM tasks")
    assert (task["status"], task["error_code"]) == (400, "upgrade_offered")


def test_under_auto_an_agents_turn_no_local_model_takes_goes_to_the_cloud_without_status_comments(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config())
    response = agent_turn(url, "straight")
    assert response.status_code == 200 and response.headers["x-hermes-route"] == "cloud"  # known before the body
    assert ": hermes: " not in response.text  # no cascade ran inside the stream
