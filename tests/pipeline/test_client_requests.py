"""Requests recorded from aider, OpenCode and Continue classify by what the user typed.

Each fixture in tests/clients/ is one request body as the client sent it (see its
"command"). The wrappers around the ask must not decide the rule: aider's reminder
says "format" (a cheap keyword), OpenCode's plan-mode reminder says "analyze" (a
smart one), and an attached file can say anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.config import load_config
from proxy.pipeline.classify import Classifier, latest_user_text
from tests.conftest import REPO

CLIENTS = Path(__file__).resolve().parents[1] / "clients"

# fixture name -> (what the user typed, the rule that must win)
EXPECTED = {
    "aider-fix-typo-whole": ("fix the typo in greet.py", "cheap"),
    "aider-fix-typo-diff": ("fix the typo in greet.py", "cheap"),
    "aider-refactor-whole": ("refactor the parser in parse.py into smaller functions", "smart"),
    "aider-refactor-diff": ("refactor the parser in parse.py into smaller functions", "smart"),
    "aider-explain-whole": ("explain what greet.py does", "default"),
    "opencode-fix-typo": ("fix the typo in greet.py", "cheap"),
    "opencode-fix-typo-title": ("fix the typo in greet.py", "cheap"),
    "opencode-fix-typo-plan": ("fix the typo in greet.py", "cheap"),
    "opencode-fix-typo-attached-file": ("fix the typo in greet.py", "cheap"),
    "opencode-refactor-plan": ("refactor the parser in parse.py into smaller functions", "smart"),
    "opencode-refactor-attached-file": ("refactor the parser in parse.py into smaller functions", "smart"),
    "continue-fix-typo": ("fix the typo in greet.py", "cheap"),
    "continue-fix-typo-readonly": ("fix the typo in greet.py", "cheap"),
    "continue-refactor": ("refactor the parser in parse.py into smaller functions", "smart"),
}


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_config(REPO, {}).routing.classification)


@pytest.fixture(scope="module")
def shipped_rules() -> dict[str, Any]:
    rules = load_config(REPO, {}).routing.classification.rules
    return {rule.name: rule for rule in rules}


def recorded(name: str) -> list[dict[str, Any]]:
    return json.loads((CLIENTS / f"{name}.json").read_text())["body"]["messages"]


def test_every_fixture_is_expected() -> None:
    assert sorted(p.stem for p in CLIENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_only_the_users_words_are_classified(name: str) -> None:
    assert latest_user_text(recorded(name)) == EXPECTED[name][0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_rule_follows_the_users_words(classifier: Classifier, shipped_rules: dict[str, Any],
                                          name: str) -> None:
    rule = EXPECTED[name][1]
    result = classifier.classify(recorded(name))
    assert result.rule == rule
    if rule != "default":
        assert (result.task_type, result.tier) == (shipped_rules[rule].task_type, shipped_rules[rule].tier)


@pytest.mark.parametrize(
    ("name", "keyword"),
    [
        pytest.param("aider-explain-whole", "format", id="aider-reminder-says-format"),
        pytest.param("aider-refactor-diff", "format", id="aider-diff-reminder-says-format"),
        pytest.param("opencode-fix-typo-plan", "analyze", id="opencode-plan-reminder-says-analyze"),
    ],
)
def test_the_wrapper_would_have_matched(name: str, keyword: str) -> None:
    """Guards the fixtures: the raw last user message does carry the misleading keyword."""
    last_user = next(m for m in reversed(recorded(name)) if m["role"] == "user")
    raw = json.dumps(last_user["content"])
    assert keyword in raw.lower() and keyword not in latest_user_text(recorded(name))
