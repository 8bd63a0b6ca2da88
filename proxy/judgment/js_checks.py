"""JavaScript answers run against the examples their task and they themselves state, with Node.

The Python checks (code_checks.py) hand an answer here when its code is
JavaScript or TypeScript. Examples are found in the task and in the answer's
comments (JSDoc `@example`, `// >>> f(x)` doctest lines, `f(x) // => y`), and
in the answer's own code: `console.log(f(x)) // => y` lines and `assert`,
`console.assert` and `expect(...)` statements are checked where they stand, so
each sees the values the demo had there; `test`/`it` blocks count one each.
The harness (js_harness.py) runs in the same sandbox as Python's, through
`sandbox.node_launcher`, and reports in the same marked line (run_plan.py).

TypeScript: node 20 cannot strip types, and a regex stripper would misjudge
good code. A TypeScript block runs when it is also plain JavaScript; when it
does not compile, the run reports the module "typescript" missing, so the
signal is skipped rather than failed.
"""

from __future__ import annotations

import json
import re

from proxy.judgment import js_source
from proxy.judgment.code_blocks import fenced_blocks, python_sources
from proxy.judgment.js_harness import HARNESS
from proxy.judgment.run_plan import MAX_EXAMPLE_S, MAX_EXAMPLES, RESULT_MARKER, Example, RunPlan
from proxy.judgment.sandbox import node_status

# `f(x) // => y`, `f(x) === y`, `f(x) ➞ y`, `f(x) returns y`: a call, what joins it to a value, the value.
PROSE_PAIR = re.compile(
    r"^(?P<expr>[A-Za-z_$][\w$.]*\s*\(.*\))\s*;?\s*(?://\s*)?(?:===|==>|==|=>|->|➞|→|//|returns|should return|"
    r"should be|gives)\s*(?P<value>.+?)\s*$"
)
# The comment after a `console.log(...)`: an optional marker, then what it prints. Text that is
# no literal counts as printed output only after an arrow or a colon (`// Output: hello`).
PRINTED = re.compile(
    r"^\s*(?:(?P<arrow>=>|->|→|➞|==>)|(?:output|outputs|prints|logs|returns|expected|result|should (?:be|print|log|"
    r"return))\s*(?P<colon>:)?)?\s*(?P<value>.+?)\s*$", re.IGNORECASE
)
PROSE_LEAD = re.compile(r"^\s*(?:/\*\*?|\*/|\*|//)?\s*(?:@example\b:?|[-•]\s+|e\.g\.?,?|examples?:|for example[,:]?)?\s*",
                        re.IGNORECASE)
KEYWORD_CALLS = re.compile(r"^(?:if|while|for|switch|return|function|catch|typeof|new)\b")
CHECK_OPENING = re.compile(r"^(?:console\.assert|assert(?:\.\w+)?|expect)\s*\(")
TEST_BLOCK = re.compile(r"^\s*(?:test|it|describe)(?:\.only)?\s*\(", re.MULTILINE)
MAIN_GUARD = re.compile(r"^\s*if\s*\(\s*require\.main\s*===?\s*module\s*\)\s*\{\s*$")
LITERAL_TOKEN = re.compile(
    r"\s+|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|`[^`$\\]*`|-?(?:0x[0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|"
    r"\.\d+)n?|[A-Za-z_$][\w$]*|[\[\]{},:]|-"
)
LITERAL_WORDS = frozenset("true false null undefined NaN Infinity".split())
PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
IMPORT = re.compile(r"^(\s*)import\s+(?:(?P<default>[\w$]+)|\*\s+as\s+(?P<star>[\w$]+)|\{(?P<names>[^}]*)\})"
                    r"\s+from\s+(?P<module>['\"][^'\"]+['\"])\s*;?")


def answers_in_javascript(task: str, answer: str) -> bool:
    """True when the answer's code is JavaScript, or it has no code and the task is JavaScript."""
    if js_source.javascript_blocks(answer):
        return True
    if fenced_blocks(answer) or python_sources(answer):
        return False
    return bool(js_source.javascript_blocks(task))


def plan_run(task: str, answer: str, code_task: bool) -> RunPlan | str:
    """A plan for running a JavaScript answer against its examples, or why there is none (as plan_run in Python)."""
    blocks = js_source.javascript_blocks(answer)
    language = "typescript" if any(lang == "typescript" for lang, _ in blocks) else "javascript"
    code, inline = instrument(as_script(_merged([code for _, code in blocks])))
    comments = "\n".join(js_source.comment_text(js_source.scan(c)) for _, c in blocks)
    task_defs = set().union(*(js_source.declared_names(c) for _, c in js_source.javascript_blocks(task)))
    inline += [Example(f"test block {n + 1}", inline=True) for n in range(len(TEST_BLOCK.findall(code)))]
    examples = _unique(inline, find_examples(task) + find_examples(comments + "\n" + _prose(answer)))
    if not examples:
        return "no examples to run in the task or the answer"
    answer_defs = js_source.declared_names(code)
    runnable, unmet = list(inline), []
    for example in examples[len(inline):]:
        targets = js_source.called_names(example.source or example.expr)
        if targets & answer_defs or not example.counts:
            runnable.append(example)
        elif code_task and targets and (targets & task_defs or not task_defs):
            unmet.append(example)
    if not any(e.counts for e in runnable):
        runnable = []
    if not runnable and not unmet:
        return "the examples call no function the answer defines"
    if runnable:
        status = node_status()  # probed once per process, and only when there is JavaScript to run
        if not status.available:
            return status.reason
    missing = sorted(set().union(*(js_source.called_names(e.source or e.expr) for e in unmet)))
    return RunPlan("", code, tuple(runnable[:MAX_EXAMPLES]), tuple(missing), len(unmet), language)


def find_examples(text: str) -> list[Example]:
    """Examples stated in prose or comments: `>>>` doctest lines, `f(x) // => y` pairs, asserts."""
    examples: list[Example] = []
    raw = text.splitlines()
    lines = [PROSE_LEAD.sub("", line, count=1).strip() for line in raw]
    i = 0
    while i < len(lines):
        line = lines[i].removeprefix("`").removesuffix("`")
        i += 1
        if line.startswith(">>> "):
            said, prefix = [], _comment_prefix(raw[i - 1])
            # The output ends at a blank line, the next `>>>`, or where the comment does (`// 3` then code).
            while i < len(lines) and lines[i] and not lines[i].startswith(">>>") and _comment_prefix(raw[i]) == prefix:
                said.append(lines[i])
                i += 1
            examples += _doctest(line[4:].strip().rstrip(";"), " ".join(said))
        elif CHECK_OPENING.match(line):
            examples.append(Example(line, source=line))
        elif example := _console_example(line, js_source.scan(line)) or _prose_pair(line):
            examples.append(example)
    return examples


def _comment_prefix(line: str) -> str:
    return re.match(r"\s*(//|\*|/\*)?", line).group(1) or ""  # type: ignore[union-attr]


def _doctest(expr: str, said: str) -> list[Example]:
    if not said:
        statement = re.match(r"^(?:const|let|var)\s+[\w$]+\s*=", expr)
        return [Example(f">>> {expr}", source=expr.replace("const ", "var ", 1), counts=False)] if statement else []
    value = js_literal(said)
    return [Example(f">>> {expr}", expr=expr, expected=value)] if value is not None and _is_call(expr) else []


def _prose_pair(line: str) -> Example | None:
    match = PROSE_PAIR.match(line)
    if not match or KEYWORD_CALLS.match(line) or not _is_call(match["expr"]):
        return None
    value = js_literal(match["value"])
    return Example(line, expr=match["expr"], expected=value) if value is not None else None


def _console_example(line: str, scanned: js_source.Scanned) -> Example | None:
    """`console.log(EXPR)  // => y` as an example of EXPR; None when the line is not one."""
    opening = re.match(r"\s*console\.log\s*\(", scanned.masked)
    if not opening:
        return None
    end = js_source.closing_paren(scanned.masked, opening.end() - 1)
    rest = scanned.masked[end:].strip().removeprefix(";").strip() if end > 0 else "x"
    inner = scanned.masked[opening.end():end - 1]
    if rest or not inner.strip() or js_source.top_level_commas(inner):
        return None
    comment = line[end:].strip().removeprefix(";").strip()
    printed = PRINTED.match(comment[2:]) if comment.startswith("//") else None
    if not printed:
        return None
    value = js_literal(printed["value"])
    bare = value is None and bool(printed["arrow"] or printed["colon"]) and len(printed["value"]) <= 200
    if value is None and not bare:
        return None
    expr = line[opening.end():end - 1].strip()
    return Example(line.strip(), expr=expr, expected=printed["value"] if bare else value, source="console")


def js_literal(value: str) -> str | None:
    """`value` as a JavaScript literal's source (Python's True/False/None translated), or None."""
    for candidate in (value.strip(), value.strip().rstrip(".,;")):
        tokens = LITERAL_TOKEN.findall(candidate)
        if not candidate or "".join(tokens) != candidate:
            continue
        words = [t for t in tokens if re.fullmatch(r"[A-Za-z_$][\w$]*", t)]
        if any(w not in LITERAL_WORDS and w not in PYTHON_WORDS for w in words) and "{" not in candidate:
            continue
        text = "".join(PYTHON_WORDS.get(t, t) for t in tokens)
        if _balanced(text):
            return text
    return None


def _balanced(text: str) -> bool:
    stack = []
    for char in js_source.scan(text).masked:
        if char in "[{":
            stack.append("]" if char == "[" else "}")
        elif char in "]}" and (not stack or stack.pop() != char):
            return False
    return not stack


def _is_call(expr: str) -> bool:
    masked = js_source.scan(expr).masked
    start = masked.find("(")
    return start > 0 and js_source.closing_paren(masked, start) == len(masked.rstrip())


def _prose(answer: str) -> str:
    """The answer without its fenced blocks: its code is instrumented, not read as prose."""
    lines, inside = [], False
    for line in answer.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            inside = not inside
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def _unique(first: list[Example], rest: list[Example]) -> list[Example]:
    seen = {(re.sub(r"\s+", "", e.expr or e.source), e.expected) for e in first if e.counts}
    unique = list(first)
    for example in rest:
        key = (re.sub(r"\s+", "", example.expr or example.source), example.expected)
        if key not in seen or not example.counts:
            seen.add(key)
            unique.append(example)
    return unique


def _merged(blocks: list[str]) -> str:
    """The blocks as one program; an earlier block that a later one redeclares is left out (a revision)."""
    kept: list[tuple[str, set[str]]] = []
    for code in blocks:
        names = js_source.declared_names(code)
        kept = [(c, n) for c, n in kept if not n & names]
        kept.append((code, names))
    return "\n\n".join(code for code, _ in kept)


def as_script(code: str) -> str:
    """An ES module made a script: `export` dropped, `import ... from` turned into `require`."""
    lines = []
    for line in code.split("\n"):
        if match := IMPORT.match(line):
            module = f"require({match['module']})"
            if match["names"] is not None:
                names = ", ".join(re.sub(r"\s+as\s+", ": ", n.strip()) for n in match["names"].split(",") if n.strip())
                line = f"{match[1]}const {{ {names} }} = {module};"
            else:
                line = f"{match[1]}const {match['default'] or match['star']} = {module};"
        elif re.match(r"^\s*export\s*\{[^}]*\}\s*;?\s*$", line):
            line = ""
        else:
            line = re.sub(r"^(\s*)export\s+(?:default\s+(?=(?:async\s+)?function|class))?", r"\1", line)
        lines.append(line)
    return "\n".join(lines)


def instrument(code: str) -> tuple[str, list[Example]]:
    """The code with each top-level example statement wrapped to be judged where it stands.

    `console.log(EXPR) // => y` becomes `__hermes.value(i, () => (EXPR))`, an assert or
    `expect` line `__hermes.check(i, () => { ... })`; line numbers are kept. Top level
    includes the body of an `if (require.main === module) {` block.
    """
    scanned = js_source.scan(code)
    lines, masked = code.split("\n"), scanned.masked.split("\n")
    depths = js_source.line_depths(scanned.masked)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    examples: list[Example] = []
    out: list[str] = []
    guarded, number = False, 0
    while number < len(lines):
        depth, text = depths[number], masked[number].strip()
        guarded = (guarded and depth >= 1) or (depth == 0 and bool(MAIN_GUARD.match(masked[number])))
        wrapped = None
        if (depth == 0 or guarded and depth == 1) and (text.startswith("console.log") or CHECK_OPENING.match(text)):
            wrapped = _wrap(code, scanned, starts[number], len(examples))
        if wrapped is None:
            out.append(lines[number])
            number += 1
            continue
        last, replacement, example = wrapped
        # The replacement spans the statement's lines, so line numbers in error messages hold.
        out.append(lines[number][: len(lines[number]) - len(lines[number].lstrip())] + replacement)
        examples.append(example)
        number = last + 1
    return "\n".join(out), examples


def _wrap(code: str, scanned: js_source.Scanned, start: int, index: int) -> tuple[int, str, Example] | None:
    """The statement at `start` as (its last line's number, its wrapped text, its example), or None."""
    masked = scanned.masked
    begin = start + len(masked[start:]) - len(masked[start:].lstrip())
    paren = masked.find("(", begin)
    end = js_source.closing_paren(masked, paren)
    while end > 0 and re.match(r"\s*\.\s*[\w$]+\s*\(", masked[end:]):  # expect(x).not.toBe(y), chained calls
        paren = masked.find("(", end)
        end = js_source.closing_paren(masked, paren)
    if end < 0:
        return None
    line_end = code.find("\n", end)
    line_end = len(code) if line_end < 0 else line_end
    after = masked[end:line_end].strip().removeprefix(";").strip()
    if after:  # something else follows on the line: not a plain statement
        return None
    statement, comment = code[begin:end], code[end:line_end].strip().removeprefix(";").strip()
    last_line = code.count("\n", 0, end)
    if statement.startswith("console.log"):
        example = _console_example(statement + "  " + comment, js_source.scan(statement + "  " + comment))
        if example is None:
            return None
        text = " ".join(code[begin:line_end].split())[:200]
        example = Example(text, expr=example.expr, expected=example.expected, source="console", inline=True)
        return last_line, f"__hermes.value({index}, () => ({example.expr}));  {comment}", example
    example = Example(" ".join(statement.split())[:200], source=statement, inline=True)
    return last_line, f"__hermes.check({index}, () => {{ {statement} }});  {comment}", example


def harness(plan: RunPlan, timeout_s: float) -> str:
    """The Node program: load the answer's code (inline examples run in it), then each stated example."""
    cases = [{"text": e.text, "expr": e.expr, "expected": e.expected, "source": e.source, "counts": e.counts,
              "inline": e.inline} for e in plan.examples]
    budget_s = min(MAX_EXAMPLE_S, max(0.2, (timeout_s - 0.5) / (len(cases) + 2)))
    inline = sum(1 for e in plan.examples if e.inline)
    load_s = max(1.0, budget_s * (inline + 2))
    data = {"code": plan.code, "cases": cases, "budget_ms": int(budget_s * 1000), "load_ms": int(load_s * 1000),
            "typescript": plan.language == "typescript", "marker": RESULT_MARKER}
    return HARNESS.replace("__PLAN__", json.dumps(data))
