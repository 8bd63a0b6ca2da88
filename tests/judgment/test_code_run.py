"""The scorer's code_run signal: examples in the prompt or the answer, run against the answer's code in the sandbox."""

from __future__ import annotations

import asyncio

import pytest

from proxy.config_schema import QualityConfig
from tests.judgment.scoring import (
    RIGHT_TRUNCATE,
    TRUNCATE_TASK,
    WRONG_TRUNCATE,
    ask,
    needs_sandbox,
    reply,
    score,
    signal,
)


@needs_sandbox
@pytest.mark.asyncio
async def test_code_meeting_the_prompts_doctests_passes() -> None:
    result = await score(ask(TRUNCATE_TASK), reply(RIGHT_TRUNCATE))

    run = signal(result, "code_run")
    assert run.passed is True
    assert run.detail == "2/2 examples pass"
    assert result.score >= 8.0


@needs_sandbox
@pytest.mark.asyncio
async def test_code_failing_the_prompts_doctests_fails() -> None:
    result = await score(ask(TRUNCATE_TASK), reply(WRONG_TRUNCATE))

    run = signal(result, "code_run")
    assert run.passed is False
    assert run.detail.startswith("0/2 examples pass; >>> truncate_number(3.5): got 35, expected 0.5")
    assert result.score < 3.0
    assert "code_run failed (0/2 examples)" in result.explain()


@needs_sandbox
@pytest.mark.asyncio
async def test_the_answers_own_asserts_are_run() -> None:
    answer = reply('''```python
def is_palindrome(text: str) -> bool:
    cleaned = [c.lower() for c in text if c.isalnum()]
    return cleaned == cleaned[::-1]

assert is_palindrome("A man, a plan, a canal: Panama")
assert not is_palindrome("hello")
assert is_palindrome("Hello")
```''')

    result = await score(ask("Write is_palindrome(text) that ignores case and punctuation."), answer)

    run = signal(result, "code_run")
    assert run.passed is False
    assert run.detail == "2/3 examples pass; assert is_palindrome('Hello'): raised AssertionError"


@needs_sandbox
@pytest.mark.asyncio
async def test_printed_results_with_a_stated_output_are_examples() -> None:
    answer = reply('''```python
def fizzbuzz(n):
    return "Fizz" * (n % 3 == 0) + "Buzz" * (n % 5 == 0) or str(n)

print(fizzbuzz(15))  # Output: FizzBuzz
print(fizzbuzz(9))   # Output: 'Fizz'
```''')

    result = await score(ask("Write fizzbuzz(n) returning the FizzBuzz word for n."), answer)

    # "FizzBuzz" unquoted is not a Python literal, so only the second line counts.
    assert signal(result, "code_run").detail == "1/1 examples pass"


@needs_sandbox
@pytest.mark.asyncio
async def test_leetcode_style_input_output_examples_are_run() -> None:
    task = ask('''Complete the function:

```python
def max_profit(prices: list[int]) -> int:
    """Best profit from one buy and one later sell.

    Example 1:
        Input: prices = [7,1,5,3,6,4]
        Output: 5
    Example 2:
        Input: prices = [7,6,4,3,1]
        Output: 0
    """
```''')
    greedy_wrong = reply("```python\ndef max_profit(prices):\n    return max(prices) - min(prices)\n```")

    result = await score(task, greedy_wrong)

    assert signal(result, "code_run").detail == (
        "0/2 examples pass; Input: prices = [7,1,5,3,6,4] Output: 5: got 6, expected 5"
    )


@needs_sandbox
@pytest.mark.asyncio
async def test_io_pairs_in_prose_are_examples() -> None:
    task = ask('''Write add(x, y) returning the sum.
Examples:
    add(2, 3) ==> 5
    add(-1, 1) ➞ 0''')
    answer = reply("```python\ndef add(x, y):\n    return x + y\n```")

    result = await score(task, answer)

    assert signal(result, "code_run").detail == "2/2 examples pass"


@pytest.mark.asyncio
async def test_an_answer_that_never_defines_the_function_fails_its_examples() -> None:
    answer = reply("```python\ndef decimal_part(x):\n    return x - int(x)\n```")

    result = await score(ask(TRUNCATE_TASK), answer)

    run = signal(result, "code_run")
    assert run.passed is False
    assert run.detail == "0/2 examples pass; the answer does not define truncate_number"


@needs_sandbox
@pytest.mark.asyncio
async def test_an_infinite_loop_fails_within_the_time_limit() -> None:
    answer = reply("```python\ndef truncate_number(number: float) -> float:\n    while True:\n        pass\n```")
    config = QualityConfig(sandbox_timeout_s=2)

    result = await asyncio.wait_for(score(ask(TRUNCATE_TASK), answer, config=config), timeout=10)

    assert signal(result, "code_run").passed is False


@pytest.mark.asyncio
async def test_code_run_is_skipped_and_says_so_when_running_code_is_off() -> None:
    result = await score(ask(TRUNCATE_TASK), reply(WRONG_TRUNCATE), config=QualityConfig(run_code=False))

    run = signal(result, "code_run")
    assert run.passed is None
    assert run.weight == 0.0
    assert run.detail == "running code is off (quality.run_code: false)"


@pytest.mark.asyncio
async def test_code_run_is_skipped_when_there_is_nothing_to_run() -> None:
    answer = reply("```python\ndef slugify(text):\n    return '-'.join(text.lower().split())\n```")

    result = await score(ask("Write slugify(text) for URLs."), answer)

    assert signal(result, "code_run").passed is None
    assert signal(result, "code_run").detail == "no examples to run in the task or the answer"


@needs_sandbox
@pytest.mark.asyncio
async def test_scoring_does_not_block_the_event_loop() -> None:
    answer = reply("```python\nimport time\ndef truncate_number(number: float) -> float:\n"
                   "    time.sleep(0.4)\n    return number % 1.0\n```")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    result = await score(ask(TRUNCATE_TASK), answer)
    ticker.cancel()

    assert signal(result, "code_run").passed is True
    assert ticks >= 30  # the loop kept turning through about 0.8 s of sandboxed work
