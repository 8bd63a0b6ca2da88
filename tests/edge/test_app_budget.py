"""Money over real HTTP: what responses say about cost and budget, refusals, and the money API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from proxy.config import Config
from tests.edge.test_app import HI, assert_openai_error, chat, sse_events, tasks
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub
from tests.postgres import query

Serve = Callable[..., str]


def test_cloud_answer_states_its_cost_the_budget_left_and_the_tier(hermes_url: str, openrouter: OpenRouterStub) -> None:
    response = chat(hermes_url, {"model": "cloud", "messages": HI})
    assert response.status_code == 200
    left = 5.0 - COST_PER_CALL_USD
    assert response.headers["x-hermes-cost-usd"] == f"{COST_PER_CALL_USD:.6f}"
    assert response.headers["x-hermes-budget-remaining-usd"] == f"{left:.6f}"
    assert response.headers["x-hermes-tier"] == "normal"
    hermes = response.json()["hermes"]
    assert (hermes["cost_usd"], hermes["budget_remaining_usd"]) == (COST_PER_CALL_USD, pytest.approx(left))
    assert hermes["estimate"]["output_tokens"] == 150  # the conversation prior
    analysis = httpx.get(f"{hermes_url}/api/v1/costs/analysis", timeout=10).json()
    assert analysis["spent_usd"] == COST_PER_CALL_USD and analysis["reserved_usd"] == 0
    assert analysis["by_model"] == [{"model": "claude-3.5-sonnet", "calls": 1, "cost_usd": COST_PER_CALL_USD}]
    assert analysis["tier"] == "normal" and analysis["limit_usd"] == 5.0
    assert analysis["allowed_models"] == ["claude-3.5-sonnet", "gpt-4", "claude-3-opus", "gemini-flash"]


def test_cloud_stream_reports_its_cost_on_the_final_chunk(hermes_url: str, openrouter: OpenRouterStub) -> None:
    response = chat(hermes_url, {"model": "gpt-4", "messages": HI, "stream": True})
    assert "x-hermes-cost-usd" not in response.headers  # unknown until the stream ends
    assert response.headers["x-hermes-tier"] == "normal"
    final = sse_events(response)[-2]
    assert final["hermes"]["cost_usd"] == COST_PER_CALL_USD
    assert final["hermes"]["budget_remaining_usd"] == pytest.approx(5.0 - COST_PER_CALL_USD)


def test_opencodes_32000_max_tokens_is_capped_before_it_reaches_openrouter(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    chat(hermes_url, {"model": "gpt-4", "messages": HI, "max_tokens": 32000})
    chat(hermes_url, {"model": "gpt-4", "messages": HI, "max_completion_tokens": 50})
    chat(hermes_url, {"model": "gpt-4", "messages": HI})
    sent = [r["json"] for r in openrouter.requests]
    assert [s.get("max_tokens") for s in sent] == [4096, 50, 4096]  # none sent: what was reserved
    assert all("max_completion_tokens" not in s for s in sent)


def test_spent_budget_is_a_429_that_says_when_it_resets_and_local_still_answers(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str
) -> None:
    url = serve_hermes(make_config(budget={"daily_limit_usd": 0}))
    for body in ({"model": "cloud", "messages": HI}, {"model": "gpt-4", "messages": HI, "stream": True}):
        response = chat(url, body)
        error = assert_openai_error(response, 429, "budget_exhausted")
        assert error["type"] == "insufficient_quota"
        assert error["message"].startswith("Today's cloud budget is spent: $0.00 of $0.00. It resets at 00:00 ")
        assert response.headers["x-should-retry"] == "false"
    assert openrouter.requests == []
    local = chat(url, {"model": "local", "messages": HI, "max_tokens": 4})
    assert local.status_code == 200 and local.headers["x-hermes-tier"] == "blocked"
    recorded = [(t["requested_model"], t["route"], t["status"], t["error_code"]) for t in tasks(database)]
    assert recorded == [("cloud", "cloud", 429, "budget_exhausted"), ("gpt-4", "cloud", 429, "budget_exhausted"),
                        ("local", "local", 200, None)]


def test_a_model_the_tier_does_not_allow_is_refused_and_cloud_falls_to_an_allowed_one(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(budget={"daily_limit_usd": 1.0}))  # 1.00 left: the cheap tier
    error = assert_openai_error(chat(url, {"model": "claude-3-opus", "messages": HI}), 429, "model_not_in_budget_tier")
    assert "it allows claude-3.5-sonnet, gemini-flash" in error["message"]
    response = chat(url, {"model": "cloud", "messages": HI})
    assert response.headers["x-hermes-model"] == "claude-3.5-sonnet"
    assert response.headers["x-hermes-tier"] == "cheap"


def test_failed_cloud_call_costs_nothing(hermes_url: str, openrouter: OpenRouterStub) -> None:
    openrouter.mode = "error"
    assert chat(hermes_url, {"model": "gpt-4", "messages": HI}).status_code == 502
    analysis = httpx.get(f"{hermes_url}/api/v1/costs/analysis", timeout=10).json()
    assert (analysis["spent_usd"], analysis["reserved_usd"], analysis["remaining_usd"]) == (0, 0, 5.0)


def test_accuracy_reports_prediction_error_by_task_type_and_model(hermes_url: str, openrouter: OpenRouterStub) -> None:
    for _ in range(3):
        chat(hermes_url, {"model": "gemini-flash", "messages": HI})
    report = httpx.get(f"{hermes_url}/api/v1/monitoring/accuracy", timeout=10).json()
    [row] = report["by_task_and_model"]
    assert (row["task_type"], row["model"], row["predictions"]) == ("conversation", "gemini-flash", 3)
    assert row["median_error_pct_first"] >= 0 and row["median_error_pct_latest"] >= 0


def test_prompts_are_kept_only_when_asked(
    make_config: Callable[..., Config], serve_hermes: Serve, hermes_url: str, database: Path | str
) -> None:
    chat(hermes_url, {"model": "local", "messages": HI, "max_tokens": 2})
    assert tasks(database)[0]["prompt"] is None
    url = serve_hermes(make_config({"server": {"store_prompts": True}}))  # a second Hermes, on the same store
    chat(url, {"model": "local", "messages": HI, "max_tokens": 2})
    [unkept, kept] = tasks(database)
    assert unkept["prompt"] is None
    assert json.loads(kept["prompt"]) == HI


@pytest.mark.parametrize("billed", [0.01, 100.0], ids=["a-stale-price", "a-lie-of-100-dollars"])
def test_what_the_upstream_bills_is_charged_even_above_the_reservation(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str,
    billed: float,
) -> None:
    url = serve_hermes(make_config(budget={"daily_limit_usd": 0.05, "tiers": [
        {"name": "any", "min_remaining_usd": 0.0, "models": "any"}]}))
    openrouter.cost_usd = billed
    statuses = [chat(url, {"model": "gpt-4", "messages": HI, "max_tokens": 100}) for _ in range(3)]
    [charged] = query(database, "SELECT cost_usd, reserved_usd, note FROM ledger WHERE state = 'charged'")
    # The ledger holds the bill, above its reservation (about $0.0075: 12 + 100 tokens at gpt-4's table price).
    assert charged["cost_usd"] == billed > charged["reserved_usd"]
    assert "gpt-4's price is stale" in charged["note"]
    assert [r.status_code for r in statuses] == [200, 429, 429]
    # The next reservation is sized by what the bill showed (19 tokens billed $0.01: about 13 times the table),
    # so it no longer fits in what is left: a stale price costs at most the calls already in flight.
    error = statuses[1].json()["error"]["message"]
    assert ("could cost up to" if billed < 1 else "budget is spent") in error
    analysis = httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()
    assert analysis["spent_usd"] == pytest.approx(billed)
    assert analysis["tier"] == ("blocked" if billed > 0.05 else "any")  # a lie stops the day: the safe direction
    [stale] = analysis["stale_prices"]
    assert (stale["model"], stale["bill_usd"]) == ("gpt-4", billed) and stale["factor"] > 10


def test_a_negative_cost_is_no_cost_the_tokens_are_priced(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str,
) -> None:
    url = serve_hermes(make_config())
    openrouter.cost_usd = -1.0
    assert chat(url, {"model": "gpt-4", "messages": HI, "max_tokens": 100}).status_code == 200
    [charged] = query(database, "SELECT cost_usd FROM ledger WHERE state = 'charged'")
    assert charged["cost_usd"] == pytest.approx(12 * 30e-6 + 7 * 60e-6)  # 12 in, 7 out at gpt-4's prices
    assert httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()["stale_prices"] == []
