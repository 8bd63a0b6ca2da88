"""Routing by task (cloud.tiers): each classification tier's cloud models, within the budget tier.

Over real HTTP: Hermes under uvicorn, the embedded model failing a target it
cannot reach, and the OpenRouter stub saying which model it was asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from proxy.config import ROUTING_FILE, Config, load_config
from proxy.pipeline.upgrade import tier_models
from tests.edge.test_app import assert_openai_error, chat
from tests.openrouter_stub import OpenRouterStub

REPO = Path(__file__).resolve().parents[2]
Serve = Callable[..., str]

TYPO = "fix the typo in 'helo world'"  # rule cheap
REFACTOR = "refactor this function to be clearer: def f(x): return x+1"  # rule smart
SLUGS = {"gemini-flash": "google/gemini-2.0-flash-001", "claude-3.5-sonnet": "anthropic/claude-3.5-sonnet",
         "claude-3-opus": "anthropic/claude-3-opus", "gpt-4": "openai/gpt-4"}


def unreachable_target() -> dict[str, Any]:
    """The shipped routing with every rule's target (and the cascade's) at 10.0, which no local answer reaches."""
    rules = yaml.safe_load((REPO / ROUTING_FILE).read_text())["classification"]["rules"]
    return {"cascade": {"target_quality": 10.0}, "upgrade_policy": "auto",
            "classification": {"rules": [rule | {"target_quality": 10.0} for rule in rules]}}


def ask(url: str, text: str, model: str = "auto", session: str | None = None, **headers: str) -> httpx.Response:
    headers = headers | {"X-Session-Id": session or text}  # each request its own conversation
    return chat(url, {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 16,
                      "temperature": 0}, headers=headers)


def sent_model(openrouter: OpenRouterStub) -> str:
    assert len(openrouter.requests) == 1, openrouter.requests
    return openrouter.requests[0]["json"]["model"]


# --- the cascade's upgrade -------------------------------------------------------------------------


def test_a_typo_fix_that_upgrades_goes_to_the_cheap_fast_model(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(unreachable_target()))
    response = ask(url, TYPO)
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-task-type"] == "code_generation; tier=cheap; rule=cheap"
    assert response.headers["x-hermes-route"] == "cloud" and response.headers["x-hermes-model"] == "gemini-flash"
    assert sent_model(openrouter) == SLUGS["gemini-flash"]
    hermes = response.json()["hermes"]
    assert hermes["model"] == "gemini-flash" and hermes["classification"] == {"tier": "cheap", "rule": "cheap"}
    # Without the tier, claude-3-opus (expected to do best) would have been chosen.
    assert [o["model"] for o in hermes["upgrade_options"]] == ["gemini-flash"]
    decision = hermes["cascade"]["decision"]
    assert decision.startswith("policy auto: upgraded to gemini-flash: the best local answer (smollm2:135m) scored ")
    assert decision.endswith(", below the target 10.0; task tier cheap allows gemini-flash")
    assert response.headers["x-hermes-reason"] == decision == hermes["reason"]


def test_a_refactor_that_upgrades_goes_to_a_smart_model(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(unreachable_target()))
    response = ask(url, REFACTOR)
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-task-type"] == "analysis; tier=smart; rule=smart"
    assert response.headers["x-hermes-model"] == "claude-3-opus"  # of the smart ones, expected to do best
    assert sent_model(openrouter) == SLUGS["claude-3-opus"]
    hermes = response.json()["hermes"]
    assert [o["model"] for o in hermes["upgrade_options"]] == ["claude-3.5-sonnet", "claude-3-opus"]
    assert hermes["cascade"]["decision"].endswith("; task tier smart allows claude-3.5-sonnet, claude-3-opus")


def test_under_ask_only_the_tiers_models_are_offered(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(unreachable_target() | {"upgrade_policy": "ask"}))
    response = ask(url, TYPO)
    assert response.status_code == 200 and response.headers["x-hermes-route"] == "local"
    assert response.headers["x-hermes-upgrade"].startswith("gemini-flash; cost_usd=")
    hermes = response.json()["hermes"]
    assert [o["model"] for o in hermes["upgrade_options"]] == ["gemini-flash"]
    assert hermes["cascade"]["decision"].startswith("policy ask: accept with X-Hermes-Upgrade: gemini-flash: ")
    assert openrouter.requests == []


def test_a_request_no_rule_matches_may_use_any_cloud_model(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(unreachable_target()))
    response = ask(url, "Tell me about the history of Rome.")
    assert response.headers["x-hermes-task-type"] == "conversation; tier=default; rule=default"
    hermes = response.json()["hermes"]
    assert [o["model"] for o in hermes["upgrade_options"]] == ["claude-3.5-sonnet", "gpt-4", "claude-3-opus",
                                                               "gemini-flash"]
    assert hermes["model"] == "claude-3-opus"
    assert hermes["cascade"]["decision"].endswith("; task tier default: any cloud model")


# --- within the budget tier --------------------------------------------------------------------------


def test_the_budget_tier_wins_over_a_smart_task(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    # $0.40 left: the emergency tier, only the cheapest model (gemini-flash), 256 tokens at most.
    url = serve_hermes(make_config(unreachable_target(), {"daily_limit_usd": 0.40}))
    response = ask(url, REFACTOR)
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-tier"] == "emergency"
    assert response.headers["x-hermes-model"] == "gemini-flash"
    assert sent_model(openrouter) == SLUGS["gemini-flash"]
    hermes = response.json()["hermes"]
    assert [o["model"] for o in hermes["upgrade_options"]] == ["gemini-flash"]
    assert hermes["cascade"]["decision"].endswith(
        "; task tier smart allows claude-3.5-sonnet, claude-3-opus, none of which the budget tier allows: "
        "using what it allows (gemini-flash)")


def test_a_cheap_budget_tier_leaves_a_smart_task_its_cheap_smart_model(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    # $1.00 left: the cheap tier allows claude-3.5-sonnet and gemini-flash; of those the smart tier has sonnet.
    url = serve_hermes(make_config(unreachable_target(), {"daily_limit_usd": 1.00}))
    response = ask(url, REFACTOR)
    assert response.headers["x-hermes-tier"] == "cheap"
    assert sent_model(openrouter) == SLUGS["claude-3.5-sonnet"]
    hermes = response.json()["hermes"]
    assert [o["model"] for o in hermes["upgrade_options"]] == ["claude-3.5-sonnet"]
    assert hermes["cascade"]["decision"].endswith(
        "; task tier smart allows claude-3.5-sonnet, claude-3-opus; the budget tier leaves claude-3.5-sonnet")


# --- model: cloud ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "model", "why"), [
    pytest.param(TYPO, "gemini-flash", "task tier cheap allows gemini-flash", id="cheap"),
    pytest.param(REFACTOR, "claude-3.5-sonnet",  # the first the smart tier lists
                 "task tier smart allows claude-3.5-sonnet, claude-3-opus", id="smart"),
    pytest.param("Tell me about the history of Rome.", "claude-3.5-sonnet",  # the first configured
                 "task tier default: any cloud model", id="default"),
])
def test_model_cloud_takes_the_first_of_the_tiers_models(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, text: str, model: str,
    why: str,
) -> None:
    url = serve_hermes(make_config())
    response = ask(url, text, model="cloud")
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-route"] == "cloud" and response.headers["x-hermes-model"] == model
    assert sent_model(openrouter) == SLUGS[model]
    hermes = response.json()["hermes"]
    assert hermes["requested_model"] == "cloud" and hermes["reason"] == f"cloud requested: {model}; {why}"
    assert response.headers["x-hermes-reason"] == hermes["reason"]


def test_model_cloud_for_yolo_is_the_fastest_model_capped_at_256_tokens(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config())
    response = chat(url, {"model": "cloud", "messages": [{"role": "user", "content": "yolo: write a long poem"}],
                          "max_tokens": 2000})
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-task-type"] == "quick_qa; tier=yolo; rule=yolo"
    assert response.headers["x-hermes-model"] == "gemini-flash"
    assert openrouter.requests[0]["json"]["model"] == SLUGS["gemini-flash"]
    assert openrouter.requests[0]["json"]["max_tokens"] == 256  # the yolo rule's cap, on the cloud call too


def test_the_yolo_cap_never_cuts_an_agents_tool_call(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    # Claude Code's environment block says "now": yolo by its words, but an agent's turn (it offers tools)
    # whose edit must not be cut at 256 tokens.
    url = serve_hermes(make_config())
    tools = [{"type": "function", "function": {"name": "edit", "parameters": {"type": "object", "properties": {}}}}]
    response = chat(url, {"model": "cloud", "messages": [{"role": "user", "content": "fix the parser now"}],
                          "max_tokens": 2000, "tools": tools})
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-task-type"] == "quick_qa; tier=yolo; rule=yolo"
    assert openrouter.requests[0]["json"]["max_tokens"] == 2000  # the client's own, not the rule's 256


def test_model_cloud_within_the_emergency_budget_tier_uses_what_it_allows(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(budget={"daily_limit_usd": 0.40}))
    response = ask(url, REFACTOR, model="cloud")
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-tier"] == "emergency" and response.headers["x-hermes-model"] == "gemini-flash"
    assert sent_model(openrouter) == SLUGS["gemini-flash"]
    assert response.json()["hermes"]["reason"] == (
        "cloud requested: gemini-flash; task tier smart allows claude-3.5-sonnet, claude-3-opus, none of which "
        "the budget tier allows: using what it allows (gemini-flash)")


# --- the user's own choice ---------------------------------------------------------------------------


def test_a_named_model_or_accepted_upgrade_is_not_limited_by_the_task_tier(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"upgrade_policy": "ask"}))
    named = ask(url, TYPO, model="gpt-4")
    assert named.status_code == 200 and named.headers["x-hermes-model"] == "gpt-4"
    accepted = ask(url, TYPO, session="accepting", **{"X-Hermes-Upgrade": "claude-3-opus"})
    assert accepted.status_code == 200 and accepted.headers["x-hermes-model"] == "claude-3-opus"
    assert [r["json"]["model"] for r in openrouter.requests] == [SLUGS["gpt-4"], SLUGS["claude-3-opus"]]


def test_a_named_model_is_still_limited_by_the_budget_tier(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config(budget={"daily_limit_usd": 0.40}))
    error = assert_openai_error(ask(url, TYPO, model="gpt-4"), 429, "model_not_in_budget_tier")
    assert "gpt-4 is not allowed in the 'emergency' budget tier" in error["message"]
    assert openrouter.requests == []


# --- tier_models itself ------------------------------------------------------------------------------


@pytest.fixture
def shipped() -> Config:
    return load_config(REPO, {})


def names(models: Any) -> list[str]:
    return [m.name for m in models]


def test_tier_models_keep_the_tiers_order_within_the_budget(shipped: Config) -> None:
    everything = shipped.cloud_models
    smart = tier_models(shipped, "smart", list(reversed(everything)))
    assert names(smart.models) == ["claude-sonnet", "claude-opus"]
    assert smart.reason == "task tier smart allows claude-sonnet, claude-opus"
    assert names(tier_models(shipped, "default", everything).models) == names(everything)
    nothing = tier_models(shipped, "cheap", [])  # no key, or a blocked budget: nothing to offer, nothing to say
    assert nothing.models == () and nothing.reason == ""


def test_tier_models_without_a_mapping_allow_any(tmp_path: Path) -> None:
    # A routing_rules.yaml from before cloud.tiers: every tier may use every cloud model, as it could then.
    routing = yaml.safe_load((REPO / ROUTING_FILE).read_text())
    del routing["cloud"]["tiers"]
    (tmp_path / ROUTING_FILE).write_text(yaml.safe_dump(routing))
    (tmp_path / "budgets.yaml").write_text((REPO / "budgets.yaml").read_text())
    config = load_config(tmp_path, {})
    choice = tier_models(config, "smart", config.cloud_models)
    assert names(choice.models) == names(config.cloud_models)
    assert choice.reason == "task tier smart: any cloud model"
