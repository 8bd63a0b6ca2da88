"""What the scorer plans to run against an answer's examples, and what the run reports back.

Shared by the Python checks (code_checks.py) and the JavaScript ones
(js_checks.py): both plan a `RunPlan`, both harnesses print one marked JSON
line that `read_report` reads, so quality.py handles either the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from proxy.judgment.sandbox import RunResult

RESULT_MARKER = "@@hermes-examples@@"
MAX_EXAMPLES = 25
MAX_EXAMPLE_S = 1.0  # stated examples are small; longer means a loop that will not end
# How a Node process that ran out of memory says so (V8's fatal error, or a failed allocation).
NODE_OUT_OF_MEMORY = ("heap out of memory", "Fatal process OOM", "Array buffer allocation failed")


@dataclass(frozen=True)
class Example:
    """A stated behaviour: `expr` should produce `expected`, or `source` (an assert) should hold."""

    text: str  # as written, for messages
    expr: str = ""
    expected: str = ""
    source: str = ""  # a statement to execute: an assert, or a doctest's setup line
    counts: bool = True  # False for a setup line: run for its effect, neither passed nor failed
    inline: bool = False  # JavaScript: checked where it stands in the answer's own code, not after it


@dataclass(frozen=True)
class RunPlan:
    """What to run: the task's own code, the answer's code, and the examples it should meet."""

    context: str
    code: str
    examples: tuple[Example, ...]  # setup lines included; `counted` says how many are checks
    missing: tuple[str, ...]  # functions the examples call that the answer never defines
    unmet: int  # examples calling those: each counts as failed
    language: str = "python"  # or "javascript", "typescript": which harness runs it

    @property
    def counted(self) -> int:
        return sum(1 for e in self.examples if e.counts)


@dataclass(frozen=True)
class RunReport:
    """What running an answer's code against its examples showed."""

    passed: int
    total: int
    error: str  # the code failed before any example ran ("" when it loaded)
    failures: tuple[str, ...]
    missing_module: str = ""  # the code needs a module the sandbox lacks ("typescript": types node cannot strip)


def read_report(result: RunResult, total: int) -> RunReport:
    """The harness's report; a run that died counts all `total` examples failed.

    The harness may judge fewer than `total`: an example naming an undefined
    variable (HumanEval's `is_happy(a) => False` for 'a') is prose, and is dropped.
    """
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER):])
            return RunReport(data["passed"], data["total"], data["error"], tuple(data["failures"]), data["missing"])
    if result.timed_out:
        why = "timed out"
    elif "MemoryError" in result.stderr or any(said in result.stderr for said in NODE_OUT_OF_MEMORY):
        why = "ran out of memory"
    else:
        why = "ended early: " + (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
    return RunReport(0, total, f"the run {why}", ())
