"""The confidence signal: a local model's certainty in its own tokens decides the short answers nothing else can."""

from __future__ import annotations

import math

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment.confidence import OPENING_TOKENS, confidence_verdict, summarise
from proxy.judgment.quality import load_weights, score_answer
from proxy.judgment.scorer_eval import SHORT_DATA, evaluate_short
from tests.judgment.scoring import ask, reply, signal

CAPITAL = ask("What is the capital of France?")


def entries(*logprobs: float, alternatives: int = 3) -> list[dict]:
    """Ollama entries whose chosen token heads its list, the rest splitting what is left evenly."""
    made = []
    for logprob in logprobs:
        rest = math.log((1 - math.exp(logprob)) / alternatives) if logprob < 0 else -30.0
        others = [{"token": "y", "logprob": rest}] * alternatives
        made.append({"token": "x", "logprob": logprob, "top_logprobs": [{"token": "x", "logprob": logprob}, *others]})
    return made


SURE = entries(-0.02, -0.01, -0.05, -0.01)  # "Paris." as a model that knows it writes it
GUESSING = entries(-0.9, -1.6, -2.3, -0.7)  # a capital made up on the spot


async def scored(messages: list[dict], text: str, logprobs: list[dict] | None):  # type: ignore[no-untyped-def]
    return await score_answer(messages, reply(text), "stop", None, "quick_qa", QualityConfig(), logprobs=logprobs)


def test_the_summary_reads_the_opening_tokens_only() -> None:
    summary = summarise(entries(-0.1, -0.3) + entries(-5.0) * 40)
    assert summary is not None and summary.tokens == 42
    assert summary.min_logprob == -5.0  # within the opening
    late = summarise(entries(*[-0.1] * OPENING_TOKENS) + entries(-9.0) * 20)
    assert late is not None and late.min_logprob == pytest.approx(-0.1) and late.mean_best_logprob == pytest.approx(-0.1)
    assert late.mean_entropy > 0  # the alternatives' spread, in nats


@pytest.mark.asyncio
async def test_a_short_answer_its_model_is_sure_of_scores_high_and_a_guess_does_not() -> None:
    sure, guess, unknown = (await scored(CAPITAL, "Paris.", SURE), await scored(CAPITAL, "Lyonesse.", GUESSING),
                            await scored(CAPITAL, "Paris.", None))
    neutral = round(10 / (1 + math.exp(-load_weights().intercept)), 1)
    assert unknown.score == neutral  # no log-probabilities: nothing speaks, the no-signal score
    # The embedded model's surest short answers are right 80-87% of the time: high, not certain.
    assert sure.score >= 8.0 and guess.score <= neutral
    assert signal(sure, "confidence").passed and signal(guess, "confidence").passed is False
    assert "sure" in sure.explain() and "confidence" in guess.explain()


@pytest.mark.parametrize(("task", "text", "calls", "logprobs", "why"), [
    ("What is the capital of France?", "Paris.", False, None, "not a local model's answer"),
    ("What is the capital of France?", "Paris.", False, [], "sent no token log-probabilities"),
    ("What is 17 times 23?", "391", False, SURE, "a maths question"),
    ("Reverse a string in Python.", "```python\ns[::-1]\n```", False, SURE, "code"),
    ("Read the config.", "", True, SURE, "an agent step"),
    ("Tell me about Paris.", "Paris is ...", False, SURE * 40, "longer than the short answers it was fitted on"),
])
def test_where_the_signal_was_not_fitted_it_does_not_speak_and_says_why(task: str, text: str, calls: bool,
                                                                         logprobs: list | None, why: str) -> None:
    verdict = confidence_verdict(task, text, calls, logprobs)
    assert verdict.value is None and why in verdict.detail


def test_on_held_out_answers_of_the_embedded_model_it_beats_length_and_chance() -> None:
    figures = evaluate_short(SHORT_DATA)
    confidence = next(s for s in figures.signals if s.name == "confidence")
    assert figures.answers > 100 and confidence.fires == 1.0
    assert confidence.auroc > 0.6 > figures.length_auroc
    assert figures.auroc > 0.6 and figures.largest_tie < 0.10
