"""The quality scorer: each signal trips on a real bad answer and stays quiet on a good one.

The code_run signal has tests/judgment/test_code_run.py, the judge tests/judgment/test_judge_model.py.
"""

from __future__ import annotations

import json

import pytest

from proxy.judgment.quality import SIGNALS, WEIGHTS_FILE, QualityScore, Signal, load_weights, task_text
from tests.judgment.scoring import (
    AGENT_TURN,
    RIGHT_TRUNCATE,
    SYSTEM,
    TOOLS,
    TRUNCATE_TASK,
    WRONG_TRUNCATE,
    ask,
    needs_sandbox,
    reply,
    score,
    signal,
)

# empty


@pytest.mark.asyncio
async def test_empty_answer_fails_and_scores_near_zero() -> None:
    result = await score(ask("Write a function that reverses a string."), reply(""))

    assert signal(result, "empty").passed is False
    assert result.score < 1.0
    assert all(s.passed is None for s in result.signals if s.name != "empty")


@pytest.mark.asyncio
async def test_a_tool_call_with_no_text_is_not_empty() -> None:
    answer = reply("", ("read", '{"filePath": "src/app.py"}'))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=TOOLS, task_type="analysis")

    assert signal(result, "empty").passed is True


# too_short


@pytest.mark.asyncio
async def test_one_line_for_a_code_task_is_too_short() -> None:
    result = await score(ask("Write a Python function that merges two sorted lists."), reply("Use heapq."))

    assert signal(result, "too_short").passed is False
    assert "fewer than 40" in signal(result, "too_short").detail


@pytest.mark.asyncio
async def test_one_word_answers_a_quick_question() -> None:
    result = await score(ask("What is the capital of France?"), reply("Paris."), task_type="quick_qa")

    assert signal(result, "too_short").passed is True


# truncated


@pytest.mark.asyncio
async def test_an_answer_cut_at_the_token_limit_is_truncated() -> None:
    cut = (
        "To merge two sorted lists, walk both with two indices and append the smaller head each time:\n\n"
        "```python\ndef merge(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and"
    )

    result = await score(ask("Write a Python function that merges two sorted lists."), reply(cut),
                         finish_reason="length")

    assert signal(result, "truncated").passed is False
    assert "finish_reason=length" in signal(result, "truncated").detail
    assert "truncated" in result.explain()


@pytest.mark.asyncio
async def test_an_answer_that_stopped_is_not_truncated() -> None:
    answer = reply("Use slicing: `text[::-1]` returns the reversed string.")

    result = await score(ask("Reverse a string in Python?"), answer, task_type="quick_qa")

    assert signal(result, "truncated").passed is True


# refusal


@pytest.mark.asyncio
async def test_a_refusal_fails() -> None:
    answer = reply("I'm sorry, but I can't help with writing code that captures other people's keystrokes.")

    result = await score(ask("Write a Python keylogger that emails me what my coworkers type."), answer)

    assert signal(result, "refusal").passed is False
    assert signal(result, "refusal").weight < -2


@pytest.mark.asyncio
async def test_an_as_an_ai_opening_fails() -> None:
    answer = reply("As an AI language model, I do not have access to your files, but generally a config parser "
                   "reads each line and splits it on the first equals sign.")

    result = await score(ask("Why does my config parser drop the last line of settings.ini?"), answer,
                         task_type="debugging")

    assert signal(result, "refusal").passed is False


@pytest.mark.asyncio
async def test_hedging_fails_more_gently_than_a_refusal() -> None:
    task = ask("Is Python's dict ordered?")
    hedge = await score(task, reply("I'm not sure, but I think dicts keep insertion order in recent versions."),
                        task_type="quick_qa")
    refusal = await score(task, reply("I'm sorry, but I can't answer questions about Python."), task_type="quick_qa")

    assert signal(hedge, "refusal").passed is False
    assert "hedging" in hedge.explain()
    assert signal(refusal, "refusal").weight < signal(hedge, "refusal").weight < 0


@pytest.mark.asyncio
async def test_a_direct_answer_is_not_a_refusal() -> None:
    answer = reply("Yes. Since Python 3.7, dicts keep insertion order as part of the language specification.")

    result = await score(ask("Is Python's dict ordered?"), answer, task_type="quick_qa")

    assert signal(result, "refusal").passed is True


# repetition


@pytest.mark.asyncio
async def test_a_looping_answer_fails_repetition() -> None:
    loop = ("The function returns the sum of the numbers in the list.\n" * 9) + "The function returns the sum of"

    result = await score(ask("Explain what sum_list does."), reply(loop), task_type="analysis")

    assert signal(result, "repetition").passed is False


@pytest.mark.asyncio
async def test_a_token_loop_at_the_end_fails_repetition() -> None:
    loop = "The answer is the list [1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3"

    result = await score(ask("Which numbers are in the list?"), reply(loop), task_type="quick_qa")

    assert signal(result, "repetition").passed is False


@pytest.mark.asyncio
async def test_tests_with_similar_lines_are_not_repetition() -> None:
    answer = reply('''```python
def test_slugify():
    assert slugify("Hello World") == "hello-world"
    assert slugify("  spaces  ") == "spaces"
    assert slugify("Ünïcödé") == "unicode"
    assert slugify("a--b") == "a-b"
    assert slugify("") == ""
    assert slugify("CAPS") == "caps"
```''')

    result = await score(ask("Write pytest tests for slugify."), answer)

    assert signal(result, "repetition").passed is True


# code_parse


@pytest.mark.asyncio
async def test_a_python_block_that_does_not_parse_fails() -> None:
    answer = reply('''Here is the fix:

```python
def average(values):
    if not values
        return 0.0
    return sum(values) / len(values)
```''')

    result = await score(ask("Fix average() so it handles an empty list."), answer, task_type="debugging")

    parse = signal(result, "code_parse")
    assert parse.passed is False
    assert parse.detail == "python block 1 does not parse: expected ':' (line 2)"


@pytest.mark.asyncio
async def test_a_json_block_with_a_trailing_comma_fails() -> None:
    answer = reply('Use this `.eslintrc.json`:\n\n```json\n'
                   '{\n  "extends": "eslint:recommended",\n  "rules": {"semi": "error"},\n}\n```')

    result = await score(ask("Give me a minimal eslint config as JSON."), answer, task_type="data_processing")

    assert signal(result, "code_parse").passed is False
    assert signal(result, "code_parse").detail.startswith("json block 1 does not parse")


@pytest.mark.asyncio
async def test_valid_python_and_yaml_blocks_pass() -> None:
    answer = reply('''Add the job:

```yaml
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pytest -q
```

and a conftest:

```python
import pytest

@pytest.fixture
def client():
    return make_client()
```''')

    result = await score(ask("Set up CI that runs pytest on GitHub Actions."), answer)

    assert signal(result, "code_parse").passed is True
    assert signal(result, "code_parse").detail == "2 code block(s) parse"


@pytest.mark.asyncio
async def test_aider_edits_are_not_parsed_and_a_language_without_a_parser_has_its_brackets_checked() -> None:
    answer = reply('''src/lib.rs
```rust
fn main() { println!("hi") }
```

app.py
```python
<<<<<<< SEARCH
def greet(name)
=======
def greet(name):
>>>>>>> REPLACE
```''')

    result = await score(ask("Fix the greeting in both files."), answer, task_type="debugging")

    # The SEARCH/REPLACE edit is not a Python program (aider_edits judges it); the Rust block's brackets balance.
    assert signal(result, "code_parse").detail == "1 code block(s) parse (brackets balance; no parser here)"


# off_task


@pytest.mark.asyncio
async def test_an_answer_about_something_else_is_off_task() -> None:
    answer = reply("Bread needs flour, water, salt and yeast. Knead the dough for ten minutes, let it rise "
                   "until doubled, shape the loaf, and bake at 230 degrees until the crust sounds hollow.")

    result = await score(ask("How do I reverse a linked list in Python?"), answer, task_type="quick_qa")

    assert signal(result, "off_task").passed is False


@pytest.mark.asyncio
async def test_an_answer_on_the_topic_is_not_off_task() -> None:
    answer = reply("Walk the list once, pointing each node's next at the previous node: keep prev, current and "
                   "next pointers, and when current is None, prev is the new head of the reversed list.")

    result = await score(ask("How do I reverse a linked list in Python?"), answer, task_type="quick_qa")

    assert signal(result, "off_task").passed is True


# the whole score


@needs_sandbox
@pytest.mark.asyncio
async def test_a_right_answer_outscores_a_wrong_one() -> None:
    right = await score(ask(TRUNCATE_TASK), reply(RIGHT_TRUNCATE))
    wrong = await score(ask(TRUNCATE_TASK), reply(WRONG_TRUNCATE))

    assert right.score > wrong.score + 4


@pytest.mark.asyncio
async def test_every_signal_is_recorded_in_order() -> None:
    result = await score(ask("What is a tuple?"), reply("An immutable sequence, e.g. (1, 2)."), task_type="quick_qa")

    assert tuple(s.name for s in result.signals) == SIGNALS
    assert 0.0 <= result.score <= 10.0
    assert result.score == round(result.score, 1)


def test_explain_lists_what_pulled_the_score_down() -> None:
    result = QualityScore(4.2, (
        Signal("truncated", False, -2.1, "the model stopped at its token limit (finish_reason=length)"),
        Signal("code_run", False, -3.0, "2/3 examples pass; ...", "2/3 examples"),
        Signal("code_parse", None, 0.0, "no fenced code"),
    ))

    assert result.explain() == "4.2: code_run failed (2/3 examples), truncated"


def test_the_task_is_the_latest_user_message() -> None:
    messages = [
        SYSTEM,
        {"role": "user", "content": [{"type": "text", "text": "Read app.py"}, {"type": "text", "text": "then fix it"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function",
                                                              "function": {"name": "read", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "1", "content": "print('hi')"},
    ]

    assert task_text(messages) == "Read app.py\nthen fix it"


def test_weights_cover_every_signal_and_never_reward_a_failure() -> None:
    weights = load_weights()

    assert set(weights.on_fail) == set(SIGNALS)
    assert all(value >= 0 for value in [*weights.on_pass.values(), *weights.on_fail.values()])


def test_shipped_weights_were_calibrated_with_honest_held_out_figures() -> None:
    calibration = json.loads(WEIGHTS_FILE.read_text())["calibration"]

    assert calibration["held_out_items"] > 100
    assert calibration["held_out"]["code"]["auroc"] >= 0.8
