"""aider's edit formats: whether an answer's SEARCH/REPLACE blocks or whole-file listings apply and parse.

aider puts the files it edits into the prompt (a path line, then a fenced block) and applies
the answer's edits to them; an edit that does not apply costs the user a retry. Checked
against the files the prompt carries, as aider matches them; a file it does not carry, or
a language with no cheap parser, is not counted rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from proxy.chat import message_text
from proxy.judgment import code_blocks
from proxy.judgment.agent_checks import Message, known_path
from proxy.judgment.verdict import Verdict

# aider's SEARCH/REPLACE markers (aider/coders/editblock_coder.py accepts 5 to 9 marker characters).
HEAD = re.compile(r"^<{5,9} SEARCH>?\s*$")
DIVIDER = re.compile(r"^={5,9}\s*$")
UPDATED = re.compile(r"^>{5,9} REPLACE\s*$")
ELISION = re.compile(r"^\s*\.\.\.\s*$", re.MULTILINE)  # aider can match around "..." lines; we cannot cheaply
# aider's whole-format prompt (aider/coders/wholefile_prompts.py), the only one whose answers are file listings.
WHOLE_FORMAT = "return the entire content of the updated file"
SHELL_TAGS = frozenset({"bash", "sh", "shell", "zsh", "console", "cmd", "powershell", "ps1", "fish"})
LANGUAGE_BY_EXTENSION = {".py": "python", ".pyi": "python", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
                         ".toml": "toml"}



def asks_for_edits(messages: Sequence[Message]) -> bool:
    """Whether the system prompt asks for aider's edit formats: an agent's edit turn, without tools."""
    return any(m.get("role") == "system" and ("SEARCH/REPLACE" in (text := message_text(m)) or WHOLE_FORMAT in text)
               for m in messages)


def edit_verdict(messages: Sequence[Message], text: str) -> Verdict:
    """Whether an answer's aider edits apply to the files the prompt carries, and leave them parsing.

    Diff format: each SEARCH must match its file exactly, or as aider also accepts, with every line
    shifted by one common leading whitespace or without a spurious leading blank line; an empty
    SEARCH makes a new file (or appends). Whole format: each listing's content must parse. An edit
    whose file the prompt does not carry, or whose language has no cheap parser, is not counted.
    1 - 0.5**n when all n counted edits pass; -(0.5 + 0.5 * failed/n) when any fails.
    """
    edits = _search_replace_edits(text)
    if not edits and any(WHOLE_FORMAT in message_text(m) for m in messages):
        edits = [_Edit(path, None, b.code + "\n") for path, b in _listings(text) if b.language not in SHELL_TAGS]
    if not edits:
        return Verdict(None, "no edit-format blocks")
    files = _carried_files(messages)  # only now: most answers have no edits, and long prompts carry many files
    parses_before = {path: _parse_problem(path, content) is None for path, content in files.items()}
    outcomes = [_edit_problem(i, edit, files, parses_before) for i, edit in enumerate(edits, 1)]
    checked = [o for o in outcomes if o is not None]
    unchecked = len(outcomes) - len(checked)
    if not checked:
        return Verdict(None, f"{unchecked} edit(s) the prompt gives no way to check (files it does not carry)")
    failed = [o for o in checked if o]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return Verdict(-(0.5 + 0.5 * len(failed) / len(checked)), failed[0] + more,
                       f"{len(checked) - len(failed)}/{len(checked)} edits")
    aside = f"; {unchecked} not checked" if unchecked else ""
    return Verdict(1 - 0.5 ** len(checked), f"{len(checked)} edit(s) apply and parse{aside}",
                   f"{len(checked)}/{len(checked)} edits")




@dataclass(frozen=True)
class _Edit:
    path: str | None
    search: str | None  # None for a whole-file listing
    content: str  # the REPLACE text, or the whole new file
    malformed: str = ""


def _edit_problem(index: int, edit: _Edit, files: dict[str, str], parses_before: dict[str, bool]) -> str | None:
    """"" when the edit applies and parses, a reason when it fails, None when it cannot be checked."""
    where = f"edit {index} to {edit.path}" if edit.path else f"edit {index}"
    if edit.malformed or edit.path is None:
        return f"{where}: {edit.malformed or 'no file path above <<<<<<< SEARCH'}"
    key = known_path(files, edit.path)
    if edit.search is None or (key is None and not edit.search.strip()):  # a whole listing, or a new file
        if _language(edit.path, edit.content) is None or (key is not None and not parses_before[key]):
            return None  # nothing to check it by, or the file did not parse before the model touched it
        problem = _parse_problem(edit.path, edit.content)
        return f"{where}: the new content does not parse as {problem}" if problem else ""
    if key is None:
        return None  # a SEARCH in a file the prompt does not show
    if not edit.search.strip():
        result: str | None = _prep(files[key]) + edit.content  # aider appends to the file
    elif (result := _replace(files[key], edit.search, edit.content)) is None:
        # aider tries the other files in the chat before giving up (EditBlockCoder.apply_edits)
        key, result = next(((k, r) for k in files if (r := _replace(files[k], edit.search, edit.content))),
                           (key, None))
    if result is None:
        return None if ELISION.search(edit.search) else f"{where}: the SEARCH text is not in the file"
    files[key] = result
    if parses_before[key] and (problem := _parse_problem(key, result)):
        return f"{where}: the result does not parse as {problem}"
    return ""


def _carried_files(messages: Sequence[Message]) -> dict[str, str]:
    """Files aider put in user messages as a path line and a fenced block; a later copy wins."""
    files: dict[str, str] = {}
    for message in messages:
        if message.get("role") == "user":
            files.update((path, block.code) for path, block in _listings(message_text(message)))
    return files


def _listings(text: str) -> list[tuple[str, code_blocks.CodeBlock]]:
    """Each fenced block whose opening fence has a file path alone on the line above it."""
    lines, found, at = text.splitlines(), [], 0
    for block in code_blocks.fenced_blocks(text):
        while not (opening := code_blocks.FENCE.match(lines[at])):
            at += 1
        fence = opening.group(1)[:3]
        empty = not block.code and (at + 1 >= len(lines) or lines[at + 1].strip().startswith(fence))
        if at and (path := _file_name(lines[at - 1])) and (re.search(r"[./]", path) and " " not in path):
            found.append((path, block))
        at += 1 + (0 if empty else block.code.count("\n") + 1) + 1
    return found


def _search_replace_edits(text: str) -> list[_Edit]:
    """aider's diff format: a path line, a fence, <<<<<<< SEARCH, =======, >>>>>>> REPLACE (in that order)."""
    lines = text.splitlines(keepends=True)
    edits: list[_Edit] = []
    path, i = None, 0
    while i < len(lines):
        if not HEAD.match(lines[i].strip()):
            i += 1
            continue
        # aider's search back for the path: the nearest of the 3 lines above that is not a fence; when
        # there is none, the block edits the file the block before it did.
        above = lines[max(0, i - 3):i]
        while above and above[-1].lstrip().startswith(("```", "~~~")):
            above.pop()
        path = (_file_name(above[-1]) if above else None) or path
        search, i = _until(lines, i + 1, DIVIDER)
        replace, end = _until(lines, i + 1, UPDATED)
        malformed = ("no ======= line after <<<<<<< SEARCH" if i >= len(lines)
                     else "the block is not closed by >>>>>>> REPLACE" if end >= len(lines) else "")
        edits.append(_Edit(path, search, replace, malformed))
        i = end + 1
    return edits


def _until(lines: list[str], start: int, marker: re.Pattern[str]) -> tuple[str, int]:
    end = next((j for j in range(start, len(lines)) if marker.match(lines[j].strip())), len(lines))
    return "".join(lines[start:end]), end


def _file_name(line: str) -> str | None:
    if line.strip().startswith(("```", "~~~")) or UPDATED.match(line.strip()):
        return None  # a fence, or the end of the block before: the path is further up or reused
    name = line.strip().rstrip(":").lstrip("#").strip().strip("`*").strip().replace("\\_", "_")
    return None if not name or name == "..." else name


def _replace(content: str, search: str, replace: str) -> str | None:
    """`content` with `search` replaced as aider would, or None when aider would not find it."""
    whole, part, new = (_prep(t).splitlines(keepends=True) for t in (content, search, replace))
    # aider also drops a spurious leading blank line from a longer SEARCH (aider issue #25).
    for lines in [part, part[1:]] if len(part) > 2 and not part[0].strip() else [part]:
        if (found := _replace_lines(whole, lines, new)) is not None:
            return "".join(found)
    return None


def _replace_lines(whole: list[str], part: list[str], new: list[str]) -> list[str] | None:
    size = len(part)
    for i in range(len(whole) - size + 1):
        if whole[i:i + size] == part:
            return whole[:i] + new + whole[i + size:]
    # Every line shifted by the same leading whitespace: outdent both sides, then find one common pad.
    cut = min((len(line) - len(line.lstrip()) for line in part + new if line.strip()), default=0)
    part, new = ([line[cut:] if line.strip() else line for line in side] for side in (part, new))
    for i in range(len(whole) - size + 1):
        window = whole[i:i + size]
        if any(w.lstrip() != p.lstrip() or len(w) < len(p) for w, p in zip(window, part)):
            continue
        pads = {w[:len(w) - len(p)] for w, p in zip(window, part) if w.strip()}
        if len(pads) == 1:
            pad = pads.pop()
            return whole[:i] + [pad + line if line.strip() else line for line in new] + whole[i + size:]
    return None


def _prep(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _language(path: str, content: str) -> str | None:
    # An unknown extension gets a tag no parser claims, so untagged-Python guessing never applies to it.
    tag = next((tag for ext, tag in LANGUAGE_BY_EXTENSION.items() if path.lower().endswith(ext)), "text")
    return code_blocks.language_of(code_blocks.CodeBlock(1, tag, content, True))


def _parse_problem(path: str, content: str) -> str | None:
    """"python: invalid syntax (line 3)" when `content` does not parse as the file's language, else None."""
    if (language := _language(path, content)) is None:
        return None
    error = code_blocks.parse_error(code_blocks.CodeBlock(1, language, content, True), language)
    return f"{language}: {error}" if error else None
