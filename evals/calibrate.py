"""Fit the quality scorer's weights on labelled answers and write proxy/judgment/scorer_weights.json.

The scorer is a logistic model over its signals (proxy/judgment/quality.py): each
signal's value v in [-1, 1] pulls the logit by `pass` x v when v > 0 and by
`fail` x v when v < 0. This script computes every item's signals with the real
scorer (sandbox and all), then fits the weights by maximum a posteriori
logistic regression on the training problems only:

- target: the reference grade / 10 (a soft label; `passed` is grade 10);
- prior: each weight ~ Normal(PRIORS[...], PRIOR_SD), so signals that never
  fire in this data (tool_call, judge, mostly off_task) keep their reasoned
  prior instead of drifting to zero, and the data overrule it where they speak;
- every weight is kept >= 0 (a failing check never raises a score).

It then reports AUROC and MAE on the held-out problems, which the fit never
saw, and stores those figures in the weights file.

A second stage fits the signals HumanEval's run code cannot speak for
(code_static, off_task, prose, the maths checks, confidence) on HumanEval's
training answers scored without running them, and on the training splits of the prose
set (AlpacaEval; soft label: the share of the other 15 models' answers to
the same instruction that GPT-4 Turbo preferred this one to, so a prose score
of 5 means "as good as a typical model's answer"; against GPT-4 Turbo's own
answer nearly all of them lose, which would squeeze every prose score under
2), the generated maths set, GSM8K's real model answers and the embedded model's answers to short
questions with its token log-probabilities (grade / 10), with the intercept and the first stage's
weights held fixed; prose weighs twice as much as each of the others. The
prose model itself (which features matter) is evals/fit_prose.py's.

With `--outcomes` (a Hermes database: a SQLite file or a postgresql:// URL),
a third stage learns from real use: every local answer whose next turn said
whether it worked (outcome.py: `continued` is good, `failed` is not) is a
labelled item, its recorded signals the evidence. All the weights but the
intercept are refitted on them, with the second stage's weights as the prior,
so a few outcomes nudge them and many can move them.

    .venv/bin/python evals/calibrate.py [--data PATH] [--out PATH] [--outcomes DB]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import re
import time
from pathlib import Path

import numpy as np

from proxy.config_schema import QualityConfig
from proxy.judgment.quality import SIGNALS, WEIGHTS_FILE, Evidence, ScorerWeights, combine
from proxy.judgment.scorer_eval import (
    DEFAULT_DATA,
    GSM8K_DATA,
    HELD_OUT,
    MATHS_DATA,
    PROSE_DATA,
    SHORT_DATA,
    auroc,
    evaluate_gsm8k,
    evaluate_maths,
    evaluate_prose,
    evaluate_short,
    gather_all,
    is_code_item,
    load_items,
    load_prose,
    load_short_answers,
    mean_absolute_error,
    prose_items,
    within_instruction_ranks,
    without_peers,
)
from proxy.storage.database import describe

# Reasoned starting points, in logit units, before any data. A signal with no
# data stays here. `pass` applies to good evidence (code runs, tools validate,
# a high judge rating), `fail` to bad.
PRIORS: dict[str, dict[str, float]] = {
    "empty": {"fail": 5.0},
    "too_short": {"fail": 2.0},
    "truncated": {"fail": 1.5},
    "refusal": {"fail": 3.0},
    "repetition": {"fail": 2.0},
    "code_parse": {"pass": 0.3, "fail": 2.5},
    "code_static": {"pass": 0.0, "fail": 2.0},  # faults: a function missing, hollow or reading undefined names;
    # reading whole is weak evidence (most wrong answers do), so no credit before the data give it
    "tool_call": {"pass": 1.0, "fail": 3.0},
    "edit": {"pass": 1.0, "fail": 3.0},  # an aider edit that does not apply is refused by aider: a sure failure
    "off_task": {"fail": 2.0},
    "prose": {"both": 1.5},  # one weight for both sides: the score must stay monotone in the prose model's logit
    "arithmetic": {"pass": 0.5, "fail": 2.0},
    "final_answer": {"pass": 0.5, "fail": 2.0},
    "quantities": {"pass": 0.5, "fail": 2.0},  # a quantity of the question left out: probably a misread
    "chain": {"pass": 0.5, "fail": 2.0},  # a step whose result goes nowhere: probably a confused working
    "steps": {"pass": 0.5, "fail": 0.5},  # a difficulty, not a fault: a long chain has more places to go wrong
    "consistency": {"pass": 1.5, "fail": 1.5},
    "confidence": {"pass": 1.5, "fail": 1.5},  # the local model's own chance of being right (confidence.py)
    "code_run": {"pass": 2.0, "fail": 3.0},
    "judge": {"pass": 1.5, "fail": 2.0},
}
# Fitted in the second stage, on the prose and maths sets: off_task too, which judges words and never fires on
# HumanEval's code answers.
STAGE_TWO = ("code_static", "off_task", "prose", "arithmetic", "final_answer", "quantities", "chain", "steps", "consistency",
             "confidence")
# An answer with no evidence at all: about even odds of being good.
PRIOR_INTERCEPT = 0.0
PRIOR_SD = 2.0


def columns() -> list[tuple[str, str]]:
    return [(name, side) for name in SIGNALS for side in ("pass", "fail", "both") if side in PRIORS[name]]


def design_matrix(evidence: list[tuple[Evidence, ...]]) -> np.ndarray:
    """One row per item: 1 for the intercept, then each (signal, side) column's signed value."""
    cols = columns()
    rows = np.zeros((len(evidence), len(cols) + 1))
    rows[:, 0] = 1.0
    for i, found in enumerate(evidence):
        values = {e.name: e.value or 0.0 for e in found}
        for j, (name, side) in enumerate(cols, start=1):
            value = values.get(name, 0.0)
            rows[i, j] = max(value, 0.0) if side == "pass" else min(value, 0.0) if side == "fail" else value
    return rows


def prior_means() -> np.ndarray:
    return np.array([PRIOR_INTERCEPT] + [PRIORS[name][side] for name, side in columns()])


def fit(x: np.ndarray, y: np.ndarray, frozen: np.ndarray | None = None, start: np.ndarray | None = None,
        weight: np.ndarray | None = None, prior: np.ndarray | None = None) -> np.ndarray:
    """MAP logistic regression with a Gaussian prior (centred on `prior`, default PRIORS); weights kept >= 0.

    Columns marked in `frozen` keep their value in `start` (default: the prior means).
    """
    mean = prior_means() if prior is None else prior
    precision = np.full(len(mean), 1.0 / PRIOR_SD**2)
    theta = (mean if start is None else start).copy()
    weight = np.ones(len(y)) if weight is None else weight
    frozen = np.zeros(len(mean), dtype=bool) if frozen is None else frozen
    signs = np.ones(len(mean), dtype=bool)
    signs[0] = False  # every weight but the intercept is kept >= 0
    theta[signs] = np.maximum(theta[signs], 0.0)
    for _ in range(200):  # projected Newton: weights at zero that want to go below it are held there this round
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        gradient = x.T @ (weight * (p - y)) + precision * (theta - mean)
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(precision)
        free = ~frozen & ~(signs & (theta <= 0.0) & (gradient > 0))
        step = np.zeros_like(theta)
        step[free] = np.linalg.solve(hessian[np.ix_(free, free)], gradient[free])
        # Halve a step that makes things worse: a full Newton step from far off can overshoot and diverge.
        before, scale = _objective(x, y, theta, weight, mean, precision), 1.0
        for _ in range(40):
            candidate = theta - scale * step
            candidate[signs] = np.maximum(candidate[signs], 0.0)
            if _objective(x, y, candidate, weight, mean, precision) <= before:
                break
            scale /= 2
        moved = np.abs(candidate - theta).max()
        theta = candidate
        if moved < 1e-9:
            break
    return theta


def _objective(x: np.ndarray, y: np.ndarray, theta: np.ndarray, weight: np.ndarray, mean: np.ndarray,
               precision: np.ndarray) -> float:
    """The weighted negative log-likelihood plus the prior's penalty: what `fit` minimises."""
    logit = x @ theta
    # log(1 + e^z) without overflow, for log p = z - log(1 + e^z) and log(1 - p) = -log(1 + e^z)
    soft = np.logaddexp(0.0, logit)
    likelihood = float(np.sum(weight * (soft - y * logit)))
    return likelihood + 0.5 * float(np.sum(precision * (theta - mean) ** 2))


def recorded_outcomes(location: str) -> tuple[list[tuple[Evidence, ...]], list[float]]:
    """The local answers in a Hermes database whose next turn gave a verdict: their signals, and 1 or 0."""
    from proxy.config import is_postgres
    from proxy.storage.backends import open_database

    async def read() -> list[dict]:
        db = await open_database(location if is_postgres(location) else Path(location))
        try:
            return await db.rows("SELECT hermes, outcome FROM tasks WHERE route = 'local' AND outcome IS NOT NULL "
                                 "AND hermes IS NOT NULL ORDER BY id")
        finally:
            await db.close()

    evidence, labels = [], []
    for row in asyncio.run(read()):
        signals = (json.loads(row["hermes"]).get("quality") or {}).get("signals") or []
        if signals and all("value" in s for s in signals):  # rows from before signals kept their values have none
            evidence.append(tuple(Evidence(s["name"], s["value"], s["detail"]) for s in signals))
            labels.append(1.0 if row["outcome"] == "continued" else 0.0)
    return evidence, labels


def stage_two_mask() -> np.ndarray:
    """True for the intercept and every column the second stage does not fit."""
    return np.array([True] + [name not in STAGE_TWO for name, _ in columns()])


def to_weights(theta: np.ndarray) -> ScorerWeights:
    on_pass: dict[str, float] = {}
    on_fail: dict[str, float] = {}
    for value, (name, side) in zip(theta[1:], columns()):
        for chosen in ([on_pass] if side == "pass" else [on_fail] if side == "fail" else [on_pass, on_fail]):
            chosen[name] = round(float(value), 3)
    return ScorerWeights(round(float(theta[0]), 3), on_pass, on_fail)


def figures(items: list[dict], evidence: list[tuple[Evidence, ...]], weights: ScorerWeights) -> dict[str, dict]:
    scores = [combine(found, weights).score for found in evidence]
    report = {}
    for group, keep in (("all", lambda item: True), ("code", is_code_item)):
        chosen = [(s, item) for s, item in zip(scores, items) if keep(item)]
        values = [s for s, _ in chosen]
        auc = auroc(values, [bool(item["passed"]) for _, item in chosen])
        mae = mean_absolute_error(values, [float(item["grade"]) for _, item in chosen])
        report[group] = {"items": len(chosen), "auroc": _round(auc), "mae": _round(mae)}
    return report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--outcomes", help="a Hermes database (file or postgresql:// URL) to learn outcomes from")
    args = parser.parse_args()
    started = time.monotonic()
    items = load_items(args.data)
    evidence = asyncio.run(gather_all(items, QualityConfig()))
    train = [i for i, item in enumerate(items) if item.get("split") != HELD_OUT]
    test = [i for i, item in enumerate(items) if item.get("split") == HELD_OUT]
    x = design_matrix(evidence)
    y = np.array([float(item["grade"]) / 10 for item in items])
    # Stage one fits the code signals as they run; code_static, whose faults mostly fail the examples too, is
    # held at nothing there, so it does not shift the intercept the run code's own weights were fitted with.
    silent = prior_means()
    silent[[j for j, (name, _) in enumerate(columns(), start=1) if name == "code_static"]] = 0.0
    first = fit(x[train], y[train], frozen=~stage_two_mask(), start=silent, prior=silent)
    # Stage two: the prose, maths and short-answer training splits, everything but their own signals held.
    # The generated maths set, GSM8K's real model answers and the short answers weigh a fifth each, prose two.
    maths = [item for item in load_items(MATHS_DATA) if item.get("split") != HELD_OUT]
    # GSM8K twice, half weight each: alone, and with the sibling model's answer as a second sample, so the
    # weights fit a cascade with self-consistency off (the default) and on.
    gsm8k_items = [item for item in load_items(GSM8K_DATA) if item.get("split") != HELD_OUT]
    gsm8k = without_peers(gsm8k_items) + gsm8k_items
    short = [item for item in load_short_answers(SHORT_DATA) if item.get("split") != HELD_OUT]
    prose = prose_items(load_prose(PROSE_DATA, split="train"))
    # HumanEval's training answers once more with their code not run, as where there are no examples or no
    # sandbox: what code_static is for. Run, the answers leave it little to add (stage one).
    unrun = [items[i] for i in train]
    more = asyncio.run(gather_all(maths + gsm8k + short + prose, QualityConfig()))
    more += asyncio.run(gather_all(unrun, QualityConfig(run_code=False)))
    x2 = design_matrix(more)
    better_than_most = [float(rank >= 0.5) for rank in within_instruction_ranks(prose)]
    y2 = np.array([float(item["grade"]) / 10 for item in maths + gsm8k + short] + better_than_most
                  + [float(item["grade"]) / 10 for item in unrun])
    share = np.array([len(more) / 5 / len(part) for part in (maths, gsm8k, short) for _ in part]
                     + [len(more) * 2 / 5 / len(prose)] * len(prose) + [len(more) / 5 / len(unrun)] * len(unrun))
    second = fit(x2, y2, frozen=stage_two_mask(), start=first, weight=share)
    outcomes: dict = {}
    if args.outcomes:
        recorded, labels = recorded_outcomes(args.outcomes)
        if recorded:  # stage three: real use, everything but the intercept free, stage two as the prior
            intercept_only = np.array([True] + [False] * len(columns()))
            second = fit(design_matrix(recorded), np.array(labels), frozen=intercept_only, start=second,
                         prior=second)
        outcomes = {"answers": len(recorded), "continued": int(sum(labels)), "failed": len(labels) - int(sum(labels))}
    weights = to_weights(second)
    fired = {name for name, _ in columns() for i in train for e in evidence[i] if e.name == name and e.value}
    fired |= {e.name for found in more for e in found if e.name in STAGE_TWO and e.value}
    held_out = figures([items[i] for i in test], [evidence[i] for i in test], weights)
    maths_held = {f.group: {"items": f.items, "auroc": _round(f.auroc), "mae": _round(f.mae)}
                  for f in evaluate_maths(MATHS_DATA, QualityConfig(), weights=weights)}
    gsm8k_held = {b.label: {"answers": b.answers, "auroc": _round(b.auroc), "length_auroc": _round(b.length_auroc),
                            "largest_tie": _round(b.largest_tie)}
                  for b in evaluate_gsm8k(GSM8K_DATA, QualityConfig(), weights=weights)}
    prose_held = dataclasses.asdict(evaluate_prose(PROSE_DATA, QualityConfig(), weights=weights))
    short_figures = evaluate_short(SHORT_DATA, QualityConfig(), weights=weights)
    short_held = {"answers": short_figures.answers, "auroc": _round(short_figures.auroc),
                  "length_auroc": _round(short_figures.length_auroc), "largest_tie": _round(short_figures.largest_tie)}
    trained = figures([items[i] for i in train], [evidence[i] for i in train], weights)
    signals = {name: {side: getattr(weights, "on_" + side)[name] for side in ("pass", "fail")
                      if side in PRIORS[name] or "both" in PRIORS[name]} for name in SIGNALS}
    data = {
        "about": "Weights of the quality scorer's logistic model (proxy/judgment/quality.py); written by evals/calibrate.py.",
        "intercept": weights.intercept,
        "signals": signals,
        "calibration": {
            "data": _relative(args.data),
            "items": len(items),
            "train_items": len(train),
            "held_out_items": len(test),
            "target": "grade / 10 (soft label); AUROC against passed, MAE against grade, on the 0-10 scale",
            "prior": {"sd": PRIOR_SD, "means": PRIORS, "intercept": PRIOR_INTERCEPT},
            "prior_only": sorted(set(SIGNALS) - fired),
            "train": trained,
            "held_out": held_out,
            "stage_two": {
                "data": [_relative(MATHS_DATA), _relative(GSM8K_DATA), _relative(SHORT_DATA), _relative(PROSE_DATA),
                         _relative(args.data) + " (code not run)"],
                "train_items": {"maths": len(maths), "gsm8k": len(gsm8k_items), "short": len(short),
                                "prose": len(prose), "code_not_run": len(unrun)},
                "target": "maths, short answers and code not run: grade / 10; prose: the share of the other models' answers to the "
                          "same instruction GPT-4 Turbo preferred it to (soft labels)",
                "held_out": {"maths": maths_held, "gsm8k": gsm8k_held, "short": short_held,
                             "prose": {k: round(v, 3) if isinstance(v, float) else v for k, v in prose_held.items()}},
            },
            **({"stage_three": {"outcomes": outcomes}} if args.outcomes else {}),
        },
    }
    args.out.write_text(render(data), encoding="utf-8")
    print(f"fitted on {len(train)} items, held out {len(test)}, in {time.monotonic() - started:.0f} s -> {args.out}")
    neutral = 10 / (1 + math.exp(-weights.intercept))
    print(f"  intercept {weights.intercept:+.2f}  (an answer no signal speaks for or against scores {neutral:.1f})")
    for name in SIGNALS:
        sides = "  ".join(f"{side} {value:5.2f}" for side, value in signals[name].items())
        print(f"  {name:11} {sides}{'   (prior only: never fired)' if name not in fired else ''}")
    for split, report in (("train", trained), ("held-out", held_out)):
        for group, f in report.items():
            print(f"  {split:8} {group:4}  {f['items']:4} items  AUROC {f['auroc']}  MAE {f['mae']}")
    for group, f in maths_held.items():
        print(f"  maths {group:14} {f['items']:4} items  AUROC {f['auroc']}  MAE {f['mae']}")
    print(f"  short answers held-out: {short_held['answers']} answers  AUROC {short_held['auroc']} (length alone "
          f"{short_held['length_auroc']}), largest tie {short_held['largest_tie']}")
    if args.outcomes:
        print(f"  stage three: {outcomes['answers']} recorded outcomes ({outcomes['continued']} continued, "
              f"{outcomes['failed']} failed) from {describe(args.outcomes)}")
    print(f"  prose held-out: pairwise {prose_held['pairwise']:.3f} (length alone {prose_held['pairwise_length']:.3f}), "
          f"Spearman {prose_held['spearman']:.3f} (length alone {prose_held['spearman_length']:.3f})")


def render(data: dict) -> str:
    """JSON with one line per signal and per figure, so the file reads as a table."""
    text = json.dumps(data, indent=2)
    # Collapse every innermost object (no nested braces) onto one line.
    return re.sub(r"\{\n\s+([^{}\[\]]*?)\n\s+\}", lambda m: "{" + re.sub(r"\n\s+", " ", m[1]) + "}", text) + "\n"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(DEFAULT_DATA.parent.parent))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
