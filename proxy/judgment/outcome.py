"""What the next turn says about the last answer: did it work?

A coding assistant's next request carries the verdict on the answer before
it. aider tells the model its edit did not apply ("The LLM did not conform
to the edit format", "SEARCH/REPLACE block failed to match"); an agent's
tool results come back as errors or failing test runs; a user asks the same
thing again. The scorer judged the answer before anyone used it; this
judges it after (store.record_outcome), and the cascade's per-model record
learns from it (a local answer accepted, then shown to fail, counts as a
failed try).

Only what follows the answer being judged is read (the session's latest
answer, where the session knows it: aider puts its own "Ok." replies after
it; else the conversation's last assistant message): the rest was judged on
earlier turns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.chat import message_text

FAILED, CONTINUED = "failed", "continued"

# aider's own words when an edit does not apply (aider/coders/*.py, editblock and whole-file formats).
_EDIT_FAILED = re.compile(
    r"did not conform to the edit format|SEARCH/REPLACE blocks? failed to match|SearchReplaceNoExactMatch"
    r"|The SEARCH section must exactly match|malformed (?:edit|diff)|Unable to (?:apply|parse) (?:the )?(?:edit|diff)",
    re.IGNORECASE)
# A tool result or a pasted run that went wrong.
_RUN_FAILED = re.compile(
    r"Traceback \(most recent call last\)|^\s*(?:Error|error|ERROR)\b[:\s]|\b\d+ failed\b|^FAILED\b|AssertionError"
    r"|exit(?:ed)? (?:with )?(?:code|status) [1-9]|command not found|No such file or directory|SyntaxError",
    re.MULTILINE)
# aider's words when it sends back a test or lint run (--auto-test, --auto-lint) after an edit.
_RAN = re.compile(r"\s*I ran this command:")
_WORDS = re.compile(r"[a-z0-9_]+")
SAME_QUESTION = 0.8  # word-set overlap (Jaccard) at which a user message asks the same thing again


@dataclass(frozen=True)
class Outcome:
    """The next turn's verdict on the answer before it."""

    verdict: str  # FAILED or CONTINUED
    reason: str  # one line, for the dashboard


def next_turn_outcome(messages: Sequence[dict[str, Any]], answer_at: int | None = None) -> Outcome | None:
    """The verdict the messages after the answer at `answer_at` (default: the last assistant message) give it;
    None when there is none yet."""
    last = answer_at if answer_at is not None else max(
        (i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"), default=None)
    if last is None or last == len(messages) - 1:
        return None
    after = [m for m in messages[last + 1:] if isinstance(m, dict)]
    for message in after:
        text = message_text(message)
        if message.get("role") == "user" and _EDIT_FAILED.search(text):
            return Outcome(FAILED, "the edit did not apply: " + _line(_EDIT_FAILED, text))
        if message.get("role") == "tool" and _RUN_FAILED.search(text):
            return Outcome(FAILED, "a tool call it made failed: " + _line(_RUN_FAILED, text))
        if message.get("role") == "user" and _RAN.match(text) and _RUN_FAILED.search(text):
            return Outcome(FAILED, "the tests run after it failed: " + _line(_RUN_FAILED, text))
    question = _last_user(messages[last + 1:])
    earlier = _last_user(messages[:last])
    if question is not None and earlier is not None and _overlap(question, earlier) >= SAME_QUESTION:
        return Outcome(FAILED, "the user asked the same thing again")
    return Outcome(CONTINUED, "the conversation went on with no sign of failure")


def _last_user(messages: Sequence[Any]) -> str | None:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return None


def _overlap(a: str, b: str) -> float:
    left, right = set(_WORDS.findall(a.lower())), set(_WORDS.findall(b.lower()))
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _line(pattern: re.Pattern[str], text: str) -> str:
    """The line `pattern` matched in, shortened."""
    match = pattern.search(text)
    assert match is not None
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    line = text[start:end if end != -1 else len(text)].strip()
    return line[:117] + "..." if len(line) > 120 else line
