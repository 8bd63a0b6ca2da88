"""Classifying requests by the shipped rules."""

from __future__ import annotations

import pytest

from proxy.config import load_config
from proxy.config_schema import ClassificationConfig
from proxy.pipeline.classify import Classifier, TaskClass, latest_user_text
from proxy.pipeline.user_words import user_words
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


AIDER_WHOLE_REMINDER = (
    "To suggest changes to a file you MUST return the entire content of the updated file.\n"
    "You MUST use this *file listing* format:\n\npath/to/filename.js\n```\n// entire file content ...\n```\n\n"
    "Reply in English.\n"
)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param("explain greet.py\n\n" + AIDER_WHOLE_REMINDER, "explain greet.py", id="aider-whole"),
        pytest.param("explain greet.py\n\n# *SEARCH/REPLACE block* Rules:\n\nEvery block must use this format:",
                     "explain greet.py", id="aider-diff"),
        pytest.param("explain greet.py\n\n\n# *SEARCH/REPLACE block* Rules:\n", "explain greet.py",
                     id="aider-diff-fenced"),
        pytest.param("explain greet.py\n\nPay careful attention to the scope of the user's request.\n"
                     "Do not improve, comment, fix or modify unrelated parts\n\nReply in English.\n",
                     "explain greet.py", id="aider-ask-overeager"),
        pytest.param("explain greet.py\n\nReply in English.\n", "explain greet.py", id="aider-ask-language"),
        pytest.param("# File editing rules: what are they?", "# File editing rules: what are they?",
                     id="aider-opening-typed-by-the-user-is-kept"),
        pytest.param("explain this\n<system-reminder>\nPlan mode: analyze, never fix.\n</system-reminder>\n",
                     "explain this", id="system-reminder"),
        pytest.param("<SYSTEM-REMINDER>format</System-Reminder>explain <system-reminder>fix</system-reminder>this",
                     "explain\nthis", id="system-reminder-any-case-twice"),
        pytest.param("explain <system-reminder> but never closed: fix",
                     "explain <system-reminder> but never closed: fix", id="unclosed-tag-is-kept"),
        pytest.param('<context name="greet.py">\n# TODO: fix the format\n</context>\n\nexplain greet.py',
                     "explain greet.py", id="continue-context-item"),
        pytest.param('<context name="notes.md">\n<system-reminder>x</system-reminder> refactor\n</context>\n\nhi',
                     "hi", id="nested-blocks-go-whole"),
        pytest.param([{"type": "text", "text": 'Called the Read tool with the following input: {"filePath":"/p/a.py"}'},
                      {"type": "text", "text": "<path>/p/a.py</path>\n<type>file</type>\n<content>\n1: # fix format\n"
                                               "</content>"},
                      {"type": "text", "text": '"explain a.py"'}],
                     "explain a.py", id="opencode-attached-file"),
        pytest.param([{"type": "text", "text": 'Called the Read tool with the following input: {"filePath":"/p/d"}'},
                      {"type": "text", "text": "<path>/p/d</path>\n<type>directory</type>\n<entries>\nfix.py\n"},
                      {"type": "text", "text": "explain d"}],
                     "explain d", id="opencode-attached-directory"),
        pytest.param([{"type": "text", "text": "Read tool failed to read /p/x with the following error: nope"},
                      {"type": "text", "text": "explain x"}], "explain x", id="opencode-read-failed"),
        pytest.param('"say \\"hi\\" to me"', 'say "hi" to me', id="opencode-run-quotes"),
        pytest.param("<environment_context>\n  <cwd>/tmp/x</cwd>\n  <approval_policy>never</approval_policy>\n"
                     "</environment_context>", "", id="codex-environment-context"),
        pytest.param([{"type": "text", "text": "<system-reminder>\nDo what has been asked; nothing more, quickly.\n"
                                               "</system-reminder>"},
                      {"type": "text", "text": "refactor the parser"}], "refactor the parser", id="claude-code"),
        pytest.param('"a" and "b"', '"a" and "b"', id="quotes-inside-are-kept"),
    ],
)
def test_user_words_drop_agent_wrappers(content: object, words: str) -> None:
    assert user_words({"role": "user", "content": content}) == words


def test_a_turn_of_only_agent_text_falls_back_to_the_ask_before_it(classifier: Classifier) -> None:
    messages = [
        {"role": "user", "content": "refactor the parser"},
        {"role": "assistant", "content": "Working on it."},
        {"role": "user", "content": "<system-reminder>Fix the format quickly.</system-reminder>"},
    ]
    assert latest_user_text(messages) == "refactor the parser"
    assert classifier.classify(messages).rule == "smart"


def test_a_wrapper_keyword_does_not_decide_the_rule(classifier: Classifier) -> None:
    assert ask(classifier, "explain greet.py\n\n" + AIDER_WHOLE_REMINDER).rule == "default"
    assert ask(classifier, "what does parse() return?\n\n" + AIDER_WHOLE_REMINDER).rule == "question"
