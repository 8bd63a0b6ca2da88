"""What target_quality a local answer can reach, from the held-out labelled sets.

A rule's `target_quality` is the score a local answer needs to be kept. Too
high and no local answer is ever kept (everything escalates and costs money);
too low and wrong answers are kept. For each held-out set this prints, per
threshold, the share of answers kept, the precision (the share of kept answers
that are good) and the recall (the share of good answers kept), and the lowest
threshold whose precision reaches PRECISION: the target routing_rules.yaml
ships for the rules that ask for that kind of work (README, "Targets").

Good means: Python and JavaScript, passes its hidden tests; maths, reaches the
known answer (GSM8K: OpenAI marked it correct; each answer compared with its
sibling model's, as one more sample); short questions, the embedded model's answer states the known
answer; prose, GPT-4 Turbo preferred it to at least half the other models' answers to the same instruction.

    .venv/bin/python evals/targets.py [--precision 0.9]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from proxy.config_schema import QualityConfig
from proxy.judgment.quality import combine, load_weights
from proxy.judgment.scorer_eval import (
    DEFAULT_DATA,
    GSM8K_DATA,
    HELD_OUT,
    JS_DATA,
    MATHS_DATA,
    PROSE_DATA,
    SHORT_DATA,
    gather_all,
    load_items,
    load_prose,
    load_short_answers,
    prose_items,
    within_instruction_ranks,
)

PRECISION = 0.9
THRESHOLDS = tuple(t / 2 for t in range(8, 20))  # 4.0 .. 9.5


def lowest_target(scores: Sequence[float], good: Sequence[bool], precision: float) -> float | None:
    """The lowest threshold in THRESHOLDS whose kept answers are at least `precision` good (None: none is)."""
    for threshold in THRESHOLDS:
        kept = [g for s, g in zip(scores, good) if s >= threshold]
        if kept and sum(kept) / len(kept) >= precision:
            return threshold
    return None


def table(title: str, scores: Sequence[float], good: Sequence[bool], precision: float) -> str:
    lines = [f"{title}: {len(scores)} answers, {sum(good) / len(good):.0%} good",
             f"  {'target':>6} {'kept':>6} {'precision':>9} {'recall':>6}"]
    for threshold in THRESHOLDS:
        kept = [g for s, g in zip(scores, good) if s >= threshold]
        share = len(kept) / len(scores)
        right = f"{sum(kept) / len(kept):9.3f}" if kept else f"{'-':>9}"
        recall = sum(kept) / sum(good) if sum(good) else 0.0
        lines.append(f"  {threshold:6.1f} {share:6.1%} {right} {recall:6.1%}")
    target = lowest_target(scores, good, precision)
    lines.append(f"  lowest target with precision >= {precision}: {target if target is not None else 'none'}")
    return "\n".join(lines)


def scored(items: list[dict], config: QualityConfig) -> list[float]:
    weights = load_weights()
    return [combine(found, weights).score for found in asyncio.run(gather_all(items, config))]


def rank_good(items: list[dict]) -> list[bool]:
    """Prose: preferred to at least half the other answers to its instruction."""
    return [rank >= 0.5 for rank in within_instruction_ranks(items)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precision", type=float, default=PRECISION)
    args = parser.parse_args()
    config = QualityConfig()
    for title, path in (("Python (HumanEval)", DEFAULT_DATA), ("JavaScript", JS_DATA), ("maths", MATHS_DATA),
                        ("GSM8K, two samples (the default: cascade.self_consistency_samples 1)", GSM8K_DATA)):
        items = [item for item in load_items(path) if item.get("split") == HELD_OUT]
        print(table(f"{title}, held out", scored(items, config), [bool(i["passed"]) for i in items], args.precision))
    items = [item for item in load_short_answers(SHORT_DATA) if item.get("split") == HELD_OUT]
    print(table("short questions, the embedded model with its token log-probabilities, held out",
                scored(items, config), [bool(i["passed"]) for i in items], args.precision))
    items = prose_items(load_prose(PROSE_DATA, HELD_OUT))
    print(table("prose (AlpacaEval), held out", scored(items, config), rank_good(items), args.precision))


if __name__ == "__main__":
    main()
