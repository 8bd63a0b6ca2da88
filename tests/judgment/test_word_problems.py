"""Word problems: answers whose sums all hold but which solved another problem.

The questions and answers are GSM8K's (test problems, GPT-3 models' answers: evals/gsm8k_labelled.jsonl)
or made the same way.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment import maths, word_problems
from proxy.judgment.scorer_eval import GSM8K_DATA, evaluate_gsm8k, load_items

JANET = ("Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
         "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
         "egg. How much in dollars does she make every day at the farmers' market?")


def test_a_quantity_of_the_question_left_out_fails() -> None:
    # 6B fine-tuned forgot the four eggs for muffins: every sum holds, the answer is wrong.
    forgot = ("Janet eats 3 ducks eggs for breakfast every morning and she sells the rest so she has 16 - 3 = "
              "<<16-3=13>>13 ducks eggs left\nShe has 13 ducks eggs and she sells 2 each day so she makes "
              "13 * 2 = $<<13*2=26>>26\nA: 26")
    verdict = word_problems.quantities(JANET, forgot)

    assert verdict.value is not None and verdict.value < 0
    assert "'four'" in verdict.detail
    assert maths.check_arithmetic(maths.equations(forgot)).value > 0  # what the arithmetic check alone saw


def test_every_quantity_used_passes_in_whatever_form_the_working_writes_it() -> None:
    right = ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
             "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\nA: 18")
    assert word_problems.quantities(JANET, right).value == 1.0
    # 60% as the 0.4 left; "half" as a division by 2; "a dozen" as 12.
    shop = "A dozen eggs cost $3. Half of the 40 eggs broke and 60% of the rest were sold. How many eggs were sold?"
    worked = "40 / 2 = 20 eggs were left.\n20 * 0.6 = 12 were sold, 20 * 0.4 = 8 kept, at 3 / 12 each.\nA: 12"
    assert word_problems.quantities(shop, worked).value == 1.0


@pytest.mark.parametrize("question", [
    "140 sweets are shared by 3 children. How many does each get, to 2 decimals?",
    "She bought 3 dozen donuts which cost $68 per dozen and 2 cakes for $5 each. How much was the total cost?",
])
def test_how_to_write_the_answer_and_units_are_not_quantities_to_use(question: str) -> None:
    written = [q.written for q in word_problems.stated(question)]

    assert "2" not in written if "decimals" in question else "dozen" not in written


def test_an_answer_with_no_working_is_left_to_the_final_answer_check() -> None:
    assert word_problems.quantities(JANET, "A: 18").value is None


def test_a_step_whose_result_goes_nowhere_fails_the_chain() -> None:
    # 175B fine-tuned multiplies, then forgets what it found and answers with another product.
    text = ("He bought the house for 80,000 and put 50,000 into repairs so he spent 80,000+50,000 = "
            "$<<80000+50000=130000>>130,000\nThe house is worth 80,000*2.5 = $<<80000*2.5=200000>>200,000\n"
            "His profit was 200,000*0.35 = $<<200000*0.35=70000>>70,000\nA: 70000")
    verdict = word_problems.chain(maths.equations(text), maths.final_answer(text).value)

    assert verdict.value is not None and verdict.value < 0
    assert verdict.detail.startswith("80,000+50,000 = 130,000 is never used again")


@pytest.mark.parametrize(("question", "text", "expected"), [
    # A calculator note that works in cents, beside the line's own step in dollars: the note is no lost step.
    ("A pencil costs $0.02 and a bag $1. How much do 3 pencils and the bag cost?",
     "3 * $0.02 = $<<3*2=6>>0.06\nAnd 0.06 + 1 = 1.06 with the bag.\n#### 1.06", 1.0),
    # The last step rounded, as the answer shows it.
    ("Ann has 100 sweets and Bob 40. They share them among 3 children. How many does each get, to 2 decimals?",
     "Together they have 100 + 40 = 140 sweets.\nEach gets 140 / 3 = <<140/3=46.666666666666664>>46.67\n#### 46.67",
     1.0),
    # A check that multiplies back to the question's 140 is not a result left lying.
    ("Ann has 100 sweets and Bob 40. They share them among 3 children. How many does each get, to 2 decimals?",
     "100 + 40 = 140 sweets.\n140 / 3 = 46.67 each.\nCheck: 46.67 * 3 = 140.01, which is 140.\n#### 46.67", 1.0),
    # An equation in an unknown is given, not found: nothing here is a step to follow.
    ("A number times 4, plus 8, is 40. What is the number? Solve it.",
     "x * 4 + 8 = 40, so x * 4 = 32 and x = 8.\nThe answer is 8.", None),
])
def test_notes_rounding_checks_and_unknowns_do_not_break_the_chain(question: str, text: str,
                                                                   expected: float | None) -> None:
    verdict = word_problems.chain(maths.equations(text), maths.final_answer(text).value, question)

    assert verdict.value == expected, verdict.detail


def test_a_worked_chain_to_the_answer_passes() -> None:
    text = "16 - 3 - 4 = 9 eggs to sell.\n9 * 2 = 18 dollars.\nA: 18"

    assert word_problems.chain(maths.equations(text), Fraction(18)).value == 1.0


def test_a_long_chain_is_doubted_and_a_short_one_credited() -> None:
    # Not a fault but a difficulty: each step is one more place to go wrong.
    short = maths.equations("16 - 3 - 4 = 9 eggs.\n9 * 2 = 18 dollars.")
    long = maths.equations("\n".join(f"{n} + 1 = {n + 1}" for n in range(8)))

    assert word_problems.steps(short).value == 0.5
    assert word_problems.steps(long).value == -1.0
    assert word_problems.steps([]).value is None


def test_with_as_many_steps_a_wordier_working_is_doubted_more() -> None:
    terse = "16 - 3 - 4 = 9 eggs.\n9 * 2 = 18 dollars."
    wordy = ("First, Janet's ducks lay 16 eggs and she uses some of them, so we work out what is left over: "
             "16 - 3 - 4 = 9 eggs.\nThen, since every one of the remaining eggs sells at the market for two "
             "dollars, the money she makes in a day is 9 * 2 = 18 dollars, and that is the amount of money that the question wanted us to find.")

    terse_value = word_problems.steps(maths.equations(terse), terse).value
    wordy_value = word_problems.steps(maths.equations(wordy), wordy).value

    assert terse_value is not None and wordy_value is not None
    assert wordy_value < 0.5 < terse_value  # the two steps alone give 0.5; a 300-character working stays there


@pytest.mark.parametrize(("question", "answer", "why"), [
    ("Tom has 5 apples and gives away 8. How many apples does he have?", Fraction(-3), "a negative count"),
    ("There are 700 bees. How many worker bees are there?", Fraction(933, 2), "a count of worker"),
    ("A 3 mile walk at 2 miles an hour. How many hours does it take?", Fraction(3, 2), ""),
    ("140 sweets, 3 children. How many sweets does each get, to 2 decimals?", Fraction(4667, 100), ""),
])
def test_a_count_cannot_be_negative_or_a_fraction_of_things_that_come_whole(question: str, answer: Fraction,
                                                                          why: str) -> None:
    found = word_problems.impossible(question, answer)

    assert found.startswith(why) if why else found == ""


def test_on_gsm8k_the_checks_beat_length_and_a_second_sample_beats_them() -> None:
    # Held-out problems: four GPT-3 models' answers, marked right or wrong by OpenAI.
    assert len(load_items(GSM8K_DATA)) > 1000
    alone, two = evaluate_gsm8k(GSM8K_DATA, QualityConfig(run_code=False))

    assert alone.auroc > 0.7 and alone.length_auroc < 0.5  # on GSM8K a long answer is more often a lost one
    assert two.auroc > 0.8
    # Answers with as many steps differ in length, so few share a score: a threshold can split them.
    assert alone.largest_tie <= 0.1 and two.largest_tie <= 0.1
    chain = next(s for s in alone.signals if s.name == "chain")
    assert chain.auroc > 0.55
    timed = {s.name: s.cost_us for s in two.signals if s.cost_us is not None}
    assert set(timed) == {"arithmetic", "final_answer", "quantities", "chain", "steps", "consistency"}
