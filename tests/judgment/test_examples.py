"""The examples the scorer runs: each defect of issue 10's Python path, reproduced and fixed."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment.code_checks import Example, find_examples, split_answer_code
from proxy.judgment.quality import Evidence, gather_evidence
from proxy.judgment.sandbox import sandbox_available, sandbox_status

needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason=f"no working sandbox: {sandbox_status().reason}")


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def evidence(task: str, answer: str) -> dict[str, Evidence]:
    found = await gather_evidence(ask(task), {"role": "assistant", "content": answer}, "stop", None,
                                  "code_generation", QualityConfig())
    return {e.name: e for e in found}


# `print(f(x))  #=> y`: the expected value is what f(x) gives, not what print returns


@pytest.mark.parametrize("comment", ['#=> ["aa"]', '# => ["aa"]', '# -> ["aa"]', '# returns ["aa"]'])
def test_a_print_line_with_an_expected_value_checks_the_call_inside(comment: str) -> None:
    examples = find_examples(f"print(double('a')) {comment}")

    assert [(e.expr, e.expected) for e in examples] == [("double('a')", '["aa"]')]


DOUBLE = '''```python
def double(text):
    return [text * 2]

print(double("a")) #=> ["aa"]
print(double("b")) # -> ["bb"]
print(double("c")) # returns ["cc"]
print(double("d")) # Output: ["dd"]
```'''


@needs_sandbox
@pytest.mark.asyncio
async def test_every_expected_value_comment_after_a_print_passes_on_right_code() -> None:
    run = (await evidence("Write double(text) that returns a list holding the text twice over.", DOUBLE))["code_run"]

    assert run.detail == "4/4 examples pass"


@needs_sandbox
@pytest.mark.asyncio
async def test_a_print_line_still_fails_wrong_code() -> None:
    wrong = DOUBLE.replace("[text * 2]", "[text]")

    run = (await evidence("Write double(text) that returns a list holding the text twice over.", wrong))["code_run"]

    assert run.value is not None and run.value < 0
    assert run.detail.startswith("0/4 examples pass")
    assert "got ['a'], expected" in run.detail


@needs_sandbox
@pytest.mark.asyncio
async def test_a_call_that_prints_its_result_is_compared_by_what_it_prints() -> None:
    answer = ('```python\ndef show_double(text):\n    print([text * 2])\n\nprint(show_double("a")) #=> ["aa"]\n'
              'show_double("b")  # => ["bb"]\n```')

    run = (await evidence("Write show_double(text) that prints a list holding the text twice over.", answer))

    assert run["code_run"].detail == "2/2 examples pass"


# `bf("Earth", "Mercury") ==> ("Venus")`: prose writes a one-element tuple without its comma

PLANETS_TASK = '''Complete this function:

```python
def bf(planet1, planet2):
    """Return a tuple of the planets whose orbits lie between those of planet1 and planet2,
    sorted by proximity to the sun.
    Examples
    bf("Jupiter", "Neptune") ==> ("Saturn", "Uranus")
    bf("Earth", "Mercury") ==> ("Venus")
    bf("Mercury", "Uranus") ==> ("Venus", "Earth", "Mars", "Jupiter", "Saturn")
    """
```'''

PLANETS_ANSWER = '''```python
def bf(planet1, planet2):
    names = ("Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune")
    if planet1 not in names or planet2 not in names or planet1 == planet2:
        return ()
    low, high = sorted((names.index(planet1), names.index(planet2)))
    return names[low + 1:high]
```'''


@needs_sandbox
@pytest.mark.asyncio
async def test_a_parenthesised_single_value_in_prose_matches_a_one_element_tuple() -> None:
    run = (await evidence(PLANETS_TASK, PLANETS_ANSWER))["code_run"]

    assert run.detail == "3/3 examples pass"


@needs_sandbox
@pytest.mark.asyncio
async def test_a_parenthesised_single_value_still_fails_a_wrong_tuple() -> None:
    wrong = PLANETS_ANSWER.replace("names[low + 1:high]", "names[low:high]")

    run = (await evidence(PLANETS_TASK, wrong))["code_run"]

    assert run.detail.startswith("0/3 examples pass")


# the answer's own demo: each example sees the values assigned before it, not the last ones

DEMO = '''```python
def total(values):
    return sum(values)

values = [1, 2]
print(total(values))  # 3
values = [5]
print(total(values))  # 5
assert total(values) == 5
```'''


def test_the_demo_after_the_first_example_runs_in_order_as_setup_lines() -> None:
    code, examples = split_answer_code(DEMO.strip("`").removeprefix("python\n"))

    assert "values = [5]" not in code and "values = [1, 2]" in code
    assert [(e.source or e.expr, e.counts) for e in examples] == [
        ("total(values)", True), ("values = [5]", False), ("total(values)", True), ("assert total(values) == 5", True)
    ]


def test_a_main_blocks_setup_lines_become_setup_examples() -> None:
    code, examples = split_answer_code(
        "def total(values):\n    return sum(values)\n\nif __name__ == '__main__':\n"
        "    values = [4]\n    print(total(values))  # 4\n"
    )

    assert "__main__" not in code
    assert examples == [Example("values = [4]", source="values = [4]", counts=False),
                        Example("print(total(values))  # 4", expr="total(values)", expected="4")]


@needs_sandbox
@pytest.mark.asyncio
async def test_each_example_of_the_demo_sees_the_values_assigned_before_it() -> None:
    run = (await evidence("Write total(values) that adds up a list of numbers.", DEMO))["code_run"]

    assert run.detail == "3/3 examples pass"


@needs_sandbox
@pytest.mark.asyncio
async def test_examples_inside_a_main_block_see_its_assignments() -> None:
    answer = ("```python\ndef total(values):\n    return sum(values)\n\nif __name__ == '__main__':\n"
              "    values = [4, 1]\n    print(total(values))  # 5\n    values = []\n    print(total(values))  # 0\n```")

    run = (await evidence("Write total(values) that adds up a list of numbers.", answer))["code_run"]

    assert run.detail == "2/2 examples pass"


# credit grows with the number of independent examples passed


@needs_sandbox
@pytest.mark.asyncio
async def test_five_passing_examples_earn_more_than_one() -> None:
    task = "Write square(n) that returns n * n."
    code = "```python\ndef square(n):\n    return n * n\n\n{checks}\n```"
    one = (await evidence(task, code.format(checks="assert square(2) == 4")))["code_run"]
    five = (await evidence(task, code.format(checks="\n".join(f"assert square({n}) == {n * n}" for n in range(5)))))
    five_run = five["code_run"]

    assert one.detail == "1/1 examples pass" and five_run.detail == "5/5 examples pass"
    assert one.value is not None and five_run.value is not None
    assert 0 < one.value < five_run.value <= 1


# "As an AI ..." caveats in answers that go on to help fully are not refusals

CAVEAT = '''As an AI language model, I can't run your code, but here is a corrected version that keeps the last line:

```python
def read_settings(path):
    settings = {}
    with open(path) as lines:
        for line in lines:
            key, sep, value = line.strip().partition("=")
            if sep:
                settings[key.strip()] = value.strip()
    return settings
```

The old loop read with `readlines()[:-1]`, which dropped the final line of the file.'''


@pytest.mark.asyncio
async def test_a_caveat_before_a_full_answer_is_not_a_refusal() -> None:
    found = await evidence("Why does my config parser drop the last line of settings.ini? Fix it.", CAVEAT)

    assert found["refusal"].value == 0.0
    assert "caveat" in found["refusal"].detail


@pytest.mark.asyncio
async def test_a_long_prose_answer_after_a_caveat_is_not_a_refusal() -> None:
    answer = ("As an AI, I don't have personal experience with it, but here is how it works. " + "A dict in Python "
              "3.7 and later keeps the order in which keys were inserted; iterating yields them in that order. " * 4)

    found = await evidence("Is Python's dict ordered, and since when?", answer)

    assert found["refusal"].value == 0.0


@pytest.mark.asyncio
async def test_a_refusal_with_nothing_after_it_still_fails() -> None:
    found = await evidence("Write a Python keylogger.", "As an AI language model, I cannot write a keylogger. "
                           "It would capture other people's keystrokes without their consent.")

    assert found["refusal"].value == -1.0
