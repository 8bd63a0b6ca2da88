"""`make bench`: what an agent's new turn costs Hermes to read, by the size of the tool result it carries.

Agents send a tool's result (a file read, a test run) as the newest message
of each turn, and Hermes reads it on the event loop before anything else:
for signs that the last answer failed (judgment/outcome.py), and for its
tokens (money/estimate.py, counted once and then remembered). Both grow with
the result, not with the history. This times each on a made-up OpenCode-style
turn whose result is this repository's own source, 17, 71 and 286 KB, the
token count both fresh and remembered; medians of `--runs` (default 20).

    .venv/bin/python bench/agent_turn.py [--runs N]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from proxy.judgment.outcome import next_turn_outcome
from proxy.money import estimate

SOURCE = (Path(__file__).resolve().parents[1] / "proxy" / "pipeline" / "steps.py").read_text()
MODEL = "openrouter/anthropic/claude-sonnet-4.5"


def turn(result: str) -> list[dict[str, object]]:
    call = {"id": "call_read", "type": "function", "function": {"name": "read", "arguments": "{\"path\": \"x.py\"}"}}
    return [{"role": "user", "content": "Refactor the parser."},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_read", "content": result}]


def median_us(work: Callable[[list[dict[str, object]]], object], turns: Callable[[int], list[dict[str, object]]],
              runs: int) -> float:
    """The median microseconds of `work` on `turns(i)` for each run i (made before the clock starts)."""
    times = []
    for i in range(runs):
        messages = turns(i)
        started = time.perf_counter()
        work(messages)
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 20
    count = partial(estimate.count_input_tokens, MODEL)
    count(turn("warm the tokenizer"))
    for copies in (1, 4, 16):
        result = SOURCE * copies
        same = turn(result)
        outcome = median_us(next_turn_outcome, lambda i: same, runs)
        fresh = median_us(count, lambda i: turn(f"{result}\n# run {i}"), runs)  # a result never counted before
        seen = median_us(count, lambda i: same, runs)
        print(f"agent turn with a {len(result) // 1000:3} KB tool result: failure check {outcome:7.0f} us, "
              f"token count {fresh:7.0f} us fresh, {seen:5.0f} us remembered (median of {runs})")


if __name__ == "__main__":
    main()
