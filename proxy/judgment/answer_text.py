"""Signals about an answer's words, whatever it is about: too short, cut off, refused, looping, off the task.

Each looks at the text alone (and the task's words for `off_task`) and
returns a verdict from -1 to 0, or None where it does not apply: these only
ever find fault; the scorer (quality.py) weighs them with the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from proxy.judgment.verdict import Verdict

# Fewest non-blank characters a useful answer of each task type has; "Yes." answers a quick question.
MIN_CHARS = {"code_generation": 40, "debugging": 40, "analysis": 80, "research": 80, "creative_writing": 80,
             "data_processing": 20, "quick_qa": 2, "conversation": 2}
DEFAULT_MIN_CHARS = 10
OPENING_CHARS = 400  # refusals and hedges announce themselves at the start
HELP_CHARS = 300  # this much after a refusal phrase (or a code block) and it was a caveat: the answer helps
REFUSAL = re.compile(
    r"\b(I('m| am) sorry,? but I|I (cannot|can't|can not|won't|will not|am unable to|'m unable to|am not able to|"
    r"'m not able to) (help|assist|provide|do that|comply|fulfil|write|complete|answer)|As an AI\b|"
    r"I('m| am) (just |only )?an AI\b|I (do not|don't) have (the ability|access))",
    re.IGNORECASE,
)
HEDGE = re.compile(
    r"\b(I('m| am) not (sure|certain)|I (don't|do not) know|(it's|it is) (hard|difficult) to say|"
    r"I (cannot|can't) be (sure|certain))",
    re.IGNORECASE,
)
STOPWORDS = frozenset(
    "the and for that this with from have what which when where your you are was were will would could should "
    "can not but all any how why who its into than then them they their there these those been being also just "
    "does did use using used make like some more most such only other about please write code function return "
    "python file answer question here want need".split()
)


def too_short(text: str, calls: list[dict[str, Any]], task_type: str) -> Verdict:
    """Fewer non-blank characters than a useful answer of its task type has."""
    if calls:
        return Verdict(None, "the answer is a tool call")
    chars = len("".join(text.split()))
    least = MIN_CHARS.get(task_type, DEFAULT_MIN_CHARS)
    if chars < least:
        return Verdict(-1.0, f"{chars} characters, fewer than {least} for a {task_type} task")
    return Verdict(0.0, f"{chars} characters")


def truncated(finish_reason: str | None) -> Verdict:
    """Cut off at the token limit."""
    if finish_reason == "length":
        return Verdict(-1.0, "the model stopped at its token limit (finish_reason=length)")
    return Verdict(0.0, f"finish_reason={finish_reason}")


def refusal(text: str) -> Verdict:
    """A refusal or a hedge in the opening; a caveat followed by real help is neither."""
    opening = text[:OPENING_CHARS]
    if match := REFUSAL.search(opening):
        if "```" in (rest := text[match.end():]) or len("".join(rest.split())) >= HELP_CHARS:
            return Verdict(0.0, f"a caveat ({match.group(0)!r}), then it helps")
        return Verdict(-1.0, f"refuses: {match.group(0)!r}")
    if match := HEDGE.search(opening):
        return Verdict(-0.5, f"hedges: {match.group(0)!r}", "hedging")
    return Verdict(0.0, "no refusal or hedging")


def repetition(text: str) -> Verdict:
    """Degenerate loops: one line over and over, few distinct 4-grams, or a repeating tail."""
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 10]
    if len(lines) >= 6:
        line, count = Counter(lines).most_common(1)[0]
        if count >= 4 and count / len(lines) >= 0.3:
            return Verdict(-1.0, f"the line {line[:60]!r} appears {count} times", "a line repeats")
    words = re.findall(r"\w+|[^\w\s]", text)
    if len(words) >= 60:
        grams = list(zip(words, words[1:], words[2:], words[3:]))
        distinct = len(set(grams)) / len(grams)
        if distinct < 0.35:
            return Verdict(-1.0, f"only {distinct:.0%} of its 4-word runs are distinct", "loops")
    stripped = text.rstrip()
    for period in range(1, 41):
        tail = stripped[-max(period * 6, 36):]
        if len(tail) == max(period * 6, 36) and tail == (tail[-period:] * (len(tail) // period + 1))[-len(tail):]:
            return Verdict(-1.0, f"ends in a loop of {tail[-period:]!r}", "loops")
    return Verdict(0.0, "no degenerate repetition")


def _content_words(text: str) -> set[str]:
    words = set()
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_]*", text):
        parts = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", token.replace("_", " "))
        for word in [token, *parts]:
            word = word.lower()
            if len(word) >= 3 and word not in STOPWORDS:
                words.add(word[:5])  # a cheap stem: "sorting" and "sorted" meet at "sorte"/"sort"
    return words


def off_task(task: str, text: str, calls: list[dict[str, Any]], direct: bool) -> Verdict:
    """A direct answer in words that shares none of the task's content words."""
    if calls or not direct:
        return Verdict(None, "an agent step: judged by its tool calls, not its words")
    asked, said = _content_words(task), _content_words(text)
    if len(asked) < 3 or len(said) < 10:
        return Verdict(None, "too few content words to compare")
    shared = asked & said
    if not shared:
        return Verdict(-1.0, f"shares none of the task's {len(asked)} content words")
    return Verdict(0.0, f"shares {len(shared)} of the task's {len(asked)} content words")
