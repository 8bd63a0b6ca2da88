"""`make bench`: time per answer of the quality scorer, with and without running code in the sandbox.

Scores the first 50 answers of the shipped HumanEval set one after another
(as the cascade scores one local answer at a time) and prints p50 and p99;
then, without execution, 50 maths answers, 50 GSM8K answers each with a
second sample to compare, 50 short answers with their token log-probabilities
and 50 prose answers (AlpacaEval), whose signals (arithmetic recomputed, the
question's quantities, the model's confidence, the prose model) are pure
Python. The second sample's own generation is the cascade's cost, not this.
"""

from __future__ import annotations

import asyncio
import time

from proxy.config_schema import QualityConfig
from proxy.judgment.quality import score_answer
from proxy.judgment.sandbox import sandbox_status
from proxy.judgment.scorer_eval import (
    DEFAULT_DATA,
    GSM8K_DATA,
    MATHS_DATA,
    PROSE_DATA,
    load_items,
    load_prose,
    load_short_answers,
    prose_items,
)

ITEMS = 50


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def time_items(items: list[dict], config: QualityConfig) -> list[float]:
    """Milliseconds per answer, scored one at a time."""
    times = []
    for item in items:
        started = time.perf_counter()
        await score_answer(item["messages"], item["answer"], item["finish_reason"], item.get("tools"),
                           item["task_type"], config, peers=item.get("peers") or (),
                           logprobs=item.get("logprobs"))
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(label: str, items: list[dict], config: QualityConfig) -> None:
    times = asyncio.run(time_items(items, config))
    print(f"quality scorer {label:22} p50 {percentile(times, 0.5):7.1f} ms   "
          f"p99 {percentile(times, 0.99):7.1f} ms   ({len(items)} answers)")


def main() -> None:
    items = load_items(DEFAULT_DATA, ITEMS)
    status = sandbox_status()
    runs = [("without running code", QualityConfig(run_code=False))]
    if status.available:
        runs.insert(0, ("with the sandbox", QualityConfig()))
    for label, config in runs:
        report(label, items, config)
    if not status.available:
        print(f"quality scorer with the sandbox: skipped, {status.reason}")
    cheap = QualityConfig(run_code=False)
    report("maths answers", load_items(MATHS_DATA, ITEMS), cheap)
    report("GSM8K + a 2nd sample", load_items(GSM8K_DATA, ITEMS), cheap)
    report("short answers", load_short_answers()[:ITEMS], cheap)
    report("prose answers", prose_items(load_prose(PROSE_DATA, split=None, limit=4))[:ITEMS], cheap)


if __name__ == "__main__":
    main()
