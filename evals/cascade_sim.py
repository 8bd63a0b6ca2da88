"""Simulate the cascade's gate on held-out data: score the weak answers, escalate the lowest, sweep the threshold.

For each share of requests escalated (the weak answers scoring below a
threshold go to the strong model), the mean quality reached, as a share of the
weak-to-strong gap it recovers: 0 keeps every weak answer, 1 is the strong
model everywhere. Random routing recovers, on average, exactly the share it
escalates (the diagonal); a gate worth having lies above it. The oracle
(escalating exactly the answers where the strong one is better, worst first)
bounds what any gate could do. Ties between equal scores are split at random
(seeded), as a threshold between them would split them on average.

- GSM8K: the held-out problems of evals/gsm8k_labelled.jsonl, four GPT-3
  models' answers each; quality is 1 when OpenAI marked the answer correct;
  a weak model's answers gated, a stronger model's (or a perfect one) behind.
- prose: the held-out AlpacaEval instructions (evals/alpaca_eval_prose.jsonl.gz);
  quality is GPT-4 Turbo's preference (1-2) of each model's answer; weak and
  strong are two of its generators (by default gemma-2b-it and claude-2.1).
- maths: the held-out maths items (evals/maths_labelled.jsonl), each one weak
  answer; quality is 1 when it reaches the known answer; the strong model is
  taken to be always right. Also the embedded model's own answers alone.
- short questions: the embedded model's held-out answers (evals/short_answers_labelled.jsonl), judged
  with its token log-probabilities; quality is 1 when it states the known answer; the strong model is
  taken to be always right.

    .venv/bin/python evals/cascade_sim.py [--weak gemma-2b-it] [--strong claude-2.1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Sequence

from proxy.config_schema import QualityConfig
from proxy.judgment.quality import combine, load_weights
from proxy.judgment.scorer_eval import (
    GSM8K_DATA,
    HELD_OUT,
    MATHS_DATA,
    PROSE_DATA,
    SHORT_DATA,
    gather_all,
    load_items,
    load_prose,
    load_short_answers,
    prose_items,
    without_peers,
)

SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def recovered_curve(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float],
                    seed: int = 0) -> list[tuple[float, float]]:
    """(share escalated, share of the weak->strong gap recovered) for 0..n escalations, lowest scores first."""
    rng = random.Random(seed)
    order = sorted(range(len(scores)), key=lambda i: (scores[i], rng.random()))
    gap = sum(strong) - sum(weak)
    curve, gained = [(0.0, 0.0)], 0.0
    for k, i in enumerate(order, 1):
        gained += strong[i] - weak[i]
        curve.append((k / len(order), gained / gap if gap else 0.0))
    return curve


def at(curve: list[tuple[float, float]], share: float) -> float:
    """The curve's recovered gap at `share` escalated (the nearest point at or below it)."""
    return next(r for s, r in reversed(curve) if s <= share + 1e-9)


def area(curve: list[tuple[float, float]]) -> float:
    """The area under the curve (trapezoids): 0.5 for random routing."""
    return sum((s2 - s1) * (r1 + r2) / 2 for (s1, r1), (s2, r2) in zip(curve, curve[1:]))


def table(title: str, scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]) -> str:
    scorer = recovered_curve(scores, weak, strong)
    oracle = recovered_curve([w - s for w, s in zip(weak, strong)], weak, strong)
    randoms = [recovered_curve([0.0] * len(scores), weak, strong, seed) for seed in range(200)]
    lines = [title, f"  {'escalated':>9} {'scorer':>7} {'random':>7} {'oracle':>7}"]
    for share in SHARES:
        chance = sum(at(c, share) for c in randoms) / len(randoms)
        lines.append(f"  {share:9.0%} {at(scorer, share):7.3f} {chance:7.3f} {at(oracle, share):7.3f}")
    chance_area = sum(area(c) for c in randoms) / len(randoms)
    lines.append(f"  area under the curve: scorer {area(scorer):.3f}, random {chance_area:.3f}, "
                 f"oracle {area(oracle):.3f}")
    return "\n".join(lines)


def prose_tables(weak_name: str, strong_name: str, config: QualityConfig) -> str:
    groups = [g for g in load_prose(PROSE_DATA, HELD_OUT)
              if {a["generator"] for a in g["answers"]} >= {weak_name, strong_name}]
    items = [item for item in prose_items(groups) if item["generator"] == weak_name]
    strong = {item["group"]: item["preference"] for item in prose_items(groups) if item["generator"] == strong_name}
    weights = load_weights()
    scores = [combine(found, weights).score for found in asyncio.run(gather_all(items, config))]
    weak_q = [item["preference"] for item in items]
    strong_q = [strong[item["group"]] for item in items]
    title = (f"prose: {len(items)} held-out AlpacaEval instructions; weak {weak_name} (mean preference "
             f"{sum(weak_q) / len(weak_q):.3f}), strong {strong_name} ({sum(strong_q) / len(strong_q):.3f})")
    return table(title, scores, weak_q, strong_q)


def maths_tables(config: QualityConfig) -> str:
    items = [item for item in load_items(MATHS_DATA) if item.get("split") == HELD_OUT]
    weights = load_weights()
    scores = [combine(found, weights).score for found in asyncio.run(gather_all(items, config))]
    out = []
    for title, keep in (("all held-out answers", lambda item: True),
                        ("the embedded model's own answers", lambda item: item["kind"].startswith("smollm2"))):
        chosen = [i for i, item in enumerate(items) if keep(item)]
        weak_q = [1.0 if items[i]["passed"] else 0.0 for i in chosen]
        if not chosen or sum(weak_q) in (0, len(weak_q)):  # all right or all wrong: any gate is random
            continue
        out.append(table(f"maths, {title}: {len(chosen)} answers, {sum(weak_q) / len(weak_q):.0%} right; "
                         "strong model taken as always right", [scores[i] for i in chosen], weak_q,
                         [1.0] * len(chosen)))
    return "\n".join(out)


def gsm8k_tables(config: QualityConfig) -> str:
    """GSM8K's held-out problems: a weak GPT-3 model's answers gated, a stronger one's (or always right) behind."""
    held_out = [item for item in load_items(GSM8K_DATA) if item.get("split") == HELD_OUT]
    weights = load_weights()
    out = []
    for samples, items in (("one sample", without_peers(held_out)), ("two samples", held_out)):
        scores = [combine(found, weights).score for found in asyncio.run(gather_all(items, config))]
        by_problem: dict[str, dict[str, tuple[float, float]]] = {}
        for item, score in zip(items, scores):
            by_problem.setdefault(item["task_id"], {})[item["kind"]] = (score, 1.0 if item["passed"] else 0.0)
        for weak, strong in (("6b_finetuning", "175b_verification"), ("175b_finetuning", "175b_verification"),
                             ("175b_verification", None)):
            rows = [(kinds[weak], kinds[strong][1] if strong else 1.0) for kinds in by_problem.values()
                    if weak in kinds and (strong is None or strong in kinds)]
            weak_q = [w[1] for w, _ in rows]
            strong_q = [s for _, s in rows]
            behind = f"strong {strong} ({sum(strong_q) / len(strong_q):.0%} right)" if strong else "strong always right"
            out.append(table(f"GSM8K, {samples}: {len(rows)} held-out problems; weak {weak} "
                             f"({sum(weak_q) / len(weak_q):.0%} right), {behind}",
                             [w[0] for w, _ in rows], weak_q, strong_q))
    return "\n".join(out)


def short_table(config: QualityConfig) -> str:
    items = [item for item in load_short_answers(SHORT_DATA) if item.get("split") == HELD_OUT]
    weights = load_weights()
    scores = [combine(found, weights).score for found in asyncio.run(gather_all(items, config))]
    weak_q = [1.0 if item["passed"] else 0.0 for item in items]
    return table(f"short questions, the embedded model's answers with its token log-probabilities: {len(items)} "
                 f"answers, {sum(weak_q) / len(weak_q):.0%} right; strong model taken as always right",
                 scores, weak_q, [1.0] * len(items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weak", default="gemma-2b-it")
    parser.add_argument("--strong", default="claude-2.1")
    parser.add_argument("--run-code", action="store_true", help="run answers' code in the sandbox (off: cheap signals)")
    args = parser.parse_args()
    config = QualityConfig(run_code=args.run_code)
    print(maths_tables(config))
    print(gsm8k_tables(config))
    print(short_table(config))
    print(prose_tables(args.weak, args.strong, config))


if __name__ == "__main__":
    main()
