"""Code blocks in a chat answer: find the fenced ones, tell their language, and parse them.

Cheap and local: nothing here runs code. `code_checks.py` runs it, in the sandbox.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
import threading
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

PYTHON_TAGS = ("python", "py", "python3", "py3", "pycon")
LANGUAGE_TAGS = {"json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml"} | {t: "python" for t in PYTHON_TAGS}
# An untagged block is taken for Python only when it opens like Python.
PYTHON_OPENING = re.compile(r"^\s*(def |class |import |from \S+ import |@\w|async def )")
# aider's SEARCH/REPLACE edits and REPL sessions sit in python fences but are not programs.
NOT_A_PROGRAM = re.compile(r"^(<<<<<<< SEARCH|>>>>>>> REPLACE|>>> )", re.MULTILINE)
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^\n`]*$")
UNPARSEABLE = (SyntaxError, ValueError, RecursionError, MemoryError)  # ValueError: a NUL byte
# CPython 3.11 counts the AST builder's recursion in one global, so two threads parsing at once can fail
# with "SystemError: AST constructor recursion depth mismatch"; answers are scored on worker threads.
_PARSING = threading.Lock()
# Languages with no parser here whose brackets must still balance: a cut-off or garbled block shows there first.
BRACKET_TAGS = frozenset("go golang rust rs java c h cpp c++ cc hpp cs csharp kotlin kt swift ts typescript tsx js "
                         "javascript jsx mjs php scala dart css scss sql".split())
# Where a quote opens a string in these (elsewhere it is a char literal, or a Rust lifetime, and needs care).
QUOTE_STRINGS = frozenset("ts typescript tsx js javascript jsx mjs php sql css scss".split())
PAIRS = {")": "(", "]": "[", "}": "{"}
PROSE_AROUND_CODE = 40  # words outside the fences of an answer that is code ("Here is the function:")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of an answer; `language` is "" when the fence names none."""

    index: int  # 1-based, in order of appearance
    language: str
    code: str
    closed: bool


def fenced_blocks(text: str) -> list[CodeBlock]:
    """Every ``` or ~~~ fenced block, an unclosed last one included (a truncated answer)."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        i += 1
        if not opening:
            continue
        fence, body = opening.group(1)[:3], []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append(CodeBlock(len(blocks) + 1, opening.group(2).lower(), "\n".join(body), i < len(lines)))
        i += 1
    return blocks


def language_of(block: CodeBlock) -> str | None:
    """The language a block is judged as, or None when no cheap parser applies (brackets count as one)."""
    if block.language in BRACKET_TAGS:
        return block.language
    if block.language in LANGUAGE_TAGS:
        language = LANGUAGE_TAGS[block.language]
    elif not block.language and PYTHON_OPENING.match(block.code):
        language = "python"
    else:
        return None
    if language == "python" and NOT_A_PROGRAM.search(block.code):
        return None
    if language == "yaml" and "{{" in block.code:  # a Helm or Jinja template, not YAML yet
        return None
    return language


def parse_error(block: CodeBlock, language: str) -> str | None:
    """Why the block does not parse as `language`, or None when it does."""
    if language in BRACKET_TAGS:
        return bracket_error(block.code, language)
    try:
        if language == "python":
            parse(textwrap.dedent(block.code))
        elif language == "json":
            json.loads(block.code)
        elif language == "yaml":
            for _ in yaml.safe_load_all(block.code):
                pass
        elif language == "toml":
            tomllib.loads(block.code)
    except (SyntaxError, json.JSONDecodeError) as exc:
        return f"{exc.msg} (line {exc.lineno})" if exc.lineno else str(exc.msg)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return f"{getattr(exc, 'problem', None) or exc}" + (f" (line {mark.line + 1})" if mark else "")
    except (tomllib.TOMLDecodeError, *UNPARSEABLE) as exc:
        return str(exc) or type(exc).__name__
    return None


def bracket_error(code: str, language: str) -> str | None:
    """Where the brackets of `code` fail to balance, outside strings and comments; None when they do."""
    stack: list[tuple[str, int]] = []
    line, i, n = 1, 0, len(code)
    comment = "--" if language == "sql" else "//"
    while i < n:
        char = code[i]
        if char == "\n":
            line += 1
        elif code.startswith(comment, i) or (char == "#" and language == "php"):
            end = code.find("\n", i)
            if end < 0:
                break
            i = end  # the newline itself is counted next round
            continue
        elif code.startswith("/*", i):
            end = code.find("*/", i + 2)
            line += code.count("\n", i, n if end < 0 else end)
            i = n if end < 0 else end + 2
            continue
        elif char in "\"`" or (char == "'" and (language in QUOTE_STRINGS or _char_literal(code, i))):
            end = _string_end(code, i)
            if end < 0:
                return f"a string opened on line {line} is never closed"
            line += code.count("\n", i, end)
            i = end + 1
            continue
        elif char in "([{":
            stack.append((char, line))
        elif char in PAIRS:
            if not stack or stack[-1][0] != PAIRS[char]:
                return f"'{char}' on line {line} closes nothing open"
            stack.pop()
        i += 1
    if stack:
        char, opened = stack[-1]
        return f"'{char}' opened on line {opened} is never closed"
    return None


def _char_literal(code: str, i: int) -> bool:
    """A quote opening a char literal ('x', '\\n'), not a Rust lifetime or an apostrophe in a comment-less word."""
    return bool(re.match(r"'(?:\\.[^']{0,6}|[^'\\\n])'", code[i:i + 10]))


def _string_end(code: str, start: int) -> int:
    """The index of the quote closing the string opened at `start`, or -1; escapes skipped, Go's `raw` multi-line."""
    quote, i = code[start], start + 1
    while i < len(code):
        if code[i] == "\\":
            i += 2
            continue
        if code[i] == quote:
            return i
        if code[i] == "\n" and quote != "`":
            return -1
        i += 1
    return -1


def is_mostly_code(text: str) -> bool:
    """An answer that is fenced code with at most a sentence or two around it, whatever the language."""
    blocks = fenced_blocks(text)
    if not blocks:
        return False
    outside = re.sub(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1\s*$|\Z)", " ", text, flags=re.DOTALL | re.MULTILINE)
    return len(outside.split()) <= PROSE_AROUND_CODE


def python_sources(text: str) -> list[str]:
    """The Python programs in `text` that parse: its python blocks, else the whole text if it is code."""
    blocks = fenced_blocks(text)
    sources = [textwrap.dedent(b.code) for b in blocks if language_of(b) == "python"]
    if not blocks and PYTHON_OPENING.match(text):
        sources = [text]
    return [source for source in sources if parse_python(source) is not None]


def parse_python(code: str, mode: str = "exec") -> ast.AST | None:
    """`code`'s syntax tree, or None where it does not parse."""
    try:
        return parse(code, mode)
    except UNPARSEABLE:
        return None


def parse(code: str, mode: str = "exec") -> Any:
    """`ast.parse`, one thread at a time (see _PARSING); raises what it raises."""
    with _PARSING:
        return ast.parse(code, mode=mode)
