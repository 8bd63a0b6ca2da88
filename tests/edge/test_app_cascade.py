"""The local-first cascade over real HTTP: the embedded model, the scorer, the OpenRouter stub."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from proxy.config import Config
from proxy.localmodel.model import EmbeddedModel
from proxy.money.estimate import count_input_tokens
from proxy.money.pricing import PriceTable
from proxy.pipeline.session import identify, session_impact
from proxy.storage.store import Store
from tests.edge.test_app import assert_openai_error, chat, sse_events, tasks
from tests.openrouter_stub import OpenRouterStub

Serve = Callable[..., str]
CHAT = [{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tell me about the history of Rome."}]  # no rule matches: conversation


def auto(url: str, *, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    return chat(url, {"model": "auto", "messages": CHAT, "max_tokens": 16, "temperature": 0, **body},
                headers=headers or {})


def test_an_answer_the_scorer_accepts_is_local_and_free(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    # A 16-token answer cut off at its limit scores near 0; a target of 0 accepts whatever the model says.
    url = serve_hermes(make_config({"cascade": {"target_quality": 0.0}}))
    response = auto(url)
    assert response.status_code == 200, response.text
    assert response.headers["x-hermes-route"] == "local"
    assert response.headers["x-hermes-cost-usd"] == "0.000000"
    score, target = (float(x) for x in response.headers["x-hermes-quality"].split("/"))
    assert target == 0.0 and score >= target
    assert response.headers["x-hermes-task-type"] == "conversation; tier=default; rule=default"
    hermes = response.json()["hermes"]
    assert hermes["quality"]["score"] == score and hermes["cascade"]["attempts"][-1]["outcome"] == "accepted"
    assert [a["outcome"] for a in hermes["cascade"]["attempts"][:4]] == ["unavailable"] * 4  # not pulled here
    assert hermes["upgrade_options"] == [] and openrouter.requests == []


def test_rejected_answer_under_ask_offers_options_a_hand_computation_agrees_with(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    config = make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask"})
    url = serve_hermes(config)
    response = auto(url)
    assert response.status_code == 200 and response.headers["x-hermes-route"] == "local"
    hermes = response.json()["hermes"]
    score = hermes["quality"]["score"]
    assert score < 10.0 and hermes["cascade"]["attempts"][-1]["outcome"] == "rejected"
    assert hermes["cascade"]["decision"].startswith("policy ask: accept with X-Hermes-Upgrade: claude-3-opus: the best "
                                                    "local answer (smollm2:135m) scored ")
    assert openrouter.requests == []

    prices = PriceTable.from_config(config)
    conversation = identify({}, CHAT)
    options = {o["model"]: o for o in hermes["upgrade_options"]}
    assert list(options) == ["claude-3.5-sonnet", "gpt-4", "claude-3-opus", "gemini-flash"]
    for model in config.cloud_models:
        option, price = options[model.name], prices.price(model.name)
        input_tokens = count_input_tokens(model.litellm_model, CHAT)
        # The conversation prior: 150 tokens out. Moving to a model that prices cache writes (claude-3-opus)
        # writes its context to the cache, at 1.25x the input price; the others bill it as input.
        context_usd = price.cache_write_usd if price.cache_write_usd is not None else price.input_usd
        cost = input_tokens * context_usd + 150 * price.output_usd
        gain = model.quality_prior - score
        assert (option["input_tokens"], option["output_tokens"]) == (input_tokens, 150)
        assert option["estimated_cost_usd"] == pytest.approx(cost, abs=1e-8)
        assert option["quality_gain"] == pytest.approx(gain)
        assert option["cost_per_quality_point_usd"] == pytest.approx(cost / gain, abs=1e-8)
        assert option["confidence"] == 0.8
        impact = session_impact(model.name, price, input_tokens, 150, conversation, 25)
        assert option["session"]["rest_of_session_cost_usd"] == pytest.approx(impact.rest_of_session_cost_usd, abs=1e-8)
    # No model is expected to reach 10.0: the one expected to do best (claude-3-opus, 9.4) is offered.
    assert response.headers["x-hermes-upgrade"].startswith("claude-3-opus; cost_usd=")
    assert float(response.headers["x-hermes-session-cost-usd"]) == pytest.approx(
        options["claude-3-opus"]["session"]["rest_of_session_cost_usd"], abs=1e-6)


def test_under_auto_it_upgrades_records_the_cost_and_the_session_stays_on_cloud(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub,
    embedded_model: EmbeddedModel, database: Path | str,
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 9.0}, "upgrade_policy": "auto"}))
    # What OpenRouter reports, below the ~$0.0004 reserved for 16 output tokens (a charge never exceeds it).
    openrouter.cost_usd = 0.0002
    first = auto(url)
    assert first.status_code == 200, first.text
    assert first.headers["x-hermes-route"] == "cloud"
    assert first.headers["x-hermes-model"] == "claude-3.5-sonnet"  # the cheapest expected to reach 9.0
    assert first.json()["hermes"]["cost_usd"] == 0.0002
    assert [t["cost_usd"] for t in tasks(database)] == [0.0002]

    calls = embedded_model.calls
    follow_up = CHAT + [first.json()["choices"][0]["message"], {"role": "user", "content": "And the empire?"}]
    second = chat(url, {"model": "auto", "messages": follow_up, "max_tokens": 16})
    assert second.headers["x-hermes-route"] == "cloud" and second.headers["x-hermes-model"] == "claude-3.5-sonnet"
    assert second.json()["hermes"]["cascade"] is None  # no local tries: continuity
    reason = "the session stays on claude-3.5-sonnet: this conversation accepted the upgrade to it"
    assert second.json()["hermes"]["reason"] == second.headers["x-hermes-reason"] == reason
    assert embedded_model.calls == calls
    assert second.headers["x-hermes-session-id"] == first.headers["x-hermes-session-id"]
    assert len(openrouter.requests) == 2


def test_an_offered_upgrade_is_accepted_with_a_header(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"upgrade_policy": "ask"}))
    response = auto(url, headers={"X-Hermes-Upgrade": "gemini-flash", "X-Session-Id": "ses-1"})
    assert response.headers["x-hermes-route"] == "cloud" and response.headers["x-hermes-model"] == "gemini-flash"
    assert openrouter.requests[0]["json"]["model"] == "google/gemini-2.0-flash-001"
    assert auto(url, headers={"X-Session-Id": "ses-1"}).headers["x-hermes-model"] == "gemini-flash"
    bad = auto(url, headers={"X-Hermes-Upgrade": "smollm2:135m"})
    assert_openai_error(bad, 400, "invalid_upgrade")


def test_under_ask_a_conversation_that_opens_alike_never_spends_without_accepting(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    """Two conversations open with the same "hi"; only the one that accepted the upgrade stays on the cloud."""
    url = serve_hermes(make_config({"upgrade_policy": "ask"}))
    hi = [{"role": "user", "content": "hi"}]
    accepted = chat(url, {"model": "auto", "messages": hi, "max_tokens": 16},
                    headers={"X-Hermes-Upgrade": "gemini-flash"})
    offered = chat(url, {"model": "auto", "messages": hi, "max_tokens": 16})
    assert (accepted.headers["x-hermes-route"], offered.headers["x-hermes-route"]) == ("cloud", "local")
    assert accepted.headers["x-hermes-session-id"] != offered.headers["x-hermes-session-id"]
    assert len(openrouter.requests) == 1

    def next_turn(first: httpx.Response) -> httpx.Response:
        messages = hi + [first.json()["choices"][0]["message"], {"role": "user", "content": "and then?"}]
        return chat(url, {"model": "auto", "messages": messages, "max_tokens": 16})

    stays, asks = next_turn(accepted), next_turn(offered)
    assert stays.headers["x-hermes-route"] == "cloud" and stays.headers["x-hermes-model"] == "gemini-flash"
    assert stays.headers["x-hermes-session-id"] == accepted.headers["x-hermes-session-id"]
    assert asks.headers["x-hermes-route"] == "local"  # asked again, not moved to the cloud silently
    assert asks.headers["x-hermes-session-id"] == offered.headers["x-hermes-session-id"]
    assert asks.json()["hermes"]["reason"].startswith("policy ask: accept with X-Hermes-Upgrade")
    assert len(openrouter.requests) == 2  # the one conversation that accepted, twice


def test_the_policy_header_overrides_the_configured_policy(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "auto"}))
    never = auto(url, headers={"X-Hermes-Upgrade-Policy": "never"})
    assert never.headers["x-hermes-route"] == "local"
    assert never.json()["hermes"]["cascade"]["decision"].startswith("policy never: stayed local: the best local answer")
    assert openrouter.requests == []
    assert_openai_error(auto(url, headers={"X-Hermes-Upgrade-Policy": "maybe"}), 400, "invalid_policy")


def test_ollama_down_is_noted_and_the_cascade_goes_on(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    config = make_config({"upgrade_policy": "auto"}, OLLAMA_API_BASE="http://127.0.0.1:9")
    url = serve_hermes(config)
    response = auto(url)
    assert response.headers["x-hermes-route"] == "cloud"
    attempts = response.json()["hermes"]["cascade"]["attempts"]
    assert attempts == [{"model": "ollama", "outcome": "unavailable", "detail": "nothing answers at http://127.0.0.1:9"}]
    asked = auto(url, headers={"X-Hermes-Upgrade-Policy": "ask", "X-Session-Id": "other"})
    # A 400 that agents show and do not retry, with the offer: what it costs, what the session would, how to accept.
    error = assert_openai_error(asked, 400, "upgrade_offered")
    assert asked.headers["x-should-retry"] == "false"
    assert re.fullmatch(
        r"Hermes asks before paying \(upgrade policy 'ask'\): no local model could answer \(ollama: unavailable "
        r"\(nothing answers at http://127\.0\.0\.1:9\)\)\. claude-3\.5-sonnet would answer for ~\$0\.\d{4} "
        r"\(continuing this session on it: ~\$\d+\.\d{4} more\)\. To accept, re-send with header "
        r"X-Hermes-Upgrade: claude-3\.5-sonnet, or set upgrade_policy: auto in routing_rules\.yaml "
        r"\(or POST /api/v1/settings/update-preferences\)\.", error["message"]), error["message"]


def test_auto_still_answers_when_the_skip_would_leave_no_local_model(
    make_config: Callable[..., Config], serve_hermes: Serve, embedded_model: EmbeddedModel, database: Path | str
) -> None:
    # The reported case: the embedded model alone, no key, twenty rejected answers in a row.
    config = make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "auto"}, OPENROUTER_API_KEY="")

    async def history() -> None:
        store = await Store.open(database)
        for _ in range(20):
            await store.record_attempt("smollm2:135m", "conversation", 2.0, False)
        await store.close()

    asyncio.run(history())
    url = serve_hermes(config)
    for _ in range(3):
        calls = embedded_model.calls
        response = auto(url)
        assert response.status_code == 200, response.text
        assert response.headers["x-hermes-route"] == "local"
        assert "smollm2:135m (accepted 0% of its last 20 conversation tries" in response.headers["x-hermes-skipped"]
        skipped, tried = response.json()["hermes"]["cascade"]["attempts"][-2:]
        assert (skipped["model"], skipped["outcome"]) == ("smollm2:135m", "skipped")
        assert (tried["model"], tried["detail"]) == ("smollm2:135m", "tried although skipped: no other local model answered")
        assert tried["outcome"] == "rejected" and embedded_model.calls == calls + 1


def test_yolo_skips_the_cascade_and_keeps_it_short(hermes_url: str, openrouter: OpenRouterStub) -> None:
    response = chat(hermes_url, {"model": "auto", "messages": [{"role": "user", "content": "yolo: say hi"}]})
    assert response.headers["x-hermes-task-type"] == "quick_qa; tier=yolo; rule=yolo"
    hermes = response.json()["hermes"]
    assert hermes["cascade"]["attempts"][-1]["outcome"] == "unscored"
    assert "x-hermes-quality" not in response.headers
    assert response.json()["usage"]["completion_tokens"] <= 256


def test_streamed_and_plain_answers_carry_the_same_decision(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask"}))
    # llama.cpp's first pass over a prompt can round differently from later ones
    # that reuse its cached prefix: warm the cache so both answers see the same state.
    auto(url, headers={"X-Session-Id": "warm"})
    plain = auto(url, headers={"X-Session-Id": "a"})
    streamed = auto(url, headers={"X-Session-Id": "b"}, stream=True, stream_options={"include_usage": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    # A streamed auto answer starts before the cascade has decided: it carries only the
    # headers known by then, and the decision rides in its final chunk (early_stream.py).
    early = {"x-hermes-task-type", "x-hermes-tier", "x-hermes-budget-remaining-usd"}
    assert {k: v for k, v in streamed.headers.items() if k in early} == {k: plain.headers[k] for k in early}
    assert "x-hermes-route" not in streamed.headers and "x-hermes-quality" not in streamed.headers
    events = sse_events(streamed)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1] if e["choices"])
    assert text == plain.json()["choices"][0]["message"]["content"]  # temperature 0, same prompt
    final, answer = events[-2], plain.json()
    assert final["usage"] == answer["usage"]
    for key in ("route", "model", "quality", "cost_usd", "upgrade_options"):
        assert final["hermes"][key] == answer["hermes"][key], key
    assert final["hermes"]["cascade"]["decision"] == answer["hermes"]["cascade"]["decision"]


def test_route_process_returns_the_decision_and_the_answer(hermes_url: str) -> None:
    response = httpx.post(f"{hermes_url}/api/v1/route/process", timeout=120,
                          json={"prompt": "fix the typo in 'helo world'", "max_tokens": 12, "upgrade_policy": "never"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["answer"], str) and body["decision"]["task_type"] == "code_generation"
    assert body["decision"]["classification"] == {"tier": "cheap", "rule": "cheap"}
    for bad, code in (({"prompt": ""}, "invalid_prompt"), ({"prompt": "x", "colour": "red"}, "invalid_request"),
                      ({"prompt": "x", "session_id": 5}, "invalid_session_id")):
        assert_openai_error(httpx.post(f"{hermes_url}/api/v1/route/process", json=bad, timeout=10), 400, code)


def test_session_impact_for_a_seen_session(hermes_url: str, openrouter: OpenRouterStub) -> None:
    auto(hermes_url, headers={"X-Session-Id": "ses-42", "X-Hermes-Upgrade-Policy": "never"})
    report = httpx.get(f"{hermes_url}/api/v1/costs/session-impact", params={"session_id": "ses-42"}, timeout=10).json()
    assert report["session_id"] == "ses-42" and report["turns"] == 1 and report["projected_remaining_turns"] == 25
    assert [i["model"] for i in report["impact"]] == ["claude-3.5-sonnet", "gpt-4", "claude-3-opus", "gemini-flash"]
    assert all(i["rest_of_session_cost_usd"] > i["single_task_cost_usd"] > 0 for i in report["impact"])
    missing = httpx.get(f"{hermes_url}/api/v1/costs/session-impact", params={"session_id": "nope"}, timeout=10)
    assert_openai_error(missing, 404, "session_not_found")
    assert_openai_error(httpx.get(f"{hermes_url}/api/v1/costs/session-impact", timeout=10), 400, "invalid_session_id")


def test_tool_calls_through_the_cascade_are_scored_against_the_offered_tools(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    # Never upgrade: the answer checked below must be the local one that was scored.
    url = serve_hermes(make_config({"cascade": {"target_quality": 1.0}, "upgrade_policy": "never"}))
    tools = [{"type": "function", "function": {
        "name": "read_file", "description": "Read a file",
        "parameters": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                       "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]
    response = auto(url, tools=tools, tool_choice="auto",
                    messages=[{"role": "user", "content": "Call read_file to read README.md"}], max_tokens=60)
    assert response.status_code == 200, response.text
    signals = {s["name"]: s for s in response.json()["hermes"]["quality"]["signals"]}
    message = response.json()["choices"][0]["message"]
    if message.get("tool_calls"):
        assert signals["tool_call"]["passed"] is (json.loads(message["tool_calls"][0]["function"]["arguments"])
                                                  .get("path") is not None)
    else:
        assert "tool_call" not in signals or signals["tool_call"]["passed"] is None


def test_auto_without_an_openrouter_key_answers_locally(
    make_config: Callable[..., Config], serve_hermes: Serve
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "auto"},
                                   OPENROUTER_API_KEY=""))
    response = auto(url)
    assert response.status_code == 200 and response.headers["x-hermes-route"] == "local"
    hermes = response.json()["hermes"]
    assert hermes["upgrade_options"] == [] and "x-hermes-upgrade" not in response.headers
    assert hermes["cascade"]["decision"].startswith("no cloud upgrade available")


def test_a_configured_judge_model_grades_the_local_answer(
    make_config: Callable[..., Config], serve_hermes: Serve, embedded_model: EmbeddedModel
) -> None:
    # A band of 0-10: the judge is asked whatever the cheap signals say (by default only where they are unsure).
    quality = {"judge_model": "smollm2:135m", "judge_between": [0, 10]}
    url = serve_hermes(make_config({"quality": quality, "upgrade_policy": "never"}))
    calls = embedded_model.calls
    response = auto(url)
    signals = {s["name"]: s for s in response.json()["hermes"]["quality"]["signals"]}
    assert embedded_model.calls >= calls + 2  # the answer, then the judge's grading of it
    assert signals["judge"]["detail"]  # a rating, or why there was none



def test_a_rule_can_turn_the_judge_off(
    make_config: Callable[..., Config], serve_hermes: Serve, embedded_model: EmbeddedModel
) -> None:
    # A grade is one more local generation: a rule for quick work can do without it.
    quality = {"judge_model": "smollm2:135m", "judge_between": [0, 10]}
    rules = [{"name": "history", "keywords": ["Rome"], "task_type": "conversation", "tier": "default", "judge": False}]
    url = serve_hermes(make_config({"quality": quality, "upgrade_policy": "never", "classification": {"rules": rules}}))
    calls = embedded_model.calls
    response = auto(url)
    assert response.headers["x-hermes-task-type"] == "conversation; tier=default; rule=history"
    signals = {s["name"]: s for s in response.json()["hermes"]["quality"]["signals"]}
    assert embedded_model.calls == calls + 1  # the answer; no grading of it
    assert signals["judge"]["passed"] is None and signals["judge"]["detail"].startswith("no judge asked")

def test_a_cloud_request_without_max_tokens_can_answer_past_1024_tokens(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    # aider and Continue send no max_tokens; a whole-file edit must not come back cut at an arbitrary length.
    openrouter.answer_words = 2000
    response = chat(hermes_url, {"model": "cloud", "messages": [{"role": "user", "content": "Rewrite big.py"}]})
    assert response.status_code == 200
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    assert response.json()["usage"]["completion_tokens"] == 2000
    assert openrouter.requests[0]["json"]["max_tokens"] == 4096  # what was reserved, the model's limit capped


TOO_LONG = [{"role": "user", "content": "Summarise this log. " + "error at line 12; " * 3000}]  # > 8192 tokens


def test_a_prompt_too_long_for_the_local_model_moves_on_to_the_cloud_under_auto(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"upgrade_policy": "auto"}))
    response = chat(url, {"model": "auto", "messages": TOO_LONG, "max_tokens": 50})
    assert response.status_code == 200, response.text
    hermes = response.json()["hermes"]
    assert hermes["route"] == "cloud" and hermes["cascade"]["attempts"][-1]["outcome"] == "too_long"
    assert len(openrouter.requests) == 1


def test_a_prompt_too_long_for_the_local_model_without_an_upgrade_is_a_400(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"upgrade_policy": "never"}))
    error = assert_openai_error(chat(url, {"model": "auto", "messages": TOO_LONG}), 400, "context_length_exceeded")
    assert "too long for the local models" in error["message"] and "smollm2:135m: too_long" in error["message"]
    assert openrouter.requests == []


def test_a_streamed_prompt_too_long_for_the_local_model_moves_on_to_the_cloud_under_a_rule_without_cascade(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    # "quickly" picks the yolo rule, which relays the first local model live; a prompt its context cannot hold
    # went there all the same, and every try was a 400 (issue 26).
    messages = [{"role": "user", "content": "Summarise this log quickly. " + "error at line 12; " * 3000}]
    events = sse_events(chat(hermes_url, {"model": "auto", "messages": messages, "stream": True}))

    assert events[-1] == "[DONE]"
    hermes = events[-2]["hermes"]  # type: ignore[index]
    assert hermes["route"] == "cloud" and hermes["cascade"]["attempts"][-1]["outcome"] == "too_long"
    assert len(openrouter.requests) == 1
