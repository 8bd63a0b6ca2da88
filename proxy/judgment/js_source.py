"""JavaScript read cheaply, without running it: blocks found, strings and comments masked, names found.

There is no JavaScript parser in the scorer's Python, and starting Node to parse
would cost what running costs. A scanner that knows strings, template literals,
comments and (by the usual heuristic) regex literals is enough to tell which
lines stand at the top level and which names they declare. js_checks.py uses it.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from proxy.judgment.code_blocks import fenced_blocks, parse_python

JS_TAGS = {"js": "javascript", "javascript": "javascript", "node": "javascript", "nodejs": "javascript",
           "mjs": "javascript", "cjs": "javascript", "ts": "typescript", "typescript": "typescript"}
# An untagged block (or an unfenced answer) is taken for JavaScript only when it opens like it.
JS_OPENING = re.compile(
    r"^\s*(?:(?:export\s+(?:default\s+)?)?(?:async\s+)?function[\s*]|(?:export\s+)?(?:const|let|var)\s+[\w$\[{]"
    r"|(?:export\s+)?class\s+\w|import\s.+\sfrom\s|['\"]use strict|module\.exports|console\.log\(|/\*\*)"
)
# After these a `/` starts a regex literal, not a division.
REGEX_AFTER_CHARS = set("(,=:[!&|?{};+-*%<>~^")
REGEX_AFTER_WORDS = frozenset("return typeof case do else in of new delete void throw yield await".split())
DECLARATION = re.compile(
    r"^\s*(?:export\s+(?:default\s+)?)?(?:(?:async\s+)?function\s*\*?\s*(?P<function>[\w$]+)"
    r"|(?:const|let|var)\s+(?P<variable>[\w$]+)\s*(?::[^=]*)?=|class\s+(?P<class>[\w$]+))"
)
CALLED = re.compile(r"(?<![\w$.])([A-Za-z_$][\w$]*)\s*(?=[(.])")
# Names an example may call that no answer needs to define.
JS_GLOBALS = frozenset(
    "console Math JSON Object Array String Number Boolean BigInt Symbol Date RegExp Error TypeError RangeError "
    "SyntaxError Map Set WeakMap WeakSet Promise parseInt parseFloat isNaN isFinite require assert expect test it "
    "describe module exports process Buffer globalThis Reflect Proxy Intl encodeURIComponent decodeURIComponent "
    "setTimeout clearTimeout structuredClone Infinity NaN undefined new typeof void delete in of instanceof if for "
    "while switch return function catch await async yield this super class Int8Array Uint8Array Int32Array "
    "Float64Array ArrayBuffer".split()
)


@dataclass(frozen=True)
class Scanned:
    """`code` with string, template, regex and comment contents blanked (same length, newlines kept)."""

    code: str
    masked: str
    comments: tuple[tuple[int, int], ...]  # (start, end) of each comment, markers included


def javascript_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each JavaScript or TypeScript program in `text`: tagged or JS-looking blocks.

    With no fence at all, the whole text when it opens like JavaScript and is not Python.
    """
    blocks = fenced_blocks(text)
    found = []
    for block in blocks:
        code = textwrap.dedent(block.code)
        if block.language in JS_TAGS:
            found.append((JS_TAGS[block.language], code))
        elif not block.language and JS_OPENING.match(code) and parse_python(code) is None:
            found.append(("javascript", code))
    if not blocks and JS_OPENING.match(text) and parse_python(text) is None:
        found.append(("javascript", text))
    return found


def scan(code: str) -> Scanned:
    """Mask `code`'s literals and comments so brackets and names can be counted on what is left."""
    out = list(code)
    comments: list[tuple[int, int]] = []
    templates: list[int] = []  # brace depth inside each open `${ ... }`
    previous = ""  # the last significant token outside literals: decides regex or division
    i, n = 0, len(code)

    def blank(start: int, end: int) -> None:
        for k in range(start, min(end, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        char = code[i]
        if code.startswith("//", i) or code.startswith("/*", i):
            end = code.find("\n", i) if code[i + 1] == "/" else code.find("*/", i + 2)
            end = n if end < 0 else end + (2 if code[i + 1] == "*" else 0)
            blank(i, end)
            comments.append((i, end))
            i = end
        elif char in "'\"":
            end = _quoted_end(code, i, char)
            blank(i + 1, end - 1)
            i, previous = end, "a"
        elif char == "`" or (char == "}" and templates and templates[-1] == 0):
            if char == "}":
                templates.pop()
            end, opened = _template_end(code, i + 1)
            blank(i + 1, end - (2 if opened else 1))
            if opened:
                templates.append(0)
            i, previous = end, ("{" if opened else "a")
        elif char == "/" and (previous in REGEX_AFTER_CHARS or previous in REGEX_AFTER_WORDS or not previous):
            end = _regex_end(code, i)
            blank(i + 1, end - 1)
            i, previous = end, "a"
        elif char.isalnum() or char in "_$":
            end = i
            while end < n and (code[end].isalnum() or code[end] in "_$"):
                end += 1
            i, previous = end, code[i:end]
        else:
            if templates and char in "{}":
                templates[-1] += 1 if char == "{" else -1
            if not char.isspace():
                previous = char
            i += 1
    return Scanned(code, "".join(out), tuple(comments))


def _quoted_end(code: str, start: int, quote: str) -> int:
    i = start + 1
    while i < len(code) and code[i] != quote and code[i] != "\n":
        i += 2 if code[i] == "\\" else 1
    return min(i + 1, len(code))


def _template_end(code: str, i: int) -> tuple[int, bool]:
    """Where the template text from `i` stops: after its closing backtick, or after a `${` (True)."""
    while i < len(code):
        if code[i] == "\\":
            i += 2
        elif code[i] == "`":
            return i + 1, False
        elif code.startswith("${", i):
            return i + 2, True
        else:
            i += 1
    return len(code), False


def _regex_end(code: str, start: int) -> int:
    i, in_class = start + 1, False
    while i < len(code) and code[i] != "\n":
        if code[i] == "\\":
            i += 1
        elif code[i] == "[":
            in_class = True
        elif code[i] == "]":
            in_class = False
        elif code[i] == "/" and not in_class:
            i += 1
            while i < len(code) and code[i].isalpha():  # flags
                i += 1
            return i
        i += 1
    return i


def line_depths(masked: str) -> list[int]:
    """The bracket depth ((, [ and { together) at the start of each line of masked code."""
    depths, depth = [], 0
    for line in masked.split("\n"):
        depths.append(depth)
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
    return depths


def declared_names(code: str) -> set[str]:
    """The functions, classes and variables `code` declares at its top level (header-only stubs included)."""
    scanned = scan(code)
    lines = scanned.masked.split("\n")
    return {next(name for name in match.groups() if name)
            for line, depth in zip(lines, line_depths(scanned.masked))
            if depth == 0 and (match := DECLARATION.match(line))}


def called_names(expr: str) -> set[str]:
    """The names an example calls (or calls methods of) that are not JavaScript's own."""
    return {name for name in CALLED.findall(scan(expr).masked)} - JS_GLOBALS


def comment_text(scanned: Scanned) -> str:
    """Every comment of the code, one per line group, as written (JSDoc examples live here)."""
    return "\n".join(scanned.code[start:end] for start, end in scanned.comments)


def closing_paren(masked: str, start: int) -> int:
    """The index just after the bracket that closes the one at `start`, or -1."""
    depth = 0
    for i in range(start, len(masked)):
        if masked[i] in "([{":
            depth += 1
        elif masked[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def top_level_commas(masked: str) -> int:
    """Commas outside any bracket of a masked expression: more than 0 means several arguments."""
    depth, commas = 0, 0
    for char in masked:
        depth += char in "([{"
        depth -= char in ")]}"
        commas += char == "," and depth == 0
    return commas
