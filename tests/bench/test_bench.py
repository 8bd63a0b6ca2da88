"""`make bench`'s in-process benches run to their end and print their figures (none is asserted on).

A bench nobody runs drifts from the code it measures: bench/cascade.py still
called `understand` after it became a coroutine, so `make bench` stopped at
its second step. Each runs here with a few iterations.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIGURE = re.compile(r"p50 +[\d.]+ (?:ms|us) +p99 +[\d.]+ (?:ms|us)")


def bench(*argv: str) -> str:
    env = os.environ | {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_money_path_bench_times_both_phases(tmp_path: Path) -> None:
    out = bench("bench/money.py", "--runs", "20", "--db", str(tmp_path / "bench.db"))
    assert re.search(r"money path on sqlite +, start +" + FIGURE.pattern + r" +\(20 cloud calls", out), out
    assert re.search(r"money path on sqlite +, settle\+record +" + FIGURE.pattern, out), out


def test_the_cascade_overhead_bench_runs() -> None:
    out = bench("bench/cascade.py", "--runs", "20")
    assert re.search(r"cascade overhead, no model calls +" + FIGURE.pattern + r" +\(20 requests", out), out


def test_the_scorer_bench_times_every_kind_of_answer() -> None:
    out = bench("bench/scorer.py")
    assert {"maths answers", "prose answers"} <= {m.group(1) for m in re.finditer(r"quality scorer (\w+ answers)", out)}, out
    assert len(FIGURE.findall(out)) >= 3, out


def test_the_agent_turn_bench_times_each_size() -> None:
    out = bench("bench/agent_turn.py", "--runs", "3")
    assert len(re.findall(r"agent turn with a +\d+ KB tool result: failure check +\d+ us, token count +\d+ us fresh, "
                          r"+\d+ us remembered", out)) == 3, out


def test_the_history_bench_times_each_step_that_reads_the_whole_conversation() -> None:
    out = bench("bench/history_steps.py", "--rounds", "5")
    steps = re.findall(r"^\| ([^|]+) \| (\d+) \|$", out, re.MULTILINE)
    assert [name for name, _ in steps] == [
        "decode (orjson, then the depth and number check)", "validate", "fingerprints, once", "identify the session",
        "count input tokens (all parts counted before)", "prompt hash", "the relay's body", "in all"], out
