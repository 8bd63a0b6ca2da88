"""Classify a request from the ordered rules in routing_rules.yaml.

Rules look at the user's own words in the latest user message only: the system
prompt is the same for every request of a client, tool output is not what the user
asked, and the reminders agents wrap around the ask are stripped (proxy/pipeline/user_words.py).
No match is not "cheap": it falls to the configured default, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.config_schema import ClassificationConfig, ClassificationRule
from proxy.pipeline.user_words import latest_user_words

DEFAULT_RULE = "default"


@dataclass(frozen=True)
class TaskClass:
    """What a request is, which rule said so, and what that rule overrides."""

    task_type: str
    tier: str
    rule: str
    target_quality: float | None = None
    max_tokens: int | None = None
    cascade: bool = True
    deadline_s: float | None = None  # the rule's local.deadline_s override
    self_consistency_samples: int | None = None  # the rule's cascade.self_consistency_samples override
    judge: bool = True  # whether quality.judge_model may grade its answers

    def header(self) -> str:
        """The `X-Hermes-Task-Type` value, e.g. "analysis; tier=smart; rule=smart"."""
        return f"{self.task_type}; tier={self.tier}; rule={self.rule}"


class Classifier:
    """The rules compiled once; `classify` runs per request."""

    def __init__(self, config: ClassificationConfig) -> None:
        self._default = TaskClass(config.default.task_type, config.default.tier, DEFAULT_RULE)
        self._rules = [(rule, _compile(rule)) for rule in config.rules]

    def classify(self, messages: Sequence[dict[str, Any]]) -> TaskClass:
        text = latest_user_text(messages)
        for rule, pattern in self._rules:
            if pattern.search(text):
                return TaskClass(rule.task_type, rule.tier, rule.name, rule.target_quality, rule.max_tokens,
                                 rule.cascade, rule.deadline_s, rule.self_consistency_samples, rule.judge)
        return self._default


def latest_user_text(messages: Sequence[dict[str, Any]]) -> str:
    """What the rules match: the human's words in the newest user message, agent wrappers removed.

    Not the raw text: aider's appended reminder says "format" in every request, which made
    each one cheap whatever was asked (issue 15).
    """
    return latest_user_words(messages)


def _compile(rule: ClassificationRule) -> re.Pattern[str]:
    alternatives = []
    if rule.keywords:
        words = "|".join(re.escape(word) for word in rule.keywords)
        alternatives.append(rf"\b(?:{words})\b")
    if rule.regex:
        alternatives.append(f"(?:{rule.regex})")
    # A rule with neither matches nothing, rather than everything.
    return re.compile("|".join(alternatives) or r"(?!)", re.IGNORECASE | re.MULTILINE)
