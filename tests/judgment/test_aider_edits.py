"""aider's edits, judged against requests recorded from aider (tests/clients/aider-*.json).

Each test takes a real prompt with the files it carries and answers it with an edit that
applies, or a broken twin of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment.aider_edits import edit_verdict
from proxy.judgment.quality import QualityScore, score_answer

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
TYPO = '    print(f"Helo, {name}!")'
FIXED = '    print(f"Hello, {name}!")'
GREET_LINES = ["def greet(name):", '    """Say hello."""', TYPO, "", "",
               'if __name__ == "__main__":', '    greet("world")']  # greet.py as the fixtures carry it


def recorded(name: str) -> dict[str, Any]:
    """One recorded request body, read afresh so a test can append turns to it."""
    return json.loads((CLIENTS / f"{name}.json").read_text())["body"]


# edit: aider's diff format


def search_replace(path: str, search: str, replace: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```\n"


def aider(name: str) -> list[dict[str, Any]]:
    return recorded(name)["messages"]


def test_an_edit_that_applies_and_parses_earns_half_credit() -> None:
    verdict = edit_verdict(aider("aider-fix-typo-diff"), "Fix the typo:\n\n" + search_replace("greet.py", TYPO, FIXED))

    assert (verdict.value, verdict.detail, verdict.brief) == (0.5, "1 edit(s) apply and parse", "1/1 edits")


def test_a_search_text_that_is_not_in_the_file_fails() -> None:
    verdict = edit_verdict(aider("aider-fix-typo-diff"), search_replace("greet.py", '    print("Helo")', FIXED))

    assert (verdict.value, verdict.detail) == (-1.0, "edit 1 to greet.py: the SEARCH text is not in the file")


def test_a_search_text_off_by_one_indent_applies_as_aider_allows() -> None:
    answer = search_replace("greet.py", TYPO.strip(), FIXED.strip())

    assert edit_verdict(aider("aider-fix-typo-diff"), answer).value == 0.5


def test_a_search_with_lines_indented_unevenly_does_not_apply() -> None:
    answer = search_replace("greet.py", 'def greet(name):\n"""Say hello."""', 'def greet(name):\n"""Say hi."""')

    assert edit_verdict(aider("aider-fix-typo-diff"), answer).value == -1.0


def test_an_edit_whose_result_no_longer_parses_fails() -> None:
    verdict = edit_verdict(aider("aider-fix-typo-diff"), search_replace("greet.py", TYPO, FIXED[:-1]))

    assert verdict.value == -1.0
    assert verdict.detail.startswith("edit 1 to greet.py: the result does not parse as python: '(' was never closed")


def test_two_edits_that_apply_in_turn_earn_more_credit() -> None:
    answer = (search_replace("parse.py", "def parse(text):", "def parse(text: str) -> dict:")
              + search_replace("parse.py", "def parse(text: str) -> dict:\n    result = []",
                               "def parse(text: str) -> dict:\n    result: list = []"))

    assert edit_verdict(aider("aider-refactor-diff"), answer).value == 0.75


def test_a_later_failing_edit_is_named_and_weighed() -> None:
    answer = (search_replace("parse.py", "def parse(text):", "def parse(text: str) -> dict:")
              + search_replace("parse.py", "    for raw in text.splitlines():", "    for raw in text.split():"))

    verdict = edit_verdict(aider("aider-refactor-diff"), answer)

    assert (verdict.value, verdict.brief) == (-0.75, "1/2 edits")
    assert verdict.detail == "edit 2 to parse.py: the SEARCH text is not in the file"


def test_a_second_block_may_leave_out_the_path_as_aider_allows() -> None:
    answer = search_replace("greet.py", TYPO, FIXED) + "```python\n<<<<<<< SEARCH\n    greet(\"world\")\n=======\n" \
        "    greet(\"you\")\n>>>>>>> REPLACE\n```\n"

    assert edit_verdict(aider("aider-fix-typo-diff"), answer).value == 0.75


def test_an_empty_search_makes_a_new_file_whose_content_must_parse() -> None:
    good = search_replace("test_greet.py", "", "from greet import greet\n\ndef test_greet():\n    greet('x')")
    bad = search_replace("test_greet.py", "", "def test_greet(:\n    pass")

    assert edit_verdict(aider("aider-fix-typo-diff"), good).value == 0.5
    assert edit_verdict(aider("aider-fix-typo-diff"), bad).detail.startswith(
        "edit 1 to test_greet.py: the new content does not parse as python")


def test_an_edit_to_a_file_the_prompt_does_not_carry_is_not_counted() -> None:
    # mathweb/flask/app.py is only in aider's worked example, not a file the user added.
    other = search_replace("mathweb/flask/app.py", "from flask import Flask", "import math\nfrom flask import Flask")

    assert edit_verdict(aider("aider-fix-typo-diff"), other).value is None
    verdict = edit_verdict(aider("aider-fix-typo-diff"), search_replace("greet.py", TYPO, FIXED) + other)
    assert (verdict.value, verdict.detail) == (0.5, "1 edit(s) apply and parse; 1 not checked")


def test_a_search_that_elides_code_with_dots_is_not_counted() -> None:
    answer = search_replace("greet.py", "def greet(name):\n    ...\n    print(name)", "def greet(name):\n    pass")

    assert edit_verdict(aider("aider-fix-typo-diff"), answer).value is None


def test_a_block_cut_off_before_its_replace_marker_fails() -> None:
    answer = f"greet.py\n```python\n<<<<<<< SEARCH\n{TYPO}\n=======\n{FIXED}\n"

    verdict = edit_verdict(aider("aider-fix-typo-diff"), answer)

    assert (verdict.value, verdict.detail) == (-1.0, "edit 1 to greet.py: the block is not closed by >>>>>>> REPLACE")


def test_a_file_that_did_not_parse_before_is_not_blamed_on_the_edit() -> None:
    messages = aider("aider-fix-typo-diff")
    messages[-3]["content"] = messages[-3]["content"].replace('    greet("world")', '    greet("world"')

    assert edit_verdict(messages, search_replace("greet.py", TYPO, FIXED)).value == 0.5




def test_an_answer_without_edit_blocks_does_not_apply() -> None:
    assert edit_verdict(aider("aider-fix-typo-diff"), "The typo is on line 3: 'Helo' should be 'Hello'.").value is None


# edit: aider's whole format


def listing(path: str, content: str) -> str:
    return f"Here is the fixed file:\n\n{path}\n```\n{content}\n```\n"


def test_a_whole_file_listing_that_parses_passes() -> None:
    fixed = "\n".join(GREET_LINES).replace("Helo", "Hello")

    assert edit_verdict(aider("aider-fix-typo-whole"), listing("greet.py", fixed)).value == 0.5


def test_a_whole_file_listing_that_does_not_parse_fails() -> None:
    broken = "def greet(name):\n    print(f'Hello, {name}!'"

    verdict = edit_verdict(aider("aider-fix-typo-whole"), listing("greet.py", broken))

    assert verdict.value == -1.0
    assert verdict.detail.startswith("edit 1 to greet.py: the new content does not parse as python")


def test_a_file_listing_in_a_diff_format_chat_is_not_an_edit() -> None:
    assert edit_verdict(aider("aider-fix-typo-diff"), listing("greet.py", "def greet(:")).value is None


def test_an_explanation_with_a_snippet_is_not_an_edit() -> None:
    answer = "greet.py defines one function:\n\n```python\ndef greet(name):\n```\n\nIt prints a greeting."

    assert edit_verdict(aider("aider-explain-whole"), answer).value is None


# the scorer


@pytest.mark.asyncio
async def test_an_edit_that_does_not_apply_costs_the_answer_its_place() -> None:
    messages = aider("aider-fix-typo-diff")
    config = QualityConfig(run_code=False)

    async def score(answer: str) -> QualityScore:
        return await score_answer(messages, {"role": "assistant", "content": answer}, "stop", None,
                                  "code_generation", config)

    applies = await score("Fix the typo:\n\n" + search_replace("greet.py", TYPO, FIXED))
    misses = await score("Fix the typo:\n\n" + search_replace("greet.py", '    print("Helo")', FIXED))

    assert applies.score > misses.score + 3
    assert "edit failed (0/1 edits)" in misses.explain()
