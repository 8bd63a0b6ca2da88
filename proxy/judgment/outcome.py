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

# Each check is one pattern led by a literal, which Python's re skips to at C speed; an alternation of them
# all, or IGNORECASE, tries every position instead: 2.5 ms for a 71 KB file read coming back from a tool, on
# the event loop, every turn of an agent. A line start is asked for with "\n" (the text is read with one in
# front), not "^", for the same reason.
# aider's own words when an edit does not apply (aider/coders/*.py, editblock and whole-file formats), in any
# case: they are looked for in the lowercased text.
_EDIT_FAILED = tuple(re.compile(p) for p in (
    r"did not conform to the edit format", r"search/replace blocks? failed to match", r"searchreplacenoexactmatch",
    r"the search section must exactly match", r"malformed (?:edit|diff)",
    r"unable to (?:apply|parse) (?:the )?(?:edit|diff)"))
# A tool result or a pasted run that went wrong; " N failed" (pytest's summary) is checked for its number apart.
_RUN_FAILED = tuple(re.compile(p) for p in (
    r"Traceback \(most recent call last\)", r"\n\s*(?:Error|error|ERROR)\b[:\s]", r"\nFAILED\b", r"AssertionError",
    r"exit(?:ed)? (?:with )?(?:code|status) [1-9]", r"command not found", r"No such file or directory",
    r"SyntaxError"))
_FAILED_COUNT = re.compile(r" failed\b")
_COUNT_BEFORE = re.compile(r"(?:^|\W)\d+\Z")  # what stands before " failed" ends in a whole number
COUNT_DIGITS = 12  # read this far back from " failed" for it
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
        text, role = message_text(message), message.get("role")
        if role == "user" and (line := _failure(text, _EDIT_FAILED, any_case=True)):
            return Outcome(FAILED, "the edit did not apply: " + line)
        if role == "tool" and (line := _failure(text, _RUN_FAILED, counted=True)):
            return Outcome(FAILED, "a tool call it made failed: " + line)
        if role == "user" and _RAN.match(text) and (line := _failure(text, _RUN_FAILED, counted=True)):
            return Outcome(FAILED, "the tests run after it failed: " + line)
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


def _failure(text: str, checks: tuple[re.Pattern[str], ...], any_case: bool = False,
             counted: bool = False) -> str | None:
    """The line where the first of `checks` to match in `text` matched, shortened; None when none does.

    `any_case`: the checks are lowercase and read the lowercased text; `counted`: " N failed" counts too.
    """
    read = "\n" + (text.lower() if any_case else text)
    ends = [match.end() for check in checks if (match := check.search(read))]
    if counted:
        counted = (m.end() for m in _FAILED_COUNT.finditer(read)
                   if _COUNT_BEFORE.search(read, max(0, m.start() - COUNT_DIGITS), m.start()))
        ends += [end] if (end := next(counted, None)) else []
    if not ends:
        return None
    if len(read) != len(text) + 1:  # a character that lowercases to two: the line is cut from what was read
        text = read[1:]
    at = min(ends) - 2  # the match's last character, in `text`
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    line = text[start:end if end != -1 else len(text)].strip()
    return line[:117] + "..." if len(line) > 120 else line
