"""Maths answers: the arithmetic they show is recomputed, and they must reach one final answer."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment import maths
from proxy.judgment.quality import QualityScore, score_answer
from proxy.judgment.scorer_eval import MATHS_DATA, load_items

CONFIG = QualityConfig(run_code=False)
PENCILS = ("Maria buys 4 packs of pencils with 12 pencils in each pack. She gives 9 pencils to her friends. "
           "How many pencils does she have left?")
RIGHT = "Maria buys 4 * 12 = 48 pencils.\nAfter giving away 9, she has 48 - 9 = 39 left.\nThe answer is 39."
# One step wrong, the slip carried through, as small models do.
WRONG_STEP = "Maria buys 4 * 12 = 46 pencils.\nAfter giving away 9, she has 46 - 9 = 37 left.\nThe answer is 37."
# SmolLM2-135M's real answer (sampled at 0.8): two false steps, and a final answer none of them gives.
SMOLLM = ("If each pack contains 12 pencils, the total number of pencils Maria gives to her friends would be "
          "12 x 4 = 48 pencils.\nShe gives 9 pencils to her friends, so she would have given away 48 - 9 = 32 "
          "pencils.\nTherefore, Maria has left a total of 32 - 48 = 20 pencils.\n#### 2\nThe answer is 2.")


def holds(text: str) -> list[bool]:
    return [e.holds for e in maths.equations(text)]


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("3 * 4 = 12", [True], id="product"),
    pytest.param("3 * 4 = 13", [False], id="wrong-product"),
    pytest.param("0.1 + 0.2 = 0.3", [True], id="exact-decimals"),
    pytest.param("3 * 4 = 12 + 5 = 17", [True, True], id="running-chain"),
    pytest.param("2 * (3 + 4) = 2 * 7 = 14", [True, True], id="equal-chain"),
    pytest.param("$1,200 - $300 = $900", [True], id="money-thousands"),
    pytest.param("1,250 × 21 = 26,250", [True], id="times-sign"),
    pytest.param("50 * 20% = $10", [True], id="percent-operand"),
    pytest.param("45 / 60 = 75%", [True], id="percent-result"),
    pytest.param("100 - 20% = 80", [True], id="percent-off"),
    pytest.param("90% + 92% + 81% = 263%", [True], id="percent-sum"),
    pytest.param("90% + 92% = 172%", [False], id="wrong-percent-sum"),
    pytest.param("10 / 3 = 3.33", [True], id="rounded"),
    pytest.param("10 / 3 = 3", [False], id="rounded-too-far"),
    pytest.param("10 / 3 ≈ 3", [], id="approximate-sign-not-an-equation"),
    pytest.param("5 apples + 3 apples = 8 apples", [True], id="units-between"),
    pytest.param("\\frac{3}{4} \\times 20 = 15", [True], id="latex"),
    pytest.param("Total = 4 - 9\n= 1", [False], id="continued-line"),
    pytest.param("Step 1: 20 * 3 = 60", [True], id="step-number-not-an-operand"),
    pytest.param("<<3*4=12>>12", [True], id="gsm8k-annotation"),
    pytest.param("x = 5 and y = 2", [], id="no-arithmetic"),
    pytest.param("```python\nprint(3 * 4 == 13)\n```", [], id="code-is-not-prose"),
    # Correct maths the reader once misread (issue 28), each with a wrong neighbour it must still catch.
    pytest.param("The party needs 16 \\* 3/4 = 12 gift bags.", [True], id="markdown-escaped-times"),
    pytest.param("The party needs 16 \\* 3/4 = 13 gift bags.", [False], id="markdown-escaped-times-wrong"),
    pytest.param("1 - 1/4 = 3/4 of the pie is left.", [True], id="fraction-result"),
    pytest.param("1 - 1/4 = 2/4 of the pie is left.", [False], id="fraction-result-wrong"),
    pytest.param("P = 1/6 * 1/6 = 1/36", [True], id="odds-as-fractions"),
    pytest.param("12 / 4 = 3", [True], id="a-division-is-no-fraction-result"),
    pytest.param("x * 4 + 8 = 40, so x * 4 = 32 and x = 8.", [True, True], id="an-unknown-checked-with-its-solution"),
    pytest.param("x * 4 + 8 = 40, so x = 9.", [False], id="an-unknown-solved-wrong"),
    pytest.param("We need x * 4 + 8 = 40.", [], id="an-unknown-never-solved-is-left-alone"),
    pytest.param("So 40 - 8 = 32, and x = 32 / 4 = 8.", [True, True], id="its-solving-steps-are-sums"),
    pytest.param("140 / 3 = <<140/3=46.666666666666664>>46.67", [True, True], id="calculator-float-digits"),
    pytest.param("140 / 3 = <<140/3=46.666666666666664>>47.67", [True, False], id="calculator-shown-wrong"),
    pytest.param("3 * $0.02 = $<<3*2=6>>0.06", [True, True], id="calculator-in-cents"),
    pytest.param("3 * $0.02 = $<<3*2=6>>0.6", [True, False], id="calculator-in-cents-shown-wrong"),
])
def test_equations_are_recomputed_exactly(text: str, expected: list[bool]) -> None:
    assert holds(text) == expected


@pytest.mark.parametrize(("text", "value", "how"), [
    pytest.param("So 6 * 7 = 42.\nThe answer is 42.", 42, "marked", id="the-answer-is"),
    pytest.param("#### 1,234", 1234, "marked", id="gsm8k"),
    pytest.param("Hence the total is \\boxed{17}.", 17, "marked", id="boxed"),
    pytest.param("**Answer:** $12.50", Fraction(25, 2), "marked", id="bold-answer-money"),
    pytest.param("She buys 3 + 4 = 7.\nSo she has 7 apples.", 7, "last line", id="last-line"),
    pytest.param("So she has 20 - 5 = 15 left.\nLet me know if you need more help!", 15, "last line",
                 id="conclusion-before-a-sign-off"),
])
def test_the_final_answer_is_found(text: str, value: Fraction, how: str) -> None:
    final = maths.final_answer(text)

    assert (final.value, final.how) == (value, how)


def test_two_different_announced_answers_conflict() -> None:
    final = maths.final_answer("The answer is 12.\n#### 15")

    assert final.value is None and final.how == "conflicting"


def test_an_answer_that_never_concludes_has_no_final_answer() -> None:
    assert maths.final_answer("First, 4 * 12 = 48.\nThen we subtract what she gave.\nNow we can finish.").how == "none"


def test_maths_questions_are_told_from_others() -> None:
    assert maths.is_maths_task(PENCILS)
    assert maths.is_maths_task("What is 17 * 23?")
    # Quantities in words count: "a quarter of them", "a third of the rest".
    assert maths.is_maths_task("A class has 36 students. A quarter of them walk, a third of the rest come by bus. "
                               "How many come by car?")
    assert not maths.is_maths_task("Write a poem about 3 cats and 2 dogs.")
    assert not maths.is_maths_task("How many items does this return?\n```python\nf([1, 2])\n```")


def test_verdicts_name_the_wrong_step() -> None:
    found = maths.verdicts(PENCILS, WRONG_STEP, "stop")

    assert found["arithmetic"].value is not None and found["arithmetic"].value <= -0.5
    assert "4 * 12 = 46" in found["arithmetic"].detail and "48" in found["arithmetic"].detail
    assert found["final_answer"].value == 1.0  # it does follow from its (wrong) working


def test_a_final_answer_no_step_produced_is_unsupported() -> None:
    text = RIGHT.replace("The answer is 39.", "The answer is 41.")

    assert maths.verdicts(PENCILS, text, "stop")["final_answer"].value == -0.6


def test_a_cut_off_answer_has_no_final_answer() -> None:
    verdict = maths.verdicts(PENCILS, "Maria buys 4 * 12 = 48 pencils.\nAfter giving away 9, she has 48", "length")

    assert verdict["final_answer"].value == -1.0


@pytest.mark.parametrize(("peers", "value"), [
    pytest.param(("#### 39",), 1.0, id="agrees"),
    pytest.param(("The answer is 37.",), -1.0, id="disagrees"),
    pytest.param(("The answer is 39.", "The answer is 40."), 0.0, id="half"),
])
def test_agreement_between_samples(peers: tuple[str, ...], value: float) -> None:
    assert maths.check_agreement(RIGHT, peers).value == value


def test_agreement_needs_another_sample_with_an_answer() -> None:
    assert maths.check_agreement(RIGHT, ()).value is None
    assert maths.check_agreement(RIGHT, ("I am not sure.",)).value is None


async def score(answer: str, peers: tuple[str, ...] = (), finish_reason: str = "stop") -> QualityScore:
    messages: list[dict[str, Any]] = [{"role": "user", "content": PENCILS}]
    return await score_answer(messages, {"role": "assistant", "content": answer}, finish_reason, None,
                              "conversation", CONFIG, None, peers)


@pytest.mark.asyncio
async def test_a_correct_worked_answer_outscores_one_with_a_wrong_step() -> None:
    right, wrong = await score(RIGHT), await score(WRONG_STEP)

    assert right.score > wrong.score + 2
    assert "arithmetic failed" in wrong.explain()


@pytest.mark.asyncio
async def test_a_correct_worked_answer_outscores_smollm2s_muddle() -> None:
    right, muddle = await score(RIGHT), await score(SMOLLM)

    assert right.score > muddle.score + 3
    assert "final_answer failed (unsupported)" in muddle.explain()  # its answer 2 is no result of its steps


@pytest.mark.asyncio
async def test_an_answer_that_stops_short_scores_below_one_that_concludes() -> None:
    stops = "Maria buys 4 * 12 = 48 pencils.\nNext we work out the rest from these numbers."

    assert (await score(RIGHT)).score > (await score(stops)).score + 1


@pytest.mark.asyncio
async def test_samples_that_agree_raise_the_score_and_ones_that_disagree_lower_it() -> None:
    alone = await score(RIGHT)
    agreed = await score(RIGHT, peers=("She has 48 - 9 = 39 pencils.\n#### 39",))
    disputed = await score(RIGHT, peers=("The answer is 45.",))

    assert agreed.score > alone.score > disputed.score


def test_the_shipped_maths_set_is_labelled_by_its_known_answers() -> None:
    items = load_items(MATHS_DATA)

    assert MATHS_DATA.stat().st_size < 3 * 1024 * 1024
    assert {item["split"] for item in items} == {"train", "test"}
    assert {"worked", "wrong_step", "wrong_final", "no_final", "truncated"} <= {item["kind"] for item in items}
    assert all(item["passed"] for item in items if item["kind"] in ("worked", "gsm8k", "terse"))
    assert not any(item["passed"] for item in items if item["kind"] in ("wrong_step", "wrong_final", "no_final"))
    # A held-out problem never lends an item to training.
    splits: dict[str, set[str]] = {}
    for item in items:
        splits.setdefault(item["task_id"], set()).add(item["split"])
    assert all(len(s) == 1 for s in splits.values())


@pytest.mark.parametrize("task", ["Explain what C(n, k) means in combinatorics, with an example.",
                                  "Summarise the history of the number zero."])
def test_maths_signals_stay_out_of_what_is_no_maths_question(task: str) -> None:
    # An explanation whose example slips: no sum recomputed, no final answer demanded.
    assert not maths.is_maths_task(task)
    found = maths.verdicts(task, "For example C(5,4) = 5, and 1 + 2 = 4 as you can see.", "stop")
    assert {name: v.value for name, v in found.items()} == {"arithmetic": None, "final_answer": None,
                                                             "quantities": None, "chain": None, "steps": None,
                                                             "consistency": None}


def test_correct_algebra_and_odds_are_not_punished_where_they_are_maths() -> None:
    task = "Solve for x: x * 4 + 8 = 40. Then what is the probability of two sixes, 1/6 each?"
    answer = "x * 4 + 8 = 40, so x * 4 = 40 - 8 = 32 and x = 32 / 4 = 8.\nP = 1/6 * 1/6 = 1/36.\nThe answer is 8."
    found = maths.verdicts(task, answer, "stop")
    assert found["arithmetic"].value is not None and found["arithmetic"].value > 0, found["arithmetic"].detail


# The five correct answers issue 28 found misread (each scored 0.0-0.1 then), and a wrong neighbour of each.
MISREAD = [
    ("A party has 16 guests and 3/4 of them want a gift bag. How many gift bags are needed?",
     "The party needs 16 \\* 3/4 = 12 gift bags.\nThe answer is 12.", "12", "13"),
    ("Ann eats 1/4 of a pie. Calculate what fraction of the pie is left.",
     "1 - 1/4 = 3/4 of the pie is left.\nThe answer is 3/4.", "3/4", "2/4"),
    ("A number times 4, plus 8, is 40. What is the number? Solve it.",
     "x * 4 + 8 = 40, so x * 4 = 32 and x = 8.\nThe answer is 8.", "8", "9"),
    ("140 sweets are shared by 3 children. How many does each get, to 2 decimals?",
     "140 / 3 = <<140/3=46.666666666666664>>46.67\n#### 46.67", "46.67", "47.67"),
    ("A pencil costs $0.02. How much do 3 pencils cost?", "3 * $0.02 = $<<3*2=6>>0.06\n#### 0.06", "0.06", "0.6"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("task", "answer", "right", "wrong"), MISREAD, ids=["escaped-times", "fraction-result",
                                                                             "unknown", "calculator-float", "cents"])
async def test_correct_maths_scores_high_and_its_wrong_neighbour_low(task: str, answer: str, right: str,
                                                                     wrong: str) -> None:
    # Correct maths is read correctly: no check fails it. Its score is what a checked answer earns alone (GSM8K's
    # real answers say such answers are right about half the time); a second sample that agrees lifts it.
    messages = [{"role": "user", "content": task}]

    async def scored(text: str, peers: tuple[str, ...] = ()) -> QualityScore:
        return await score_answer(messages, {"role": "assistant", "content": text}, "stop", None, "quick_qa", CONFIG,
                                  peers=peers)

    alone, agreed = await scored(answer), await scored(answer, (answer,))
    misread = await scored(answer.replace(right, wrong))
    assert not [s.name for s in alone.signals if s.passed is False], alone.explain()
    assert agreed.score >= 8.0
    assert misread.score <= 1.0 and alone.score >= misread.score + 4
