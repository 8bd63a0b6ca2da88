"""Code in a chat answer: find its fenced blocks, parse them, run them against examples.

The quality scorer (quality.py) asks three things of an answer's code: does
each block parse, what examples does the task (or the answer itself) state,
and does the code meet them when run. The run happens in the sandbox
(sandbox.py); this module only writes the program that runs there and reads
its report back.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import textwrap
import tomllib
from dataclasses import dataclass

import yaml

from proxy.sandbox import RunResult

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3", "pycon"})
LANGUAGE_TAGS = {"json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml"} | {t: "python" for t in PYTHON_TAGS}
# An untagged block is taken for Python only when it opens like Python.
PYTHON_OPENING = re.compile(r"^\s*(def |class |import |from \S+ import |@\w|async def )")
# aider's SEARCH/REPLACE edits and REPL sessions sit in python fences but are not programs.
NOT_A_PROGRAM = re.compile(r"^(<<<<<<< SEARCH|>>>>>>> REPLACE|>>> )", re.MULTILINE)
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^\n`]*$")
MAX_EXAMPLES = 25
RESULT_MARKER = "@@hermes-examples@@"
BUILTIN_NAMES = frozenset(dir(builtins))

# Examples written as prose, as HumanEval and most code prompts do:
#   f(2, 3) == 5    f([1]) ➞ True    f('a') => 'b'    f(0) returns 1    f(3) should return 4
IO_PAIR = re.compile(
    r"^\s*(?:[*\-•]\s*|for\s+|e\.g\.?,?\s*|example:\s*)?(?P<expr>[A-Za-z_][\w.]*\(.*\))\s*(?:#\s*)?"
    r"(?P<op>==>|==|=>|->|➞|→|=|returns|should return|should be|gives)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
INPUT_OUTPUT = re.compile(r"Input\s*:\s*(?P<input>.+?)\n\s*Output\s*:\s*(?P<output>[^\n]+)", re.DOTALL | re.IGNORECASE)
FOR_THE_OUTPUT = re.compile(
    r"^\s*For\s+(?P<args>[A-Za-z_]\w*\s*=.+?),?\s+the\s+(?:output|result)\s+should\s+be\s+(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
JS_LITERALS = {"true": "True", "false": "False", "null": "None", "none": "None"}


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of an answer; `language` is "" when the fence names none."""

    index: int  # 1-based, in order of appearance
    language: str
    code: str
    closed: bool


@dataclass(frozen=True)
class Example:
    """A stated behaviour: `expr` should produce `expected`, or `source` (an assert) should hold."""

    text: str  # as written, for messages
    expr: str = ""
    expected: str = ""
    source: str = ""  # a statement to execute: an assert, or a doctest's setup line
    counts: bool = True  # False for a setup line: run for its effect, neither passed nor failed


@dataclass(frozen=True)
class RunReport:
    """What running an answer's code against its examples showed."""

    passed: int
    total: int
    error: str  # the code failed before any example ran ("" when it loaded)
    failures: tuple[str, ...]
    missing_module: str = ""  # the code needs a module the sandbox's Python lacks


def fenced_blocks(text: str) -> list[CodeBlock]:
    """Every ``` or ~~~ fenced block, an unclosed last one included (a truncated answer)."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, language = opening.group(1), opening.group(2).lower()
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[:3]):
            body.append(lines[i])
            i += 1
        closed = i < len(lines)
        blocks.append(CodeBlock(len(blocks) + 1, language, "\n".join(body), closed))
        i += 1
    return blocks


def language_of(block: CodeBlock) -> str | None:
    """The language a block is judged as, or None when no cheap parser applies."""
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
    try:
        if language == "python":
            ast.parse(textwrap.dedent(block.code))
        elif language == "json":
            json.loads(block.code)
        elif language == "yaml":
            for _ in yaml.safe_load_all(block.code):
                pass
        elif language == "toml":
            tomllib.loads(block.code)
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno})"
    except json.JSONDecodeError as exc:
        return f"{exc.msg} (line {exc.lineno})"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return f"{getattr(exc, 'problem', None) or exc}" + (f" (line {mark.line + 1})" if mark else "")
    except tomllib.TOMLDecodeError as exc:
        return str(exc)
    return None


def python_sources(text: str) -> list[str]:
    """The Python programs in `text` that parse: its python blocks, else the whole text if it is code."""
    blocks = fenced_blocks(text)
    sources = [textwrap.dedent(b.code) for b in blocks if language_of(b) == "python"]
    if not blocks and PYTHON_OPENING.match(text):
        sources = [text]
    return [source for source in sources if _parses(source)]


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def find_examples(text: str) -> list[Example]:
    """Examples stated in prose or docstrings: doctest lines, `assert` lines and input/output pairs."""
    examples: list[Example] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(">>> "):
            i = _read_doctest(lines, i, examples)
            continue
        if stripped.startswith("assert ") and _parses(stripped):
            examples.append(Example(stripped, source=stripped))
        else:
            pair = _io_pair(stripped)
            if pair:
                examples.append(pair)
        i += 1
    return examples


def _read_doctest(lines: list[str], i: int, examples: list[Example]) -> int:
    indent = lines[i].index(">>>")
    source = [lines[i].strip()[4:]]
    i += 1
    while i < len(lines) and (lines[i].strip().startswith("... ") or lines[i].strip() == "..."):
        source.append(lines[i].strip()[4:])
        i += 1
    expected: list[str] = []
    while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
        if lines[i].strip() in ('"""', "'''") or lines[i].lstrip().startswith(("```", "~~~")):
            break
        expected.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i].strip())
        i += 1
    code = "\n".join(source)
    wanted = "\n".join(expected).strip().removesuffix('"""').removesuffix("'''").rstrip()
    if " at 0x" in wanted or "..." in wanted:  # object addresses and ellipses: doctest options we do not mimic
        return i
    if wanted and _parses_as_expression(code):
        examples.append(Example(f">>> {code}", expr=code, expected=wanted))
    elif not wanted and _is_comparison(code):  # `>>> f(x) == 3` with no output line: meant as a check
        examples.append(Example(f">>> {code}", source=f"assert {code}"))
    elif not wanted and _parses(code):
        examples.append(Example(f">>> {code}", source=code, counts=False))
    return i


def _is_comparison(code: str) -> bool:
    try:
        return isinstance(ast.parse(code, mode="eval").body, ast.Compare)
    except SyntaxError:
        return False


def _parses_as_expression(code: str) -> bool:
    try:
        ast.parse(code, mode="eval")
    except SyntaxError:
        return False
    return True


def _io_pair(line: str) -> Example | None:
    match = IO_PAIR.match(line)
    if not match or line.startswith("def "):
        return None
    expr = match.group("expr")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None
    if not isinstance(tree.body, ast.Call):
        return None
    value = _literal_text(match.group("value"))
    if value is None:
        return None
    return Example(line, expr=expr, expected=value)


def stated_calls(text: str, function: str) -> list[Example]:
    """Examples that name only the arguments, for the one function a task asks for.

    Covers "Input: [4,2,3]  Output: [2, 1]" (LeetCode style, arguments as
    literals or `name = value` / `name : value` lines) and "For s = "ab", c = "b"
    the result should be 'a'". Arguments are passed in the order written.
    """
    examples = []
    for match in INPUT_OUTPUT.finditer(text):
        lines = [line.strip().rstrip(",") for line in match.group("input").strip().splitlines() if line.strip()]
        examples += _stated_call(function, ", ".join(lines), match.group("output"), match.group(0))
    for line in text.splitlines():
        if match := FOR_THE_OUTPUT.match(line):
            examples += _stated_call(function, match.group("args"), match.group("value"), line.strip())
    return examples


def _stated_call(function: str, arguments: str, output: str, text: str) -> list[Example]:
    arguments = re.sub(r"(^|,\s*)([A-Za-z_]\w*)\s*:\s*", r"\1\2=", arguments)
    expected = _literal_text(output)
    try:
        call = ast.parse(f"_({arguments})", mode="eval").body
    except SyntaxError:
        return []
    if expected is None or not isinstance(call, ast.Call):
        return []
    values = [*call.args, *(k.value for k in call.keywords)]
    if not values or not all(_is_literal(v) for v in values):
        return []
    expr = f"{function}({', '.join(ast.unparse(v) for v in values)})"
    return [Example(" ".join(text.split())[:100], expr=expr, expected=expected)]


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, RecursionError):
        return False
    return True


def _literal_text(value: str) -> str | None:
    """`value` as a Python literal's source, or None when it is not one (prose, arithmetic)."""
    value = value.split(" #")[0].strip()
    for candidate in (value, value.rstrip(".,;"), JS_LITERALS.get(value.rstrip(".,;").lower(), "")):
        try:
            ast.literal_eval(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return candidate
    return None


@dataclass(frozen=True)
class RunPlan:
    """What to run: the task's context code, the answer's code, and the examples it should meet."""

    context: str
    code: str
    examples: tuple[Example, ...]  # setup lines included; `counted` says how many are checks
    missing: tuple[str, ...]  # functions the examples call that the answer never defines
    unmet: int  # examples calling those: each counts as failed

    @property
    def counted(self) -> int:
        return sum(1 for e in self.examples if e.counts)


def plan_run(task: str, answer: str, code_task: bool) -> RunPlan | str:
    """A plan for running the answer's code against the examples, or why there is nothing to run.

    Examples come from the task text and from the answer (its docstrings,
    asserts, `print(f(x))  # 5` lines). One is run when it calls a function
    the answer defines. When it calls one that the task's code only stubs (or,
    with no code in the task, one the answer never defines), and `code_task`
    says code was asked for, the answer fails it.
    """
    context = "\n\n".join(python_sources(task))
    sources = python_sources(answer)
    code, own = split_answer_code("\n\n".join(sources)) if sources else ("", [])
    stubs = _stubs(context) if context else set()
    stated = stated_calls(task, next(iter(stubs))) if len(stubs) == 1 else []
    examples = _unique(find_examples(task) + stated + own + find_examples(answer))
    if not examples:
        return "no examples to run in the task or the answer"
    answer_defs = defined_names(code) if code else set()
    context_defs = defined_names(context) if context else set()
    runnable: list[Example] = []
    unmet: list[Example] = []
    for example in examples:
        targets = example_targets(example)
        if targets & answer_defs or not example.counts:
            runnable.append(example)
        elif code_task and (targets & stubs or targets and not context_defs):
            unmet.append(example)
    if not any(e.counts for e in runnable):
        runnable = []
    if not runnable and not unmet:
        return "the examples call no function the answer defines"
    missing = sorted(set().union(*(example_targets(e) for e in unmet)))
    return RunPlan(context, code, tuple(runnable[:MAX_EXAMPLES]), tuple(missing), len(unmet))


def _unique(examples: list[Example]) -> list[Example]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for example in examples:
        key = (_normal(example.source or example.expr), example.expected)
        if key not in seen:
            seen.add(key)
            unique.append(example)
    return unique


def _normal(code: str) -> str:
    try:
        return ast.unparse(ast.parse(code))
    except SyntaxError:
        return code


def split_answer_code(source: str) -> tuple[str, list[Example]]:
    """The answer's code without its own checks, and those checks as examples.

    Top-level asserts and an `if __name__ == "__main__":` block become examples
    (each assert counts on its own); so do `print(f(x))  # 5` lines there.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    examples: list[Example] = []
    drop: set[int] = set()
    for node in tree.body:
        guarded = _is_main_guard(node)
        for statement in node.body if guarded else [node]:  # type: ignore[attr-defined]
            example = _statement_example(statement, lines)
            if example:
                examples.append(example)
        if guarded or isinstance(node, ast.Assert):
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    kept = [line for number, line in enumerate(lines, 1) if number not in drop]
    return "\n".join(kept), examples


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = ast.unparse(node.test)
    return "__name__" in test and "__main__" in test


def _statement_example(statement: ast.stmt, lines: list[str]) -> Example | None:
    text = ast.unparse(statement)
    if isinstance(statement, ast.Assert):
        return Example(text, source=text)
    call = statement.value if isinstance(statement, ast.Expr) else None
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print" and len(call.args) == 1:
        comment = lines[(statement.end_lineno or statement.lineno) - 1].split("#", 1)
        if len(comment) == 2:
            said = re.sub(r"^\s*(output|outputs|prints|returns|expected|result)?\s*[:=>-]*\s*", "", comment[1], flags=re.I)
            value = _literal_text(said) if said.strip() else None
            if value is not None:
                return Example(f"{text}  # {said.strip()}", expr=ast.unparse(call.args[0]), expected=value)
    return None


def defined_names(source: str) -> set[str]:
    """The functions and classes that `source` defines at top level."""
    nodes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.parse(source).body if isinstance(node, nodes)}


def _stubs(source: str) -> set[str]:
    """Functions whose body is only a docstring, `pass`, `...`, imports or `raise NotImplementedError`: to be written."""
    stubs = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and all(_is_placeholder(s) for s in node.body):
            stubs.add(node.name)
    return stubs


def _is_placeholder(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Pass, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return isinstance(statement.value.value, str) or statement.value.value is Ellipsis
    return isinstance(statement, ast.Raise) and "NotImplementedError" in ast.unparse(statement)


def example_targets(example: Example) -> set[str]:
    """The non-builtin functions an example calls (what it tests)."""
    try:
        tree = ast.parse(example.source or example.expr)
    except SyntaxError:
        return set()
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name):
                called.add(func.id)
    return called - BUILTIN_NAMES


def harness(context: str, code: str, examples: list[Example], timeout_s: float) -> str:
    """The program the sandbox runs: context code, the answer's code, then each example in turn.

    `context` (the task's own code: imports, helpers, stubs) runs statement by
    statement with errors ignored, so the answer is judged as it would run in
    the user's file. The program prints one marked JSON line with the results.
    """
    cases = [{"text": e.text, "expr": e.expr, "expected": e.expected, "source": e.source, "counts": e.counts}
             for e in examples]
    budget = max(0.2, (timeout_s - 0.5) / (len(examples) + 2))
    return HARNESS.format(context=repr(context), code=repr(code), cases=repr(json.dumps(cases)),
                          budget=budget, marker=repr(RESULT_MARKER))


def read_report(result: RunResult, total: int) -> RunReport:
    """The harness's results from a sandboxed run; a run that died counts all `total` examples failed.

    The harness may judge fewer than `total`: an example that names an undefined
    variable (`f(a)` for f('a')) is prose, and is dropped.
    """
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER):])
            judged = total if data["total"] is None else data["total"]
            return RunReport(data["passed"], judged, data["error"], tuple(data["failures"]), data["missing_module"])
    if result.timed_out:
        why = "timed out"
    elif "MemoryError" in result.stderr:
        why = "ran out of memory"
    else:
        why = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
    return RunReport(0, total, f"the run {why}", ())


HARNESS = '''
import ast, io, json, math, os, signal, sys, contextlib
_out = os.dup(1)
_dumps, _write = json.dumps, os.write
class _Timeout(BaseException):
    pass
def _alarm(*_):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
def _timer(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)
def _literal(text):
    try:
        return True, ast.literal_eval(text)
    except Exception:
        return False, None
def _same(value, printed, expected):
    ok, literal = _literal(expected)
    if ok:
        try:
            if value == literal:
                return True
            if isinstance(value, (int, float)) and isinstance(literal, (int, float)) and not isinstance(value, bool):
                return math.isclose(value, literal, rel_tol=1e-6, abs_tol=1e-9)
        except Exception:
            pass
    return repr(value) == expected or str(value) == expected or (value is None and printed.strip() == expected.strip())
def _report(passed, error, failures, missing="", total=None):
    data = {{"passed": passed, "total": total, "error": error, "failures": failures[:5], "missing_module": missing}}
    _write(_out, ({marker} + _dumps(data) + "\\n").encode())
    os._exit(0)
sys.setrecursionlimit(3000)
ns = {{"__name__": "__hermes_answer__", "__builtins__": __builtins__}}
sink = io.StringIO()
with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
    try:
        for node in ast.parse({context}).body:
            try:
                exec(compile(ast.Module([node], []), "<task>", "exec"), ns)
            except Exception:
                pass
    except SyntaxError:
        pass
    try:
        _timer(max(1.0, {budget} * 2))
        exec(compile({code}, "<answer>", "exec"), ns)
        _timer(0)
    except ModuleNotFoundError as exc:
        _report(0, "the code needs module " + str(exc.name), [], str(exc.name))
    except BaseException as exc:
        _report(0, "the code fails when loaded: " + type(exc).__name__ + ((": " + str(exc)[:160]) if str(exc) else ""), [])
def _own_name_error(exc):
    tb = exc.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    return isinstance(exc, NameError) and tb.tb_frame.f_code.co_filename == "<example>"
passed, total, failures = 0, 0, []
for case in json.loads({cases}):
    printed = io.StringIO()
    why = ""
    try:
        _timer({budget})
        with contextlib.redirect_stdout(printed):
            if case["source"]:
                exec(compile(case["source"], "<example>", "exec"), ns)
                value = None
            else:
                value = eval(compile(case["expr"], "<example>", "eval"), ns)
        _timer(0)
        if case["expected"] and not _same(value, printed.getvalue(), case["expected"]):
            why = "got " + repr(value)[:80] + ", expected " + case["expected"][:80]
    except _Timeout:
        why = "timed out"
    except BaseException as exc:
        _timer(0)
        if _own_name_error(exc):  # `f(a)` meaning f('a'): the example is prose, not code
            continue
        if case["expected"].startswith("Traceback") and type(exc).__name__ in case["expected"]:
            why = ""
        else:
            why = "raised " + type(exc).__name__ + (": " + str(exc)[:80] if str(exc) else "")
    if not case["counts"]:
        continue
    total += 1
    if why:
        failures.append(case["text"][:100] + ": " + why)
    else:
        passed += 1
_report(passed, "", failures, total=total)
'''
