"""The words a human typed, with the wrappers coding agents put around them removed.

Agents send their own text inside the user's message: aider appends its edit-format
reminder ("... MUST use this *file listing* format"), OpenCode adds read-tool output
for attached files and `<system-reminder>` blocks (as Claude Code does), Continue prefixes
`<context>` blocks, Codex sends its `<environment_context>` as a user message of its own.
Classifying that text routes every request of a client the same way (issue 15), so
rules see only what is left. Recorded examples are in tests/clients/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

# Tag pairs whose whole block is agent text. Matched case-insensitively; an unclosed
# opening tag is not a block and is kept, as in LiteLLM's complexity router.
WRAPPER_BLOCKS: tuple[tuple[str, str], ...] = (
    ("<system-reminder>", "</system-reminder>"),  # Claude Code, OpenCode (plan mode, queued notes)
    ("<context name=", "</context>"),  # Continue CLI: an attached file (`oot` in @continuedev/cli 1.5)
    ("<environment_context>", "</environment_context>"),  # Codex CLI: cwd, shell, sandbox, as a user message
    ("<user_instructions>", "</user_instructions>"),  # Codex CLI: AGENTS.md, in its older form
)

# How aider 0.86 opens the `system_reminder` it appends to the last user message after
# "\n\n" (aider/coders/*_prompts.py, Coder.format_chat_chunks), one per edit format,
# plus the `final_reminders` that are the whole reminder in ask mode.
AIDER_REMINDER_OPENINGS: tuple[str, ...] = (
    "To suggest changes to a file you MUST return the entire content of the updated file.",  # whole
    "# *SEARCH/REPLACE block* Rules:",  # diff, diff-fenced, editor-diff
    "# File editing rules:",  # udiff, udiff-simple
    "# V4A Diff Format Rules:",  # patch
    "ONLY return code using the `",  # the *-func formats
    "NEVER RETURN CODE!",  # context
    "You are diligent and tireless!",  # lazy_prompt
    "Pay careful attention to the scope of the user's request.",  # overeager_prompt
)
_AIDER_LANGUAGE_TAIL = re.compile(r"\n\nReply in [^\n]{1,40}\.\s*\Z")  # ask mode's only reminder

# OpenCode (1.18) turns an attached file into two synthetic text parts: this line, then
# the read tool's output (`<path>...<type>file</type><content>...`, or a directory listing).
_OPENCODE_READ_CALL = re.compile(r"^Called the \w+ tool with the following input: \{")
_OPENCODE_READ_FAILED = re.compile(r"^\w+ tool failed to read ")


def latest_user_words(messages: Sequence[dict[str, Any]]) -> str:
    """The human's words in the newest user message that has any, else "".

    A user turn that is only agent text (a lone reminder) is skipped, so the ask in
    force is the one before it, as LiteLLM's router does; system, assistant and tool
    messages are never read.
    """
    for message in reversed(messages):
        if message.get("role") == "user" and (words := user_words(message)):
            return words
    return ""


def user_words(message: dict[str, Any]) -> str:
    """One message's text with every known agent wrapper removed and the ends trimmed."""
    text = "\n".join(_drop_opencode_attachments(_text_parts(message.get("content"))))
    text = strip_wrapper_blocks(text)
    text = strip_aider_reminder(text)
    return _unquote(text.strip())


def strip_wrapper_blocks(text: str, pairs: tuple[tuple[str, str], ...] = WRAPPER_BLOCKS) -> str:
    """`text` without any complete block of `pairs`; the text around each block is kept.

    `str.find`, not a regex: a lazy `<tag>.*?</tag>` retried from every unclosed tag is
    quadratic, and this runs on every request. Spans are merged by a running maximum of
    their ends, so a block nested in another (a reminder quoted in an attached file) goes
    with its outer block (the same construction as LiteLLM's `_strip_reminder_blocks`).
    """
    lowered = text.lower()
    spans = sorted(span for opening, closing in pairs for span in _block_spans(lowered, opening, closing))
    if not spans:
        return text
    keep_from = (0, *accumulate((end for _, end in spans), max))
    keep_to = (*(start for start, _ in spans), len(text))
    return "\n".join(kept for a, b in zip(keep_from, keep_to) if (kept := text[a:b].strip()))


def strip_aider_reminder(text: str) -> str:
    """`text` cut before aider's appended edit-format reminder, if it has one.

    aider joins the reminder with "\\n\\n" after what the user typed, so an opening only
    counts after a blank line and never at the start: the user's words come first.
    """
    cut = min((i for opening in AIDER_REMINDER_OPENINGS if (i := _after_blank_line(text, opening)) > 0),
              default=len(text))
    return _AIDER_LANGUAGE_TAIL.sub("", text[:cut])


def _after_blank_line(text: str, opening: str) -> int:
    start = 0
    while (i := text.find(opening, start)) != -1:
        if text[:i].rstrip(" ").endswith("\n\n"):
            return i
        start = i + 1
    return -1


def _block_spans(lowered: str, opening: str, closing: str) -> Iterator[tuple[int, int]]:
    cursor = 0
    while (start := lowered.find(opening, cursor)) != -1:
        end = lowered.find(closing, start + len(opening))
        if end == -1:
            return
        cursor = end + len(closing)
        yield start, cursor


def _text_parts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return []


def _drop_opencode_attachments(parts: list[str]) -> list[str]:
    """The parts without OpenCode's synthetic read-tool call and the output that follows it."""
    kept: list[str] = []
    skip_next = False
    for part in parts:
        if skip_next:
            skip_next = False
        elif _OPENCODE_READ_CALL.match(part):
            skip_next = True
        elif not _OPENCODE_READ_FAILED.match(part):
            kept.append(part)
    return kept


def _unquote(text: str) -> str:
    """`opencode run` wraps an argument that has a space in double quotes, escaping inner ones."""
    if len(text) >= 2 and text[0] == text[-1] == '"' and '"' not in text[1:-1].replace('\\"', ""):
        return text[1:-1].replace('\\"', '"').strip()
    return text
