"""The judge: a local model's grade, asked only where the scorer's other signals are unsure (judge_model.py)."""

from __future__ import annotations

import pytest

from proxy.config_schema import QualityConfig
from tests.judgment.scoring import ask, reply, score, signal


@pytest.mark.asyncio
async def test_the_judge_gets_an_mt_bench_prompt_and_its_rating_counts() -> None:
    prompts: list[str] = []

    async def judge(prompt: str) -> str:
        prompts.append(prompt)
        return "The answer is vague and misses the empty-list case. Rating: [[3]]"

    task = ask("Explain the difference between a list and a tuple in Python.")
    answer = reply("Lists are mutable and tuples are immutable; tuples can be dictionary keys, lists cannot.")
    always = QualityConfig(run_code=False, judge_between=(0.0, 10.0))  # whatever the other signals say
    judged = await score(task, answer, task_type="analysis", config=always, judge=judge)
    unjudged = await score(task, answer, task_type="analysis", config=always)

    assert "Explain the difference between a list and a tuple" in prompts[0]
    assert 'Rating: [[5]]' in prompts[0] and "[The Start of Assistant's Answer]" in prompts[0]
    assert signal(judged, "judge").passed is False
    assert signal(judged, "judge").detail == "the judge rated it 3/10"
    assert judged.score < unjudged.score
    assert signal(unjudged, "judge").passed is None


@pytest.mark.asyncio
async def test_the_judge_is_asked_only_where_the_other_signals_are_unsure() -> None:
    asked: list[str] = []

    async def judge(prompt: str) -> str:
        asked.append(prompt)
        return "Rating: [[10]]"

    refusal = await score(ask("Write a haiku about autumn leaves."), reply("I'm sorry, but I can't help with that."),
                          task_type="creative_writing", judge=judge)
    narrow = QualityConfig(run_code=False, judge_between=(0.0, 0.0))
    unsure = await score(ask("Explain the difference between a list and a tuple in Python."),
                         reply("Lists are mutable and tuples are immutable."), task_type="analysis",
                         config=narrow, judge=judge)

    assert asked == []  # a refusal is sure to fail, and nothing scores inside a band of [0, 0]
    assert signal(refusal, "judge").passed is None
    assert "not asked: the other signals are sure" in signal(refusal, "judge").detail
    assert "quality.judge_between 0-0" in signal(unsure, "judge").detail


@pytest.mark.asyncio
async def test_a_judge_reply_without_a_rating_is_skipped() -> None:
    async def judge(prompt: str) -> str:
        return "This response is fine."

    result = await score(ask("What is a tuple?"), reply("An immutable sequence, e.g. (1, 2)."), task_type="quick_qa",
                         judge=judge)

    assert signal(result, "judge").passed is None
    assert "no rating" in signal(result, "judge").detail
