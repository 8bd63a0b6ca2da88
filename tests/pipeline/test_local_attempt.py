"""A local attempt inside its time budget: skipped when too slow to read the prompt, cancelled at the deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from proxy.chat import ChatRequest
from proxy.config import Config
from proxy.pipeline.cascade import deadline_s
from proxy.pipeline.classify import Classifier
from proxy.pipeline.local_attempt import LocalSpeeds, TooSlow, _Assembler, generate
from tests.edge.test_app import chat
from tests.openrouter_stub import OpenRouterStub
from tests.upstreams.test_upstream import local_target

ROME = [{"role": "user", "content": "Tell me about the history of Rome."}]
ESSAY = ChatRequest("smollm2:135m", [{"role": "user", "content": "Write a long essay about Rome."}],
                    params={"max_tokens": 400, "temperature": 0})


@pytest.mark.asyncio
async def test_a_prompt_too_long_for_the_measured_speed_is_skipped_without_calling_the_model(
    make_config: Callable[..., Config]
) -> None:
    speeds = LocalSpeeds()
    speeds.measured("smollm2:135m", prompt_tokens=1000, seconds=10.0)  # 100 tokens/s
    nowhere = local_target(make_config(), api_base="http://127.0.0.1:9")  # a call would fail, not skip
    with pytest.raises(TooSlow) as skipped:
        await generate(nowhere, ESSAY, prompt_tokens=3000, deadline_s=20.0, speeds=speeds)
    assert skipped.value.started is False
    # 30 s at 100 tokens/s, and more: each token of a longer prompt costs more to read (GROWTH_PER_TOKEN).
    assert "3000-token prompt would take ~40s" in skipped.value.message and "100 tokens/s" in skipped.value.message


def test_a_long_prompt_reads_slower_per_token_than_the_short_one_measured() -> None:
    speeds = LocalSpeeds()
    speeds.measured("smollm2:135m", prompt_tokens=600, seconds=1.45)  # OpenCode's title request, here
    expected = speeds.prefill_seconds("smollm2:135m", 7145)  # its agent step: 36.5 s, measured here
    assert expected is not None and 30 < expected < 40  # not 17 s, at the title's 414 tokens/s


@pytest.mark.asyncio
async def test_an_attempt_still_waiting_gives_up_once_a_speed_measured_meanwhile_says_it_is_hopeless(
    make_config: Callable[..., Config]
) -> None:
    """OpenCode's title and agent step come at once: the step must not wait out its deadline behind the title."""
    target, speeds = local_target(make_config()), LocalSpeeds()
    busy = asyncio.ensure_future(generate(target, ESSAY, prompt_tokens=20, deadline_s=None, speeds=LocalSpeeds()))
    try:
        await asyncio.sleep(0.5)  # the essay holds the model; the next request queues behind it
        short = ChatRequest("smollm2:135m", ROME, params={"max_tokens": 4, "temperature": 0})
        step = asyncio.ensure_future(generate(target, short, prompt_tokens=8000, deadline_s=20.0, speeds=speeds))
        await asyncio.sleep(0.2)
        assert not step.done()  # no speed known yet: it was let in, and waits for the model
        speeds.measured("smollm2:135m", prompt_tokens=600, seconds=1.5)  # the title's first token
        with pytest.raises(TooSlow) as gave_up:
            await step
        assert gave_up.value.started is True
        assert "8000-token prompt would take" in gave_up.value.message
        assert "tokens/s measured while it waited, more than the 20s deadline" in gave_up.value.message
    finally:
        busy.cancel()
        await asyncio.gather(busy, return_exceptions=True)
    # Giving up closed its connection: the model answers the next request.
    answer = await generate(target, ChatRequest("smollm2:135m", ROME, params={"max_tokens": 4, "temperature": 0}),
                            prompt_tokens=10, deadline_s=None, speeds=LocalSpeeds())
    assert answer["choices"][0]["message"]["content"]


@pytest.mark.asyncio
async def test_an_attempt_past_its_deadline_is_cancelled_and_the_model_is_free_again(
    make_config: Callable[..., Config]
) -> None:
    target, speeds = local_target(make_config()), LocalSpeeds()
    statuses: list[str] = []
    with pytest.raises(TooSlow) as late:
        await generate(target, ESSAY, prompt_tokens=20, deadline_s=0.5, speeds=speeds, progress=statuses.append)
    assert late.value.started is True and "0.5s deadline" in late.value.message
    assert statuses[0] == "smollm2:135m reading the prompt"
    assert speeds.prefill_rate("smollm2:135m") is not None  # what it managed is what it is measured at
    # Closing the stream stopped the generation: the model answers the next request.
    short = ChatRequest("smollm2:135m", ROME, params={"max_tokens": 4, "temperature": 0})
    answer = await generate(target, short, prompt_tokens=10, deadline_s=None, speeds=speeds)
    assert answer["choices"][0]["message"]["content"]


@pytest.mark.asyncio
async def test_a_whole_answer_is_the_chat_completion_a_plain_call_returns(make_config: Callable[..., Config]) -> None:
    speeds, statuses = LocalSpeeds(), []
    request = ChatRequest("smollm2:135m", ROME, params={"max_tokens": 8, "temperature": 0})
    answer = await generate(local_target(make_config()), request, prompt_tokens=10, deadline_s=None,
                            speeds=speeds, progress=statuses.append)
    assert answer["object"] == "chat.completion" and answer["model"] == "smollm2:135m"
    assert answer["choices"][0]["message"]["role"] == "assistant" and answer["choices"][0]["finish_reason"]
    assert answer["usage"]["completion_tokens"] > 0 and answer["usage"]["prompt_tokens"] > 0
    assert statuses == ["smollm2:135m reading the prompt", "smollm2:135m generating"]
    assert speeds.prefill_rate("smollm2:135m") > 0  # type: ignore[operator]


def test_tool_call_fragments_are_put_back_together() -> None:
    answer = _Assembler("m")
    for delta in ({"role": "assistant"},
                  {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "read"}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": '{"path": '}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": '"a.py"}'}}]},
                  {"tool_calls": [{"index": 1, "id": "call_2", "function": {"name": "ls", "arguments": "{}"}}]}):
        answer.add({"id": "x", "created": 1, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    answer.add({"id": "x", "created": 1, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    answer.add({"id": "x", "created": 1, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7,
                                                                   "total_tokens": 12}})
    completion = answer.completion()
    assert completion["choices"][0]["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": '{"path": "a.py"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
    ]
    assert completion["choices"][0]["finish_reason"] == "tool_calls" and completion["usage"]["total_tokens"] == 12


def test_a_local_attempt_past_its_deadline_moves_the_cascade_on_to_the_cloud(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"local": {"deadline_s": 0.01}, "upgrade_policy": "auto"}))
    response = chat(url, {"model": "auto", "messages": ROME, "max_tokens": 300})
    assert response.status_code == 200, response.text
    hermes = response.json()["hermes"]
    attempt = hermes["cascade"]["attempts"][-1]
    assert attempt["outcome"] == "too_slow" and "deadline (local.deadline_s)" in attempt["detail"]
    assert hermes["route"] == "cloud" and len(openrouter.requests) == 1


def test_without_anywhere_to_escalate_to_a_slow_local_answer_beats_none(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub
) -> None:
    url = serve_hermes(make_config({"local": {"deadline_s": 0.01}}, OPENROUTER_API_KEY=""))
    response = chat(url, {"model": "auto", "messages": ROME, "max_tokens": 8})
    assert response.status_code == 200, response.text
    hermes = response.json()["hermes"]
    assert hermes["route"] == "local" and hermes["cascade"]["attempts"][-1]["outcome"] != "too_slow"


def test_a_rule_can_give_its_requests_a_deadline_of_their_own(make_config: Callable[..., Config]) -> None:
    config = make_config({"classification": {"rules": [
        {"name": "slow-ok", "keywords": ["essay"], "task_type": "creative_writing", "tier": "default",
         "deadline_s": 90}]}})
    classifier = Classifier(config.routing.classification)
    assert deadline_s(classifier.classify([{"role": "user", "content": "an essay please"}]), config) == 90
    assert deadline_s(classifier.classify(ROME), config) == config.routing.local.deadline_s

