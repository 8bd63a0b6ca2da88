"""Checks for agent turns: the tool calls an answer makes (aider's edit formats: aider_edits.py).

Cheap and local: nothing is read from disk. Each call and edit is judged against what the
conversation shows (a file the client attached, a tool result), and a check that cannot see
a file does not apply rather than guess: a false failure sends the turn to a paid model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import SchemaError, UnknownType, best_match
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

from proxy.chat import message_text
from proxy.judgment.verdict import Verdict

Message = dict[str, Any]

# Argument keys naming a file or directory, compared lowercased without "_" and "-".
PATH_KEYS = frozenset({"filepath", "path", "filename", "file", "dirpath", "directory", "dir", "targetfile",
                       "notebookpath", "absolutepath"})
# Keys whose values are text or patterns, never a path to check, however they look.
TEXT_KEYS = frozenset({"content", "oldstring", "newstring", "oldstr", "newstr", "pattern", "include", "command",
                       "query", "url", "prompt", "description"})
OLD_TEXT_KEYS = ("oldString", "old_string", "old_str")  # OpenCode `edit`, Continue/Claude Code `Edit`, Anthropic
NEW_TEXT_KEYS = ("newString", "new_string", "new_str")
# A tool whose path must already exist (it reads or edits), and one that may make a new file.
EXISTING_FILE_TOOL = re.compile(r"read|edit|view|open|cat\b|patch|replace|modify|delete|remove", re.IGNORECASE)
NEW_FILE_TOOL = re.compile(r"write|create|new|save|touch|mkdir", re.IGNORECASE)
# Tools that only look: an identical call after nothing but these would see the same world again.
LOOKING_TOOL = re.compile(r"read|view|glob|grep|list|^ls$|search|find|fetch|cat\b", re.IGNORECASE)
# Files a model may fairly look for unprompted; a miss costs one tool error, not a wrong answer.
WELL_KNOWN_FILES = frozenset(name.lower() for name in (
    "README", "README.md", "README.rst", "README.txt", "LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "AGENTS.md",
    "CLAUDE.md", "package.json", "tsconfig.json", "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt",
    "Cargo.toml", "go.mod", "Makefile", "Dockerfile", "docker-compose.yml", ".gitignore", ".env.example"))
GLOB_CHARS = re.compile(r"[*?\[\]{}\n]")
PATH_VALUE = re.compile(r"(?:~|\.{1,2})?/?[\w.@+-]+(?:/[\w.@+-]+)*/?")
EXTENSION = re.compile(r"\.[A-Za-z]\w{0,9}$")
# OpenCode's read output, for an attached file and for its read tool: `<path>..</path><type>file</type><content>`.
OPENCODE_FILE = re.compile(r"<path>([^<\n]+)</path>\s*<type>file</type>\s*<content>\n?(.*?)</content>", re.DOTALL)
CONTINUE_FILE = re.compile(r'<context name="([^"\n]+)">\n?(.*?)</context>', re.DOTALL)  # an attached file
LINE_NUMBER = re.compile(r"^ *\d+(?:: ?|\| ?|\t|→)")  # OpenCode "1: ", older "00001| ", Claude Code "   1\t"
FILE_TRAILER = re.compile(r"^\((?:End of file|File has more lines)[^\n]*\)\s*$", re.MULTILINE)
PARTIAL_VIEW = re.compile(r"has more lines|truncated|use 'offset'|beyond line", re.IGNORECASE)
TOOL_ERROR = re.compile(r"^\s*error\b|not found|no such file|does not exist|failed to|could not", re.IGNORECASE)
TRANSIENT = re.compile(r"timed? ?out|timeout|aborted|interrupted|rate limit", re.IGNORECASE)

def tool_call_verdict(messages: Sequence[Message], calls: Sequence[dict[str, Any]],
                      tools: Sequence[dict[str, Any]] | None) -> Verdict:
    """Whether an answer's tool calls are ones the client can run and that move the task on.

    `messages` is the chat the answer responds to, `calls` its `tool_calls`, `tools` the request's
    offered tools. Each call must name an offered tool with arguments that are JSON and fit its
    schema; it must not repeat a call whose result already came back with nothing changed since;
    a read or edit must name a path the conversation mentions; an edit's old text must be in the
    file as the conversation shows it. 1.0 when all pass, else -max(0.5, share of bad calls).
    """
    if not calls:
        return Verdict(None, "no tool calls")
    functions = [t.get("function") or {} for t in tools or [] if isinstance(t, dict)]
    offered = {f["name"]: f for f in functions if isinstance(f.get("name"), str)}
    seen = _Conversation.of(messages)
    problems = [p for i, call in enumerate(calls, 1) if (p := _call_problem(i, call, offered, seen))]
    if problems:
        value = -max(0.5, len(problems) / len(calls))
        return Verdict(value, problems[0], f"{len(problems)}/{len(calls)} calls")
    return Verdict(1.0, f"{len(calls)} tool call(s) valid")


# Tool calls


@dataclass(frozen=True)
class _PastCall:
    name: str
    arguments: Any
    result: str | None  # None until the client sends the tool message back
    turn: int  # index of the assistant message that made it


@dataclass
class _Conversation:
    """What the answer can know: every word so far, the calls made, and the files as last shown."""

    text: str  # lowercased
    calls: list[_PastCall]
    since: int  # index of the last user message: repeats are looked for after it
    files: dict[str, str | None]  # path -> content as the conversation shows it; None once it may have changed

    @classmethod
    def of(cls, messages: Sequence[Message]) -> _Conversation:
        results = {m.get("tool_call_id"): message_text(m) for m in messages if m.get("role") == "tool"}
        seen = cls("", [], 0, {})
        words: list[str] = []
        for turn, message in enumerate(messages):
            content = message_text(message)
            words.append(content)
            if message.get("role") == "user":
                seen.since = turn
            if message.get("role") in ("user", "tool"):  # attached files, and what a read tool returned
                for path, body in [*OPENCODE_FILE.findall(content), *CONTINUE_FILE.findall(content)]:
                    seen.files[path.strip()] = None if PARTIAL_VIEW.search(body) else _file_text(body)
            for call in (message.get("tool_calls") or []) if message.get("role") == "assistant" else []:
                call = call if isinstance(call, dict) else {}
                function = call.get("function") or {}
                words.append(str(function.get("arguments") or ""))
                past = _PastCall(str(function.get("name")), _arguments(function)[0], results.get(call.get("id")), turn)
                seen.calls.append(past)
                seen.follow(past)
        seen.text = "\n".join(words).lower()
        return seen

    def follow(self, call: _PastCall) -> None:
        """Update the files as `call` would have changed them (or left them unknown)."""
        values = call.arguments if isinstance(call.arguments, dict) else {}
        paths = _paths(values)
        if call.result is not None and TOOL_ERROR.search(call.result[:200]) and not OPENCODE_FILE.search(call.result):
            return  # it failed: nothing was shown and nothing changed
        if (edit := _replacement(values)) and paths:
            if (key := known_path(self.files, paths[0])) is not None:
                old, new, content = *edit, self.files[key]
                # Only an exact replacement has a known result; after a fuzzy one the text is unknown.
                self.files[key] = content.replace(old, new, 1) if content and old and old in content else None
        elif NEW_FILE_TOOL.search(call.name) and paths and isinstance(values.get("content"), str):
            self.files[paths[0]] = values["content"]
        elif call.result is not None and re.search(r"read|view|cat\b|open", call.name, re.IGNORECASE) and paths:
            if not OPENCODE_FILE.search(call.result):
                partial = PARTIAL_VIEW.search(call.result) or values.get("offset") not in (None, 0, 1)
                self.files[paths[0]] = None if partial else _file_text(call.result)
        elif not LOOKING_TOOL.search(call.name):  # a shell `sed -i greet.py` may have changed a file
            arguments = json.dumps(values).lower()
            for key in self.files:
                if _basename(key) in arguments:
                    self.files[key] = None


def _call_problem(index: int, call: dict[str, Any], offered: dict[str, dict[str, Any]],
                  seen: _Conversation) -> str | None:
    function = call.get("function") or {}
    name = function.get("name")
    if name not in offered:
        known = ", ".join(sorted(str(n) for n in offered)) or "none were offered"
        return f"tool call {index} names {name!r}, which is not offered ({known})"
    values, error = _arguments(function)
    if error:
        return f"tool call {index} ({name}) arguments are not valid JSON: {error}"
    if problem := _schema_problem(index, name, values, offered[name].get("parameters")):
        return problem
    if not isinstance(values, dict):
        return None
    return (_repeat_problem(index, name, values, seen) or _path_problem(index, name, values, seen)
            or _old_text_problem(index, name, values, seen))


def _schema_problem(index: int, name: str, values: Any, schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    try:
        # validator_for reads `$schema`: OpenCode's draft 2020-12 schemas get 2020-12 rules (exclusiveMinimum
        # a number). Remote `$ref`s are never fetched; they are unresolvable here.
        validator = validator_for(schema)
        validator.check_schema(schema)
        error = best_match(validator(schema).iter_errors(values))
    except (SchemaError, UnknownType, Unresolvable):
        return None  # the client's schema is broken, not the model's call
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        return f"tool call {index} ({name}) arguments fail the schema{f' at {where}' if where else ''}: {error.message}"
    return None


def _repeat_problem(index: int, name: str, values: dict[str, Any], seen: _Conversation) -> str | None:
    """The same call again, in this turn, when only looking calls came between: an agent in a loop."""
    recent = [c for c in seen.calls if c.turn > seen.since]
    for at, past in enumerate(recent):
        if past.name != name or past.arguments != values or past.result is None or TRANSIENT.search(past.result):
            continue
        if all(LOOKING_TOOL.search(later.name) for later in recent[at + 1:]):
            shown = json.dumps(values, ensure_ascii=False)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            return f"tool call {index} ({name}) repeats an earlier call, {shown}, whose result already came back"
    return None


def _path_problem(index: int, name: str, values: dict[str, Any], seen: _Conversation) -> str | None:
    """A read or edit of a path mentioned nowhere: a guessed file. Writes and new files are never held against."""
    if not EXISTING_FILE_TOOL.search(name) or NEW_FILE_TOOL.search(name) or values.get("command") == "create":
        return None
    if (edit := _replacement(values)) and not edit[0]:
        return None  # an empty old text makes the file (OpenCode's edit, Claude Code's Edit)
    for path in _paths(values):
        base = _basename(path)
        if not base or base in WELL_KNOWN_FILES or GLOB_CHARS.search(path) or "://" in path:
            continue
        # The name or its stem: "the pager" makes pager.py a fair guess; "src/app.py" vouches for "src".
        names = {base, stem} if len(stem := base.rsplit(".", 1)[0]) >= 3 else {base}
        if not any(re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", seen.text) for n in names):
            return f"tool call {index} ({name}) names {path!r}, a path the conversation never mentions"
    return None


def _old_text_problem(index: int, name: str, values: dict[str, Any], seen: _Conversation) -> str | None:
    """An edit whose old text is not in the file as last shown; whitespace is forgiven, as OpenCode does."""
    edit, paths = _replacement(values), _paths(values)
    if not edit or not paths or (key := known_path(seen.files, paths[0])) is None:
        return None
    (old, new), content = edit, seen.files[key]
    if content is None or not old:
        return None  # the file is not shown as it now is, or the edit rewrites it whole
    if old not in content and " ".join(old.split()) not in " ".join(content.split()):
        which = next(k for k in OLD_TEXT_KEYS if k in values)
        return f"tool call {index} ({name}) {which} is not in {paths[0]} as the conversation shows it"
    seen.files[key] = content.replace(old, new, 1) if old in content else None  # what a later call edits
    return None


def _file_text(shown: str) -> str:
    """The file as a read tool showed it: line-number prefixes and OpenCode's trailer removed."""
    shown = FILE_TRAILER.sub("", shown).rstrip("\n")
    lines = shown.split("\n")
    if sum(bool(LINE_NUMBER.match(line)) for line in lines) >= 0.8 * len(lines):
        lines = [LINE_NUMBER.sub("", line, count=1) for line in lines]
    return "\n".join(lines)


def _replacement(values: dict[str, Any]) -> tuple[str, str] | None:
    """The (old, new) text of an edit call, or None for any other call (MultiEdit's list is not read)."""
    old = next((values[k] for k in OLD_TEXT_KEYS if isinstance(values.get(k), str)), None)
    new = next((values[k] for k in NEW_TEXT_KEYS if isinstance(values.get(k), str)), "")
    return None if old is None else (old, new)


def _paths(values: dict[str, Any]) -> list[str]:
    """String arguments that name a path: under a path key, or shaped like a path under any other."""
    found = []
    for key, value in values.items():
        plain = key.lower().replace("_", "").replace("-", "")
        if not isinstance(value, str) or not value.strip() or plain in TEXT_KEYS:
            continue
        if plain in PATH_KEYS or (PATH_VALUE.fullmatch(value) and ("/" in value or EXTENSION.search(value))):
            found.append(value.strip())
    return found


def known_path(files: dict[str, Any], path: str) -> str | None:
    """The shown file `path` names: the same path, or one ending in the other (relative against absolute)."""
    want = _normal(path)
    for key in files:
        have = _normal(key)
        if have == want or have.endswith("/" + want) or want.endswith("/" + have):
            return key
    return None


def _normal(path: str) -> str:
    path = path.strip().replace("\\", "/").rstrip("/")
    return path[2:] if path.startswith("./") else path


def _basename(path: str) -> str:
    """The last part of `path`, lowercased; "" for ".", ".." and "~", which name no particular file."""
    base = _normal(path).rsplit("/", 1)[-1].lower()
    return "" if base in (".", "..", "~") else base


def _arguments(function: dict[str, Any]) -> tuple[Any, str | None]:
    """A call's arguments decoded, and why they are not JSON (None when they are)."""
    arguments = function.get("arguments") or "{}"
    try:
        return (json.loads(arguments) if isinstance(arguments, str) else arguments), None
    except json.JSONDecodeError as exc:
        return None, exc.msg
