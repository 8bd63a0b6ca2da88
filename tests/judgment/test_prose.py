"""Prose answers: cheap features, combined by a model fitted on GPT-4 preferences, order answers sensibly."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment import prose
from proxy.judgment.quality import QualityScore, score_answer

CONFIG = QualityConfig(run_code=False)
QUESTION = "How can I improve my sleep? Give me a few practical tips."
FOCUSED = """Here are some practical tips that help most people sleep better:

1. **Keep a regular schedule.** Go to bed and get up at the same time every day, weekends included; your body \
clock settles within one or two weeks.
2. **Cut caffeine after midday.** Caffeine has a half-life of about 5 hours, so a 4 pm coffee is still working \
at 9 pm.
3. **Make the bedroom dark, quiet and cool.** Around 18 °C suits most people; blackout curtains or an eye mask \
help in summer.
4. **Put screens away an hour before bed.** Reading or a warm shower instead helps you wind down.
5. **Get daylight in the morning.** Twenty minutes outside early in the day makes you sleepy earlier at night.

If you still lie awake for weeks despite these changes, talk to a doctor: insomnia and sleep apnoea are treatable."""
RAMBLING = "\n".join(["Sleep is very important for your health and you should try to sleep better."] * 6
                     + ["Sleep is very important. Sleep is very important. Sleep is very important."] * 3)
CURT = "Sleep more."


async def score(answer: str, question: str = QUESTION, finish_reason: str = "stop") -> QualityScore:
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    return await score_answer(messages, {"role": "assistant", "content": answer}, finish_reason, None,
                              "conversation", CONFIG)


def signal_of(result: QualityScore, name: str) -> Any:
    return next(s for s in result.signals if s.name == name)


def test_repetition_is_measured_by_repeated_lines_and_word_runs() -> None:
    focused, rambling = prose.features(QUESTION, FOCUSED), prose.features(QUESTION, RAMBLING)

    assert rambling["repeated_lines"] > 0.5 > focused["repeated_lines"]
    assert rambling["repeated_trigrams"] > 0.5 > 0.1 > focused["repeated_trigrams"]


def test_structure_and_specifics_are_counted() -> None:
    found = prose.features(QUESTION, FOCUSED)

    assert found["list_items"] > 1.5  # five numbered items
    assert found["bold"] > 1.5
    assert found["numbers"] > 0
    assert prose.features(QUESTION, CURT)["list_items"] == 0


def test_a_count_the_question_asks_for_is_checked() -> None:
    asked = "List three fruits that are high in vitamin C."
    three = "- Oranges\n- Kiwis\n- Strawberries"
    seven = "\n".join(f"- fruit {i}" for i in range(7))

    assert prose.features(asked, three)["count_miss"] == 0
    assert prose.features(asked, seven)["count_miss"] > 0.5


def test_an_answer_in_another_script_than_the_question_is_flagged() -> None:
    assert prose.features("请用中文解释什么是机器学习。", "Machine learning is a field of AI.")["language_mismatch"] == 1
    assert prose.features("请用中文解释什么是机器学习。", "机器学习是人工智能的一个分支。")["language_mismatch"] == 0
    assert prose.features("Translate into Russian: good morning", "Доброе утро")["language_mismatch"] == 0


def test_a_sentence_left_hanging_is_cut_off() -> None:
    finished = "Photosynthesis turns light into chemical energy. " * 6
    hanging = finished + "The second stage, called the Calvin cycle, takes the carbon dioxide and"

    assert prose.features("Explain photosynthesis.", finished)["cut_off"] == 0
    assert prose.features("Explain photosynthesis.", hanging)["cut_off"] == 1
    assert prose.features("Explain photosynthesis.", finished, "length")["cut_off"] == 1


def test_the_model_ranks_a_focused_answer_above_a_rambling_one_and_a_curt_one() -> None:
    focused, rambling, curt = (prose.judge(QUESTION, text, "stop") for text in (FOCUSED, RAMBLING, CURT))

    assert focused.value > rambling.value
    assert focused.value > curt.value
    assert -1 <= min(rambling.value, curt.value) and focused.value <= 1
    assert "GPT-4" in focused.detail


def test_an_answer_in_the_wrong_language_loses() -> None:
    question = "Какие планеты входят в Солнечную систему?"
    russian = "Меркурий, Венера, Земля, Марс, Юпитер, Сатурн, Уран и Нептун — восемь планет Солнечной системы."
    english = "Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus and Neptune are the eight planets of the Solar."

    assert prose.judge(question, russian, "stop").logit > prose.judge(question, english, "stop").logit


@pytest.mark.asyncio
async def test_a_focused_answer_outscores_a_rambling_repeated_one() -> None:
    focused, rambling = await score(FOCUSED), await score(RAMBLING)

    assert focused.score > rambling.score + 1
    assert signal_of(rambling, "prose").passed is False


@pytest.mark.asyncio
async def test_a_helpful_answer_outscores_a_curt_one() -> None:
    assert (await score(FOCUSED)).score > (await score(CURT)).score + 1


@pytest.mark.asyncio
async def test_prose_steps_aside_for_code_and_maths_tasks() -> None:
    code = await score("```python\ndef f():\n    return 1\n```", "Fix this:\n```python\ndef f(): return 2\n```")
    sums = await score("4 * 12 = 48, so 48 - 9 = 39.\nThe answer is 39.",
                       "Maria has 4 packs of 12 pencils and gives away 9. How many pencils are left?")

    assert signal_of(code, "prose").passed is None and "coding task" in signal_of(code, "prose").detail
    assert signal_of(sums, "prose").passed is None and "maths" in signal_of(sums, "prose").detail


def test_the_shipped_model_beats_answer_length_on_held_out_instructions() -> None:
    held_out = json.loads(prose.WEIGHTS_FILE.read_text())["held_out"]
    figures = {f["name"]: f for f in held_out["figures"]}

    assert held_out["instructions"] > 150
    assert figures["model"]["pairwise_accuracy"] >= 0.65
    assert figures["model"]["pairwise_accuracy"] > figures["length"]["pairwise_accuracy"]
    assert figures["model"]["spearman"] > figures["length"]["spearman"]


def test_judging_an_answer_is_cheap() -> None:
    long_answer = FOCUSED * 4
    prose.judge(QUESTION, long_answer, "stop")  # the model file is read once
    times = []
    for _ in range(30):
        started = time.perf_counter()
        prose.judge(QUESTION, long_answer, "stop")
        times.append(time.perf_counter() - started)

    # 1-2 ms here; the bound leaves room for a loaded CI machine.
    assert statistics.median(times) < 0.025
