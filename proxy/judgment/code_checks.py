"""Code in a chat answer run against the examples its task and the answer state.

The quality scorer (quality.py) asks which examples the task and the answer
state, and whether the answer's code meets them. The run happens in the
sandbox (sandbox.py); this module plans it and writes the program that runs
there. Finding and parsing blocks is code_blocks.py; an answer in JavaScript
is planned and run by js_checks.py; plans and reports are run_plan.py's.
"""

from __future__ import annotations

import ast
import builtins
import json
import re

from proxy.judgment import js_checks
from proxy.judgment.code_blocks import UNPARSEABLE, parse, parse_python, python_sources
from proxy.judgment.run_plan import MAX_EXAMPLE_S, MAX_EXAMPLES, RESULT_MARKER, Example, RunPlan
from proxy.judgment.sandbox import node_launcher

BUILTIN_NAMES = frozenset(dir(builtins))
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)

# Examples written in prose, as HumanEval and most code prompts do:
#   f(2, 3) == 5    f([1]) ➞ True    f('a') => 'b'    f(0) returns 1    f(3) should return 4
IO_PAIR = re.compile(
    r"^\s*(?:[*\-•]\s*|for\s+|e\.g\.?,?\s*|example:\s*)?(?P<expr>[A-Za-z_][\w.]*\(.*\))\s*(?:#\s*)?"
    r"(?:==>|==|=>|->|➞|→|=|returns|should return|should be|gives)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
#   Input: [4,2,3]         (or `nums = [4,2,3], k = 2`, or `grid : [[0]]` lines)
#   Output: [2, 1]
INPUT_OUTPUT = re.compile(r"Input\s*:\s*(?P<input>.+?)\n\s*Output\s*:\s*(?P<output>[^\n]+)", re.DOTALL | re.IGNORECASE)
#   For s = "abcde", c = "ae", the result should be ('bcd', False)
FOR_THE_OUTPUT = re.compile(
    r"^\s*For\s+(?P<args>[A-Za-z_]\w*\s*=.+?),?\s+the\s+(?:output|result)\s+should\s+be\s+(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
JS_LITERALS = {"true": "True", "false": "False", "null": "None", "none": "None"}


def plan_run(task: str, answer: str, code_task: bool) -> RunPlan | str:
    """A plan for running the answer's code against the examples, or why there is nothing to run.

    Examples come from the task text and from the answer (docstrings, asserts,
    `print(f(x))  # 5` lines). One is run when it calls a function the answer
    defines. When it calls one that the task's code only stubs (or, with no
    code in the task, one the answer never defines), and `code_task` says code
    was asked for, the answer fails it. An answer in JavaScript goes to js_checks.
    """
    sources = python_sources(answer)
    if not sources and js_checks.answers_in_javascript(task, answer):
        return js_checks.plan_run(task, answer, code_task)
    context = "\n\n".join(python_sources(task))
    code, own = split_answer_code("\n\n".join(sources)) if sources else ("", [])
    stubs = stub_functions(context)
    stated = stated_calls(task, next(iter(stubs))) if len(stubs) == 1 else []
    examples = _unique(find_examples(task) + stated + own + find_examples(answer))
    if not examples:
        return "no examples to run in the task or the answer"
    answer_defs, context_defs = defined_names(code), defined_names(context)
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
        if stripped.startswith("assert ") and parse_python(stripped):
            examples.append(Example(stripped, source=stripped))
        elif (match := IO_PAIR.match(stripped)) and isinstance(call := getattr(parse_python(match["expr"], "eval"),
                                                                             "body", None), ast.Call):
            value = _literal_text(match["value"])
            if value is not None:
                examples.append(Example(stripped, expr=_printed_expr(call), expected=value))
        i += 1
    return examples


def _printed_expr(call: ast.Call) -> str:
    """`print(f(x))  #=> 3` states what `f(x)` gives, not what `print` returns: the expression to check."""
    if (isinstance(call.func, ast.Name) and call.func.id == "print" and len(call.args) == 1 and not call.keywords
            and not isinstance(call.args[0], ast.Starred)):
        return ast.unparse(call.args[0])
    return ast.unparse(call)


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
    tree = parse_python(code, "eval")
    if wanted and tree:
        examples.append(Example(f">>> {code}", expr=code, expected=wanted))
    elif tree and isinstance(tree.body, ast.Compare):  # type: ignore[attr-defined]
        examples.append(Example(f">>> {code}", source=f"assert {code}"))  # `>>> f(x) == 3`, no output: a check
    elif not wanted and parse_python(code):
        examples.append(Example(f">>> {code}", source=code, counts=False))
    return i


def stated_calls(text: str, function: str) -> list[Example]:
    """Examples that give only the arguments, for the one function a task asks for.

    "Input: ... Output: ..." (LeetCode style) and "For s = "ab", c = "b" the
    result should be 'a'". Arguments are passed in the order written.
    """
    examples = []
    for match in INPUT_OUTPUT.finditer(text):
        lines = [line.strip().rstrip(",") for line in match["input"].strip().splitlines() if line.strip()]
        examples += _stated_call(function, ", ".join(lines), match["output"], match[0])
    for line in text.splitlines():
        if match := FOR_THE_OUTPUT.match(line):
            examples += _stated_call(function, match["args"], match["value"], line)
    return examples


def _stated_call(function: str, arguments: str, output: str, text: str) -> list[Example]:
    arguments = re.sub(r"(^|,\s*)([A-Za-z_]\w*)\s*:\s*", r"\1\2=", arguments)  # `grid : [[0]]` -> grid=[[0]]
    call = getattr(parse_python(f"_({arguments})", "eval"), "body", None)
    expected = _literal_text(output)
    if expected is None or not isinstance(call, ast.Call):
        return []
    values = [*call.args, *(k.value for k in call.keywords)]
    if not values or any(_literal_text(ast.unparse(v)) is None for v in values):
        return []
    expr = f"{function}({', '.join(ast.unparse(v) for v in values)})"
    return [Example(" ".join(text.split())[:100], expr=expr, expected=expected)]


def _literal_text(value: str) -> str | None:
    """`value` as a Python literal's source, or None when it is not one (prose, arithmetic)."""
    value = value.split(" #")[0].strip()
    for candidate in (value, value.rstrip(".,;"), JS_LITERALS.get(value.rstrip(".,;").lower(), "")):
        try:
            ast.literal_eval(candidate)
        except (TypeError, *UNPARSEABLE):
            continue
        return candidate
    return None


def _unique(examples: list[Example]) -> list[Example]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for example in examples:
        if not example.counts:  # a setup line runs wherever it is written, repeats included
            unique.append(example)
            continue
        code = example.source or example.expr
        tree = parse_python(code)
        key = (ast.unparse(tree) if tree else code, example.expected)
        if key not in seen:
            seen.add(key)
            unique.append(example)
    return unique


def split_answer_code(source: str) -> tuple[str, list[Example]]:
    """The answer's code without its demo, and the demo as examples in the order it runs.

    Top-level asserts and `print(f(x))  # 5` lines, there or in an `if __name__ ==
    "__main__":` block, become examples (each counts on its own). The demo's other
    statements (`x = [5]`) from the first example on, and all of that block, become
    setup lines run in their place: each example sees the values the demo had when its
    comment was written, not the last ones. Top-level definitions stay in the code.
    """
    lines = source.splitlines()
    examples: list[Example] = []
    drop: set[int] = set()
    for node in parse(source).body:
        test = ast.unparse(node.test) if isinstance(node, ast.If) else ""
        guarded = "__name__" in test and "__main__" in test
        for statement in node.body if guarded else [node]:  # type: ignore[attr-defined]
            if example := _statement_example(statement, lines):
                examples.append(example)
            elif guarded or examples and not isinstance(statement, DEFINITIONS):
                examples.append(Example(ast.unparse(statement), source=ast.unparse(statement), counts=False))
        if guarded or examples and not isinstance(node, DEFINITIONS):
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return "\n".join(line for number, line in enumerate(lines, 1) if number not in drop), examples


def _statement_example(statement: ast.stmt, lines: list[str]) -> Example | None:
    text = ast.unparse(statement)
    if isinstance(statement, ast.Assert):
        return Example(text, source=text)
    call = statement.value if isinstance(statement, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"):
        return None
    comment = lines[(statement.end_lineno or statement.lineno) - 1].split("#", 1)
    said = re.sub(r"^\s*(output|outputs|prints|returns|expected|result)?\s*[:=>-]*\s*", "", comment[-1], flags=re.I)
    value = _literal_text(said) if len(call.args) == 1 and len(comment) == 2 and said.strip() else None
    if value is None:
        return None
    return Example(f"{text}  # {said.strip()}", expr=ast.unparse(call.args[0]), expected=value)


def defined_names(source: str) -> set[str]:
    """The functions and classes that `source` defines at top level."""
    nodes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in parse(source).body if isinstance(node, nodes)} if source else set()


def stub_functions(source: str) -> set[str]:
    """Functions still to be written: only a docstring, `pass`, `...`, imports or `raise NotImplementedError`."""
    if not source:
        return set()
    functions = [n for n in parse(source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return {f.name for f in functions if all(is_placeholder(s) for s in f.body)}


def is_placeholder(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Pass, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return isinstance(statement.value.value, str) or statement.value.value is Ellipsis
    return isinstance(statement, ast.Raise) and "NotImplementedError" in ast.unparse(statement)


def example_targets(example: Example) -> set[str]:
    """The non-builtin functions an example calls (what it tests)."""
    called = set()
    for node in ast.walk(parse_python(example.source or example.expr) or ast.Module([], [])):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name):
                called.add(func.id)
    return called - BUILTIN_NAMES


def harness(plan: RunPlan, timeout_s: float) -> str:
    """The program the sandbox runs: the task's code, the answer's code, then each example in turn.

    The task's code (imports, helpers, stubs) runs statement by statement with
    errors ignored, so the answer is judged as it would run in the user's file.
    Each example has its own time limit. The program prints one marked JSON line.
    A JavaScript plan gets a Python program that becomes Node running js_checks' harness.
    """
    if plan.language != "python":
        return node_launcher(js_checks.harness(plan, timeout_s))
    cases = [{"text": e.text, "expr": e.expr, "expected": e.expected, "source": e.source, "counts": e.counts}
             for e in plan.examples]
    budget = min(MAX_EXAMPLE_S, max(0.2, (timeout_s - 0.5) / (len(cases) + 2)))
    return HARNESS.format(context=repr(plan.context), code=repr(plan.code), cases=repr(json.dumps(cases)),
                          budget=budget, marker=repr(RESULT_MARKER))


HARNESS = '''
import ast, contextlib, io, json, math, os, signal, sys
_out, _dumps, _write = os.dup(1), json.dumps, os.write
class _Timeout(BaseException):
    pass
def _alarm(*_):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
def _timer(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)
def _same(value, printed, expected):
    try:
        literal = ast.literal_eval(expected)
        if value == literal:
            return True
        if expected.startswith("(") and expected.endswith(")") and value == (literal,):  # prose `("Venus")`
            return True
        if value is None and printed.strip() and ast.literal_eval(printed.strip()) == literal:  # it prints it
            return True
        if isinstance(value, (int, float)) and isinstance(literal, (int, float)) and not isinstance(value, bool):
            return math.isclose(value, literal, rel_tol=1e-6, abs_tol=1e-9)
    except Exception:
        pass
    return repr(value) == expected or str(value) == expected or (value is None and printed.strip() == expected.strip())
def _report(passed=0, total=0, error="", failures=(), missing=""):
    data = {{"passed": passed, "total": total, "error": error, "failures": failures[:5], "missing": missing}}
    _write(_out, ({marker} + _dumps(data) + "\\n").encode())
    os._exit(0)
def _own_name_error(exc):
    tb = exc.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    return isinstance(exc, NameError) and tb.tb_frame.f_code.co_filename == "<example>"
sys.setrecursionlimit(3000)
ns = {{"__name__": "__hermes_answer__", "__builtins__": __builtins__}}
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for node in ast.parse({context}).body:
        try:
            exec(compile(ast.Module([node], []), "<task>", "exec"), ns)
        except Exception:
            pass
    try:
        _timer(max(1.0, {budget} * 2))
        exec(compile({code}, "<answer>", "exec"), ns)
        _timer(0)
    except ModuleNotFoundError as exc:
        _report(error="the code needs module " + str(exc.name), missing=str(exc.name))
    except _Timeout:
        _report(error="the code does not finish loading")
    except BaseException as exc:
        said = (": " + str(exc)[:160]) if str(exc) else ""
        _report(error="the code fails when loaded: " + type(exc).__name__ + said)
passed, total, failures = 0, 0, []
for case in json.loads({cases}):
    printed, why = io.StringIO(), ""
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
        if not (case["expected"].startswith("Traceback") and type(exc).__name__ in case["expected"]):
            why = "raised " + type(exc).__name__ + (": " + str(exc)[:80] if str(exc) else "")
    if case["counts"]:
        total += 1
        passed += not why
        failures += [case["text"][:100] + ": " + why] if why else []
_report(passed, total, "", failures)
'''
