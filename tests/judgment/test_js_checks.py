"""JavaScript answers run against their examples with Node, in the same sandbox and limits as Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment import js_checks, sandbox
from proxy.judgment.code_checks import plan_run
from proxy.judgment.quality import Evidence, QualityScore, combine, gather_evidence, load_weights
from proxy.judgment.run_plan import RunPlan
from proxy.judgment.sandbox import SandboxUnavailable, node_status, run_node

needs_node = pytest.mark.skipif(not node_status().available, reason=f"no node in the sandbox: {node_status().reason}")
JS_DATA = Path(__file__).resolve().parents[2] / "evals" / "js_labelled.jsonl"
DOUBLE_TASK = "Write a JavaScript function double(x) that returns twice x."


def js(code: str) -> str:
    return f"Here it is:\n\n```javascript\n{code}\n```"


async def score(task: str, answer: str) -> tuple[QualityScore, dict[str, Evidence]]:
    found = await gather_evidence([{"role": "user", "content": task}], {"role": "assistant", "content": answer},
                                  "stop", None, "code_generation", QualityConfig())
    return combine(found, load_weights()), {e.name: e for e in found}


def plan(task: str, answer: str) -> RunPlan:
    planned = plan_run(task, answer, True)
    assert isinstance(planned, RunPlan), planned
    return planned


# Examples found without running anything


def test_jsdoc_example_lines_are_examples() -> None:
    found = js_checks.find_examples("/**\n * Adds.\n * @example\n * add(1, 2) // => 3\n * @example add(2, 2) //=> 4\n */")

    assert [(e.expr, e.expected) for e in found] == [("add(1, 2)", "3"), ("add(2, 2)", "4")]


@pytest.mark.parametrize("prompt", [
    pytest.param("// >>> add(1, 2)\n// 3\nfunction add(a, b){\n", id="multipl-e"),
    pytest.param("/* Adds.\n  >>> add(1, 2)\n  3\n  */\nconst add = (a, b) => {\n", id="humaneval-x"),
    pytest.param("For example: add(1, 2) === 3", id="prose"),
    pytest.param("console.log(add(1, 2)); // 3", id="console-log"),
])
def test_stated_examples_in_each_common_style_are_found(prompt: str) -> None:
    assert [(e.expr, e.expected) for e in js_checks.find_examples(prompt)] == [("add(1, 2)", "3")]


def test_a_comment_that_is_not_a_value_is_not_an_example() -> None:
    assert js_checks.find_examples("console.log(add(1, 2)); // logs the sum") == []
    assert js_checks.find_examples("if (add(1, 2) === 3) {") == []


@pytest.mark.parametrize(("text", "literal"), [
    ("[1, 'a', {b: 2}]", "[1, 'a', {b: 2}]"), ("True", "true"), ("None.", "null"), ("-0.5", "-0.5"),
    ("undefined", "undefined"), ("the sum", None), ("f(3)", None), ("[1, 2", None),
])
def test_js_literal_accepts_values_only(text: str, literal: str | None) -> None:
    assert js_checks.js_literal(text) == literal


def test_demo_lines_in_the_answer_are_checked_where_they_stand() -> None:
    code = "function double(x) {\n  return x * 2;\n}\nconsole.log(double(2)); // => 4\nassert.strictEqual(double(3), 6);"

    planned = plan(DOUBLE_TASK, js(code))

    assert planned.language == "javascript" and planned.counted == 2
    assert "__hermes.value(0, () => (double(2)));" in planned.code
    assert "__hermes.check(1, () => { assert.strictEqual(double(3), 6) });" in planned.code


def test_a_python_answer_stays_with_the_python_checks() -> None:
    planned = plan("Write double(x).", "```python\ndef double(x):\n    return x * 2\n\nassert double(2) == 4\n```")

    assert planned.language == "python"


def test_es_module_syntax_becomes_a_script() -> None:
    script = js_checks.as_script("import assert from 'assert';\nimport { a as b, c } from './x';\nexport function f() {}\n"
                                 "export default class K {}\nexport { f };")

    assert script.split("\n") == ["const assert = require('assert');", "const { a: b, c } = require('./x');",
                                   "function f() {}", "class K {}", ""]


# Running in the sandbox


@needs_node
@pytest.mark.asyncio
async def test_a_passing_console_log_example_scores_above_a_failing_one() -> None:
    right = js("function double(x) {\n  return x * 2;\n}\n\nconsole.log(double(2)) // => 4")
    wrong = right.replace("x * 2", "x + 3")

    (good, good_signals), (bad, bad_signals) = await score(DOUBLE_TASK, right), await score(DOUBLE_TASK, wrong)

    assert good_signals["code_run"].detail == "1/1 examples pass"
    assert bad_signals["code_run"].detail == "0/1 examples pass; console.log(double(2)) // => 4: got 5, expected 4"
    assert good.score > bad.score


@needs_node
@pytest.mark.asyncio
async def test_jsdoc_examples_of_the_task_are_run_against_the_answer() -> None:
    task = "Complete:\n```javascript\n/**\n * @example\n * add(1, 2) // => 3\n * @example\n * add(-1, 1) // => 0\n */\nfunction add(a, b) {\n```"

    _, right = await score(task, js("function add(a, b) {\n  return a + b;\n}"))
    _, wrong = await score(task, js("function add(a, b) {\n  return a - b;\n}"))

    assert right["code_run"].detail == "2/2 examples pass"
    assert wrong["code_run"].detail.startswith("0/2 examples pass; add(1, 2) // => 3: got -1, expected 3")


@needs_node
@pytest.mark.asyncio
@pytest.mark.parametrize("check", [
    pytest.param("assert.strictEqual(double(2), 4);", id="strictEqual"),
    pytest.param("assert.deepStrictEqual([double(1), double(2)], [2, 4]);", id="deepStrictEqual"),
    pytest.param("assert(double(2) === 4);", id="assert"),
    pytest.param("console.assert(double(2) === 4);", id="console.assert"),
    pytest.param("expect(double(2)).toBe(4);", id="expect"),
    pytest.param("test('doubles', () => { expect(double(2)).toEqual(4); });", id="test-block"),
])
async def test_each_kind_of_assert_passes_right_code_and_fails_wrong_code(check: str) -> None:
    right = js(f"function double(x) {{\n  return x * 2;\n}}\n{check}")

    _, passed = await score(DOUBLE_TASK, right)
    _, failed = await score(DOUBLE_TASK, right.replace("x * 2", "x + 1"))

    assert passed["code_run"].detail == "1/1 examples pass"
    assert failed["code_run"].detail.startswith("0/1 examples pass")


@needs_node
@pytest.mark.asyncio
async def test_more_passing_examples_earn_more_credit() -> None:
    one = js("function double(x) {\n  return x * 2;\n}\nconsole.log(double(1)); // 2")
    five = one + "\n" + js("\n".join(f"console.log(double({n})); // {2 * n}" for n in range(2, 6)))

    (score_one, one_run), (score_five, five_run) = await score(DOUBLE_TASK, one), await score(DOUBLE_TASK, five)

    assert one_run["code_run"].detail == "1/1 examples pass" and five_run["code_run"].detail == "5/5 examples pass"
    assert one_run["code_run"].value is not None and five_run["code_run"].value is not None
    assert five_run["code_run"].value > one_run["code_run"].value
    assert score_five.score > score_one.score


@needs_node
@pytest.mark.asyncio
async def test_an_inline_example_sees_the_values_of_its_own_place_in_the_demo() -> None:
    demo = js("let items = [1, 2];\nfunction total() {\n  return items.reduce((a, b) => a + b, 0);\n}\n"
              "console.log(total()); // => 3\nitems = [5];\nconsole.log(total()); // => 5")

    _, signals = await score("Write total() in JavaScript that sums the items.", demo)

    assert signals["code_run"].detail == "2/2 examples pass"


@needs_node
@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "detail"), [
    pytest.param("function double(x) {\n  return x * ;\n}\nconsole.log(double(2)); // 4", "the code fails when loaded: "
                 "SyntaxError", id="syntax-error"),
    pytest.param("function double(x) {\n  while (true) {}\n}\nconsole.log(double(2)); // 4",
                 "0/1 examples pass; console.log(double(2)); // 4: timed out", id="endless-loop"),
    pytest.param("throw new Error('boom');\nfunction double(x) { return 2 * x; }\nconsole.log(double(2)); // 4",
                 "the code fails when loaded: Error: boom", id="throws-at-load"),
])
async def test_broken_code_fails_its_examples(code: str, detail: str) -> None:
    _, signals = await score(DOUBLE_TASK, js(code))

    assert signals["code_run"].value is not None and signals["code_run"].value < 0
    assert signals["code_run"].detail.startswith(detail)


@needs_node
@pytest.mark.asyncio
async def test_typescript_with_types_is_declined_not_failed() -> None:
    answer = "```ts\nfunction double(x: number): number {\n  return x * 2;\n}\nconsole.log(double(2)); // 4\n```"

    _, signals = await score(DOUBLE_TASK, answer)

    assert signals["code_run"].value is None
    assert signals["code_run"].detail == "the code needs module typescript, not in the sandbox"


@needs_node
@pytest.mark.asyncio
async def test_typescript_that_is_plain_javascript_runs() -> None:
    answer = "```typescript\nfunction double(x) {\n  return x * 2;\n}\nconsole.log(double(2)); // 4\n```"

    _, signals = await score(DOUBLE_TASK, answer)

    assert signals["code_run"].detail == "1/1 examples pass"


@needs_node
@pytest.mark.asyncio
async def test_a_module_the_sandbox_lacks_skips_the_signal() -> None:
    answer = js("const _ = require('lodash');\nfunction double(x) { return _.multiply(x, 2); }\nconsole.log(double(2)); // 4")

    _, signals = await score(DOUBLE_TASK, answer)

    assert signals["code_run"].value is None and "lodash" in signals["code_run"].detail


@pytest.mark.asyncio
async def test_an_answer_without_the_function_fails_the_tasks_examples() -> None:
    task = "```javascript\n// >>> add(1, 2)\n// 3\nfunction add(a, b){\n```"

    _, signals = await score(task, "I am unable to complete this function without more information.")

    assert signals["code_run"].value == -1.0
    assert signals["code_run"].detail.endswith("the answer does not define add")


# The sandbox holds Node as it holds Python


@needs_node
@pytest.mark.parametrize("address", [pytest.param("127.0.0.1", id="loopback"), pytest.param("1.1.1.1", id="internet")])
def test_node_has_no_network(address: str) -> None:
    code = (f"const s = require('net').connect(80, {address!r});\ns.on('connect', () => console.log('connected'));\n"
            "s.on('error', (e) => console.log('error', e.code));\nsetTimeout(() => {}, 1500);")

    result = run_node(code, 10, 256)

    assert "connected" not in result.stdout
    assert result.stdout.startswith("error")


@needs_node
def test_node_cannot_write_outside_its_tmp_dir(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    code = ("const fs = require('fs');\nfs.writeFileSync('/tmp/scratch.txt', 'fine');\n"
            "console.log(process.cwd(), fs.readFileSync('/tmp/scratch.txt', 'utf8'));\n"
            f"fs.writeFileSync({str(target)!r}, 'escaped');")

    result = run_node(code, 10, 256)

    assert result.stdout.startswith("/tmp fine")
    assert not result.ok and not target.exists()
    assert "EROFS" in result.stderr or "ENOENT" in result.stderr


@needs_node
def test_node_sees_nothing_of_the_home_directory() -> None:
    result = run_node(f"console.log(require('fs').existsSync({str(Path.home() / '.bashrc')!r}))", 10, 256)

    assert result.stdout.strip() == "false"


@needs_node
def test_node_timeout_kills_an_endless_loop() -> None:
    result = run_node("while (true) {}", 1.0, 256)

    assert result.timed_out and not result.ok and result.duration_s < 5


@needs_node
def test_node_memory_limit_stops_a_huge_allocation() -> None:
    result = run_node("const b = Buffer.alloc(1024 * 1024 * 1024, 1);\nconsole.log('allocated');", 10, 256)

    assert not result.ok
    assert "allocated" not in result.stdout


# Without node


@pytest.fixture
def no_node(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name, *args, **kw: None if name == "node" else "/usr/bin/" + name)
    sandbox.node_status.cache_clear()
    yield
    sandbox.node_status.cache_clear()


@pytest.mark.asyncio
async def test_without_node_the_signal_is_skipped_and_says_why(no_node: None) -> None:
    _, signals = await score(DOUBLE_TASK, js("function double(x) { return x * 2; }\nconsole.log(double(2)); // 4"))

    assert signals["code_run"].value is None
    assert signals["code_run"].detail == "no node on this machine: JavaScript examples cannot run"


def test_without_node_run_node_refuses(no_node: None) -> None:
    with pytest.raises(SandboxUnavailable, match="no node"):
        run_node("console.log(1)", 10, 256)


# The labelled set


def test_the_labelled_set_has_both_splits_and_both_labels() -> None:
    from proxy.judgment.scorer_eval import load_items

    items = load_items(JS_DATA)
    held_out = [i for i in items if i["split"] == "test"]

    assert len({i["task_id"] for i in items}) >= 40
    assert 0.2 < len(held_out) / len(items) < 0.45
    assert {i["passed"] for i in held_out} == {True, False}
    assert all(i["passed"] for i in items if i["kind"] == "canonical")


@needs_node
def test_the_scorer_separates_passing_from_failing_javascript() -> None:
    from proxy.judgment.scorer_eval import evaluate

    report = evaluate(JS_DATA, limit=40)

    figures = report.figures("all")
    assert figures.auroc is not None and figures.auroc >= 0.85
    assert report.sandbox_skipped == 0
