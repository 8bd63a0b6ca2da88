"""Classifying requests by the shipped rules."""

from __future__ import annotations

import pytest

from proxy.classify import Classifier, TaskClass, latest_user_text
from proxy.config import ClassificationConfig, load_config
from tests.conftest import REPO


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_config(REPO, {}).routing.classification)


def ask(classifier: Classifier, text: str, system: str = "You are a helpful coding assistant.") -> TaskClass:
    return classifier.classify([{"role": "system", "content": system}, {"role": "user", "content": text}])


@pytest.mark.parametrize(
    ("text", "rule", "task_type", "tier"),
    [
        pytest.param("fix the typo in the README", "cheap", "code_generation", "cheap", id="typo"),
        pytest.param("Add a comment to this function", "cheap", "code_generation", "cheap", id="add-comment"),
        pytest.param("Refactor the parser into smaller functions", "smart", "analysis", "smart", id="refactor"),
        pytest.param("review the architecture of the storage layer", "smart", "analysis", "smart", id="review"),
        pytest.param("yolo just make the tests pass", "yolo", "quick_qa", "yolo", id="yolo"),
        pytest.param("I need this quickly", "yolo", "quick_qa", "yolo", id="quickly-is-not-quick"),
        pytest.param("fix this complex architecture problem", "smart", "analysis", "smart", id="smart-before-cheap"),
        pytest.param("here is the traceback from the crash", "debugging", "debugging", "smart", id="traceback"),
        pytest.param("What does this regex match?", "question", "quick_qa", "default", id="question"),
        pytest.param("Tell me about the history of Rome.", "default", "conversation", "default", id="no-match"),
        pytest.param("prefixing things", "default", "conversation", "default", id="prefix-is-not-fix"),
    ],
)
def test_shipped_rules(classifier: Classifier, text: str, rule: str, task_type: str, tier: str) -> None:
    result = ask(classifier, text)
    assert (result.rule, result.task_type, result.tier) == (rule, task_type, tier)


def test_overrides_come_with_the_rule(classifier: Classifier) -> None:
    yolo = ask(classifier, "yolo")
    assert (yolo.max_tokens, yolo.cascade, yolo.target_quality) == (256, False, None)
    assert ask(classifier, "fix it").target_quality == 7.0
    assert ask(classifier, "hello").header() == "conversation; tier=default; rule=default"


def test_only_the_latest_user_message_counts(classifier: Classifier) -> None:
    messages = [
        {"role": "system", "content": "Refactor and review code. Be fast."},  # aider/OpenCode-style system prompts
        {"role": "user", "content": "fix the typo"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                                "function": {"name": "read", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "traceback: urgent crash"},
        {"role": "user", "content": [{"type": "text", "text": "now explain the design"}]},
    ]
    assert latest_user_text(messages) == "now explain the design"
    assert Classifier(load_config(REPO, {}).routing.classification).classify(messages).rule == "yolo"  # "now"


def test_an_empty_rule_set_always_says_default() -> None:
    result = Classifier(ClassificationConfig()).classify([{"role": "user", "content": "fix"}])
    assert (result.rule, result.task_type) == ("default", "conversation")
