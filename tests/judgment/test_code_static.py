"""Reading an answer's Python without running it: the faults a glance finds, and none where there are none."""

from __future__ import annotations

import asyncio

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment.code_static import static_verdict
from proxy.judgment.quality import score_answer

TASK = '''Complete the following Python function.

```python
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    """Split the string into its balanced groups of parentheses."""
```'''
RIGHT = '''```python
def separate_paren_groups(paren_string: str) -> List[str]:
    groups, depth, current = [], 0, []
    for char in paren_string:
        if char in "()":
            current.append(char)
            depth += 1 if char == "(" else -1
            if depth == 0:
                groups.append("".join(current))
                current = []
    return groups
```'''


def fenced(code: str) -> str:
    return f"Here it is:\n\n```python\n{code}\n```"


def test_a_whole_answer_reads_whole() -> None:
    verdict = static_verdict(TASK, RIGHT)

    assert verdict.value == 1.0, verdict.detail


@pytest.mark.parametrize(("code", "says"), [
    pytest.param("def separate_paren_groups(paren_string: str) -> List[str]:\n"
                 "    return list(map(lambda x: x + ')', parenter_string))",
                 "reads parenter_string, which nothing defines", id="a-misspelt-name"),
    pytest.param("def separate_paren_groups(paren_string: str) -> List[str]:\n    groups = paren_string.split(')')",
                 "is declared to return List[str] but never returns a value", id="no-return"),
    pytest.param("def separate_paren_groups(paren_string: str) -> List[str]:\n    return None",
                 "body is only a placeholder", id="returns-none"),
    pytest.param('def separate_paren_groups(paren_string: str) -> List[str]:\n    """Later."""\n    pass',
                 "body is only a placeholder", id="pass"),
    pytest.param("def separate_paren_groups(paren_string: str) -> List[str]:\n    return ['()']",
                 "never reads its parameter paren_string", id="input-ignored"),
    pytest.param("def split_groups(text: str) -> list:\n    return text.split(')')",
                 "does not define separate_paren_groups, which the task asks for", id="another-name"),
])
def test_a_fault_is_named(code: str, says: str) -> None:
    verdict = static_verdict(TASK, fenced(code))

    assert verdict.value is not None and verdict.value < 0
    assert says in verdict.detail


@pytest.mark.parametrize("code", [
    pytest.param("import re\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n"
                 "    return re.findall(r'\\(\\)', paren_string)", id="an-import"),
    pytest.param("LIMIT = 10\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n"
                 "    def inner(part):\n        return part[:LIMIT]\n"
                 "    return [inner(p) for p in paren_string.split(' ') if p]", id="a-global-a-closure-a-comprehension"),
    pytest.param("from itertools import *\n\ndef separate_paren_groups(paren_string: str) -> List[str]:\n"
                 "    return list(accumulate(paren_string))", id="a-star-import-may-bring-anything"),
    pytest.param("def separate_paren_groups(paren_string: str, *args, _cache=None) -> List[str]:\n"
                 "    try:\n        return paren_string.split()\n    except ValueError as error:\n        raise error",
                 id="args-underscored-and-except-as"),
    pytest.param("def separate_paren_groups(paren_string: str) -> List[str]:\n"
                 "    raise NotImplementedError('not for strings with spaces') if ' ' in paren_string else None\n"
                 "    yield from paren_string", id="a-generator"),
])
def test_code_that_is_whole_reads_whole(code: str) -> None:
    verdict = static_verdict(TASK, fenced(code))

    assert verdict.value == 1.0, verdict.detail


def test_a_helper_the_task_already_has_counts_as_defined() -> None:
    task = TASK.replace("from typing import List\n", "from typing import List\n\n\ndef balanced(s):\n    return True\n")
    code = "def separate_paren_groups(paren_string: str) -> List[str]:\n    return [g for g in paren_string if balanced(g)]"

    assert static_verdict(task, fenced(code)).value == 1.0


def test_a_name_the_task_mentions_is_the_askers() -> None:
    task = TASK.replace("Complete the following Python function.", "Complete it; log each group with our `audit` logger.")
    code = ("def separate_paren_groups(paren_string: str) -> List[str]:\n"
            "    audit.info(paren_string)\n    return paren_string.split()")

    assert static_verdict(task, fenced(code)).value == 1.0
    assert static_verdict(TASK, fenced(code)).value == -1.0  # unmentioned, `audit` is the answer's invention


def test_an_import_left_out_is_a_lesser_fault_than_a_misspelt_name() -> None:
    unimported = "def separate_paren_groups(paren_string: str) -> List[str]:\n    return re.findall(r'[()]+', paren_string)"
    misspelt = "def separate_paren_groups(paren_string: str) -> List[str]:\n    return rx.findall(r'[()]+', paren_string)"

    left_out, invented = static_verdict(TASK, fenced(unimported)), static_verdict(TASK, fenced(misspelt))
    assert left_out.value == -0.5 and "uses re without importing it" in left_out.detail
    assert invented.value == -1.0


def test_the_answers_own_functions_may_ignore_inputs_and_leave_stubs() -> None:
    # A handler must take what it is given; an interface leaves methods to its subclasses.
    task = "Write an AWS Lambda handler that returns ok, and a base class for storage backends."
    code = ("def lambda_handler(event, context):\n    return {'ok': True}\n\n"
            "def save(key: str, value: bytes) -> None:\n    pass")

    assert static_verdict(task, fenced(code)).value == 1.0


def test_a_helper_an_earlier_answer_wrote_counts_as_defined() -> None:
    earlier = "Here is parse_config:\n```python\ndef parse_config(path):\n    return {}\n```"
    code = "def check(path: str) -> bool:\n    return bool(parse_config(path))"

    assert static_verdict("Now check a config.", fenced(code), earlier).value == 1.0
    assert static_verdict("Now check a config.", fenced(code)).value == -1.0


def test_no_python_no_verdict() -> None:
    assert static_verdict(TASK, "Split on the closing parenthesis.").value is None


def test_without_examples_or_a_sandbox_a_hollow_answer_scores_below_a_whole_one() -> None:
    # The case code_static is for: nothing to run, so before it both scored the same.
    def score(answer: str) -> float:
        found = asyncio.run(score_answer([{"role": "user", "content": TASK}], {"role": "assistant", "content": answer},
                                         "stop", None, "code_generation", QualityConfig(run_code=False)))
        return found.score

    hollow = fenced("def separate_paren_groups(paren_string: str) -> List[str]:\n    return parenter_string.split()")
    assert score(hollow) < score(RIGHT) - 3


def test_a_snippet_explaining_something_is_not_read_as_a_program() -> None:
    # "df" is the asker's own: in an explanation, code leans on names the reader has.
    found = asyncio.run(score_answer(
        [{"role": "user", "content": "How do I average a pandas column?"}],
        {"role": "assistant", "content": "Use mean:\n\n```python\ndef average(df):\n    return frame.mean()\n```"},
        "stop", None, "conversation", QualityConfig(run_code=False)))

    static = next(s for s in found.signals if s.name == "code_static")
    assert static.passed is None and static.detail == "not a coding task"
