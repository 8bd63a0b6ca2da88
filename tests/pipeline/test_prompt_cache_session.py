"""A 20-turn Claude Code session through Hermes, with Anthropic's prompt cache: what it costs and what was forecast.

The recording (tests/clients/sessions/claude-long.json.xz) is the 20 requests
Claude Code 2.1.332 sent through Hermes on `bench/agents.py --clients claude
--model cloud --task long --record DIR`: read and fix nine files, run the
tests, answer. Each request marks the newest message (and its system prompt)
for caching, as Claude Code does. It is replayed against the scripted cloud it
was recorded with, which reports each call's cache reads and writes as
Anthropic does, and the bill at Claude Sonnet 4.6's prices as OpenRouter does
(bench/prompt_cache.py).

Three earlier runs of the same task teach Hermes how long such a session is
and how this agent uses the cache; at turn 3 of the fourth, the session-impact
report forecasts turns 4-20, which are then made.
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.agents_clients import TASKS
from bench.agents_servers import Edit, ScriptedCloud, Served
from bench.prompt_cache import PromptCache
from proxy.config import Config
from proxy.localmodel.embedded import free_port
from proxy.money.cache_use import CacheUse
from proxy.money.pricing import PriceTable
from proxy.pipeline.session import Conversation, session_impact
from tests.conftest import REPO
from tests.postgres import query

RECORDING = REPO / "tests" / "clients" / "sessions" / "claude-long.json.xz"
SONNET = {"name": "claude-sonnet", "slug": "anthropic/claude-sonnet-4.6", "quality_prior": 9.3}
ANY = {"cheap": "any", "smart": "any", "yolo": "any", "default": "any"}


@pytest.fixture
def recorded() -> dict[str, Any]:
    return json.loads(lzma.decompress(RECORDING.read_bytes()))


@pytest.fixture
def cloud(recorded: dict[str, Any]) -> Iterator[ScriptedCloud]:
    task = TASKS[recorded["task"]]
    edits = [Edit(path, fix.old, fix.new, fix.before, fix.after)
             for path, fix in zip(recorded["edit_paths"], task.fixes, strict=True)]
    scripted = ScriptedCloud(edits, test_command=task.test_cmd)
    served = Served(scripted.app, free_port())
    scripted.url = f"{served.url}/api/v1"  # type: ignore[attr-defined]
    yield scripted
    served.stop()


def run(url: str, cloud: ScriptedCloud, requests: list[dict[str, Any]], fresh: bool = True) -> list[str]:
    """Send `requests` as Claude Code did; each response's session id. `fresh`: a new conversation, so
    nothing of it is in the provider's cache yet."""
    if fresh:
        cloud.prompt_cache = PromptCache()
    sessions = []
    with httpx.Client(timeout=60) as client:
        for request in requests:
            response = client.post(f"{url}{request['path']}", json=request["body"], headers=request["headers"])
            assert response.status_code == 200, response.text
            sessions.append(response.headers["x-hermes-session-id"])
    return sessions


def test_a_cached_agent_session_is_charged_its_bill_and_its_rest_forecast_within_a_fifth(
    recorded: dict[str, Any], cloud: ScriptedCloud, make_config: Callable[..., Config],
    serve_hermes: Callable[..., str], database: Path | str,
) -> None:
    config = make_config({"cloud": {"models": [SONNET], "tiers": ANY}}, OPENROUTER_API_BASE=cloud.url)  # type: ignore[attr-defined]
    url = serve_hermes(config)
    requests = recorded["requests"]
    assert len(requests) == 20
    for _ in range(3):  # earlier runs of the same task: the session length and the agent's cache use are learned
        assert len(set(run(url, cloud, requests))) == 1

    session_id = run(url, cloud, requests[:3])[-1]
    report = httpx.get(f"{url}/api/v1/costs/session-impact", params={"session_id": session_id}, timeout=10).json()
    [impact] = report["impact"]
    forecast = impact["rest_of_session_cost_usd"] - impact["single_task_cost_usd"]
    assert run(url, cloud, requests[3:], fresh=False) == [session_id] * 17

    # Every turn is charged what the cloud billed, cache reads and writes included.
    billed = [entry["usage"]["cost"] for entry in cloud.log]
    assert len(billed) == 80 and min(entry["usage"]["cache_read_input_tokens"] for entry in cloud.log[1:20]) > 0
    charged = [row["cost_usd"] for row in query(database, "SELECT cost_usd FROM ledger ORDER BY id")]
    assert charged == pytest.approx(billed, rel=1e-9)
    turns = query(database, "SELECT cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens "
                            "FROM tasks "
                            "WHERE session_id = ? ORDER BY id", (session_id,))
    assert [t["cache_read_tokens"] for t in turns] == [e["usage"]["cache_read_input_tokens"] for e in cloud.log[60:]]
    assert [t["cache_write_tokens"] for t in turns] == [
        e["usage"]["cache_creation_input_tokens"] for e in cloud.log[60:]]

    # The forecast made at turn 3 of what turns 4-20 would cost, against what they did.
    actual = sum(t["cost_usd"] for t in turns[3:])
    assert report["projected_remaining_turns"] == 17, query(database, "SELECT id, turns FROM sessions")
    # Learned from this session's own turns: all of the last turn's context read back; of what is new, the part
    # up to Claude Code's breakpoint written (the rest of the newest message is plain input).
    assert impact["cache_read_ratio"] == pytest.approx(1.0, abs=0.05) and 0.2 < impact["cache_write_ratio"] < 0.8
    assert forecast == pytest.approx(actual, rel=0.20), (forecast, actual)

    # Without cache awareness (every input token at the input price), the same forecast is several times off.
    price = PriceTable.from_config(config).price("claude-sonnet")
    output = round(sum(t["output_tokens"] for t in turns[:3]) / 3)  # as the report took it: this session's mean
    blind = session_impact("claude-sonnet", price, impact["context_tokens"], output, Conversation(session_id, 3, 0),
                           17, CacheUse(0.0, 0.0), impact["growth_tokens_per_turn"])
    blind_forecast = blind.rest_of_session_cost_usd - blind.single_task_cost_usd
    assert blind_forecast > 3 * actual, (blind_forecast, actual)
    # And each call's own estimate (X-Hermes-Estimate...), made before it with the cache and the provider's token
    # counts learned, is within a fifth of its bill.
    predicted = query(database, "SELECT predicted_cost_usd, actual_cost_usd FROM cost_predictions ORDER BY id")[60:]
    errors = [p["predicted_cost_usd"] / p["actual_cost_usd"] - 1 for p in predicted]
    assert max(map(abs, errors)) < 0.20, errors
    print(f"\nturns 4-20 cost ${actual:.4f}; forecast at turn 3 ${forecast:.4f} ({forecast / actual - 1:+.1%}); "
          f"without cache awareness ${blind_forecast:.4f} ({blind_forecast / actual:.1f}x); per-call estimates off by "
          f"{min(errors):+.1%} to {max(errors):+.1%}")
