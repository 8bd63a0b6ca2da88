"""Token estimates: exact input, output learned from real responses, honest confidence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import litellm
import pytest

from proxy.money import estimate
from proxy.money.estimate import (
    TASK_PRIORS,
    count_input_tokens,
    count_input_tokens_off_loop,
    count_text_tokens,
    estimate_output,
    learn,
)
from proxy.storage.store import Learned
from tests.conftest import REPO

CLIENT_BODIES = sorted((REPO / "tests" / "clients").glob("*.json"))
MODELS = ["openrouter/anthropic/claude-3.5-sonnet", "openrouter/openai/gpt-4", "openrouter/openai/gpt-4o",
          "ollama_chat/smollm2:135m"]

MESSAGES = [{"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "Refactor this function to use a dataclass."}]


def test_priors_are_the_specs() -> None:
    assert {name: (p.input_tokens, p.output_tokens, p.confidence) for name, p in TASK_PRIORS.items()} == {
        "quick_qa": (50, 100, 0.7), "code_generation": (150, 400, 0.6), "analysis": (300, 600, 0.5),
        "creative_writing": (100, 300, 0.6), "debugging": (400, 500, 0.5), "conversation": (80, 150, 0.8),
        "data_processing": (200, 300, 0.6), "research": (250, 800, 0.4)}
    assert estimate_output("research", None) == (800, 0.4)
    assert estimate_output("no-such-type", None) == (150, 0.8)  # conversation's


def test_input_tokens_are_counted_exactly_offline() -> None:
    model = "openrouter/openai/gpt-4"
    assert count_input_tokens(model, MESSAGES) == litellm.token_counter(model=model, messages=MESSAGES)
    longer = MESSAGES + [{"role": "user", "content": "word " * 100}]
    assert count_input_tokens(model, longer) - count_input_tokens(model, MESSAGES) >= 100


@pytest.mark.parametrize("path", CLIENT_BODIES, ids=[p.stem for p in CLIENT_BODIES])
def test_counting_part_by_part_gives_litellms_count_of_the_whole_request(path: Path) -> None:
    body = json.loads(path.read_text())["body"]
    for model in MODELS:
        whole = litellm.token_counter(model=model, messages=body["messages"], tools=body.get("tools"))
        first = count_input_tokens(model, body["messages"], body.get("tools"))
        again = count_input_tokens(model, body["messages"], body.get("tools"))  # from the cache
        assert first == again == whole, model


def test_counting_part_by_part_covers_tool_turns_names_and_images() -> None:
    model = "openrouter/openai/gpt-4"
    tools = [{"type": "function", "function": {"name": "read", "description": "Read a file",
                                               "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
    turns = [
        {"role": "user", "name": "ann", "content": [{"type": "text", "text": "Look at this"},
                                                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read", "arguments": '{"path": "a.py"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "print('hi')"},
    ]
    for messages in (turns, MESSAGES + turns, []):
        for offered in (tools, None):
            whole = litellm.token_counter(model=model, messages=messages, tools=offered, use_default_image_token_count=True)
            assert count_input_tokens(model, messages, offered) == whole


def test_a_counted_text_is_litellms_count() -> None:
    text = "Refactor the parser into smaller functions, keeping its tests green."
    assert count_text_tokens(text) == count_text_tokens(text) == litellm.token_counter(text=text)


def test_the_count_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(estimate, "COUNTED_PARTS", 8)
    for n in range(20):
        count_input_tokens("openrouter/openai/gpt-4", [{"role": "user", "content": f"question {n}"}])
    assert len(estimate._counted) <= 8
    # What fell out is counted again, and the same.
    assert count_input_tokens("openrouter/openai/gpt-4", MESSAGES) == litellm.token_counter(
        model="openrouter/openai/gpt-4", messages=MESSAGES)


@pytest.mark.asyncio
async def test_a_large_new_tool_result_is_counted_while_other_requests_go_on() -> None:
    # An agent's newest file read, never seen before: counting it took 13 ms at 286 KB, and on the event
    # loop every other request would have waited for it.
    model = "openrouter/openai/gpt-4"
    source = (REPO / "proxy" / "money" / "estimate.py").read_text()
    read = MESSAGES + [{"role": "tool", "tool_call_id": "read-1", "content": source * 40}]  # about 350 KB
    turns_of_the_loop = 0

    async def another_request() -> None:
        nonlocal turns_of_the_loop
        for _ in range(5):
            await asyncio.sleep(0)
            turns_of_the_loop += 1

    counting = asyncio.ensure_future(count_input_tokens_off_loop(model, read))
    await another_request()
    assert turns_of_the_loop == 5 and not counting.done()  # the loop went round while the count ran
    assert await counting == litellm.token_counter(model=model, messages=read)
    assert count_input_tokens(model, read) == await counting  # remembered: the next count is a lookup


def test_estimates_move_toward_real_lengths() -> None:
    learned = None
    for _ in range(30):
        learned = learn("code_generation", learned, 1200)
    tokens, _ = estimate_output("code_generation", learned)
    assert 1150 <= tokens <= 1200 and learned.samples == 30


def test_confidence_grows_with_samples_and_shrinks_with_spread() -> None:
    def confidence_after(lengths: list[int]) -> float:
        learned = None
        for length in lengths:
            learned = learn("analysis", learned, length)
        return estimate_output("analysis", learned)[1]

    steady = [confidence_after([600] * n) for n in (1, 5, 20)]
    assert 0.5 < steady[0] < steady[1] < steady[2] <= 0.99
    assert confidence_after([100, 1100] * 10) < confidence_after([550, 650] * 10)


def test_the_prior_counts_as_the_first_observation() -> None:
    assert learn("conversation", None, 350).mean_output_tokens == pytest.approx(250)  # (150 + 350) / 2
    assert learn("conversation", Learned(100, 150.0, 0.0), 350).mean_output_tokens == pytest.approx(170)  # rate 0.1
