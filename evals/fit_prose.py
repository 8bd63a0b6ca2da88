"""Fit the prose model (proxy/judgment/prose.py) on AlpacaEval preferences and write proxy/judgment/prose_weights.json.

Data: evals/alpaca_eval_prose.jsonl.gz (evals/make_prose_set.py), answers of
16 models to the 805 AlpacaEval instructions, each with GPT-4 Turbo's
`preference` from 1.0 (its own reference answer is clearly better) to 2.0
(this answer is clearly better). Only the "train" instructions are fitted.

The model is fitted on pairs: for two answers to the same instruction whose
preferences differ by at least PAIR_MARGIN, a logistic regression on the
difference of their standardised features predicts which one GPT-4 preferred
(a Bradley-Terry model; what the instruction itself makes easy or hard cancels
out). A second, one-dimensional logistic fit then maps the pair model's
utility to the chance that GPT-4 prefers the answer to its reference
(soft label preference - 1), so the logit means something. L2-regularised,
Newton's method, numpy only.

It reports, on the held-out instructions it never saw: pairwise accuracy (of
the pairs GPT-4 ordered, the share the model orders the same way; ties count
half) and Spearman's rank correlation with the preference, beside the same for
answer length alone and for random scores.

    .venv/bin/python evals/fit_prose.py [--data PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from proxy.judgment.prose import WEIGHTS_FILE, features

NAMES = list(features("What is 2 + 2?", "4."))

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "alpaca_eval_prose.jsonl.gz"
PAIR_MARGIN = 0.1  # preferences closer than this are within the judge's noise (1.0000001 vs 1.00004)
L2 = 1.0  # prior precision on each standardised coefficient
FOLDS = 5
# Features too rare in AlpacaEval to fit (it is nearly all English): a reasoned effect, in logit units per unit
# of the raw feature. An answer in another language than the question's is of little use to the asker.
RARE = 30  # answers showing a feature, fewer than which it is not fitted
PRIOR_EFFECTS = {"language_mismatch": -1.0}


def load(path: Path = DEFAULT_DATA) -> list[dict]:
    """One dict per instruction: instruction, dataset, split, answers [{generator, output, preference}]."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def pairs(groups: Sequence[Sequence[float]], margin: float) -> list[tuple[int, int, int]]:
    """(group, i, j) for every pair in a group whose preferences differ by at least `margin`; i is preferred."""
    found = []
    for g, prefs in enumerate(groups):
        for i in range(len(prefs)):
            for j in range(len(prefs)):
                if prefs[i] - prefs[j] >= margin and prefs[i] != prefs[j]:
                    found.append((g, i, j))
    return found


def pairwise_accuracy(groups: Sequence[Sequence[float]], scores: Sequence[Sequence[float]], margin: float) -> float:
    """Of the pairs GPT-4 ordered (preferences `margin` apart), the share `scores` orders alike; ties count half."""
    hits = [1.0 if scores[g][i] > scores[g][j] else 0.5 if scores[g][i] == scores[g][j] else 0.0
            for g, i, j in pairs(groups, margin)]
    return sum(hits) / len(hits)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (ties get their mean rank)."""
    rx, ry = _ranks(x), _ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: Sequence[float]) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = np.asarray(values)[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2
        i = j + 1
    return ranks


def logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Weighted L2-regularised logistic regression (soft labels allowed), by Newton's method."""
    theta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ theta, -50, 50)))
        gradient = x.T @ (weight * (p - y)) + l2 * theta
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(l2)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta


def fit(x: list[np.ndarray], prefs: list[list[float]]) -> dict:
    """The pair model and its calibration, fitted on groups `x` (one feature matrix per instruction)."""
    stacked = np.vstack(x)
    mean = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    scale[scale == 0] = 1.0
    z = [(m - mean) / scale for m in x]
    found = pairs(prefs, PAIR_MARGIN)
    diffs = np.array([z[g][i] - z[g][j] for g, i, j in found])
    # Each pair once in each orientation, so no intercept is needed and the fit stays symmetric.
    design = np.vstack([diffs, -diffs])
    labels = np.concatenate([np.ones(len(found)), np.zeros(len(found))])
    # Weight a pair by how sure GPT-4 was, and each instruction equally however many pairs it has.
    per_group = np.bincount([g for g, _, _ in found], minlength=len(x))
    weight = np.array([min(1.0, prefs[g][i] - prefs[g][j]) / per_group[g] * 20 for g, i, j in found])
    coef = logistic(design, labels, np.concatenate([weight, weight]), np.full(design.shape[1], L2))
    utility = np.concatenate([m @ coef for m in z])
    soft = np.concatenate([np.asarray(p) - 1.0 for p in prefs])
    a, b = logistic(np.column_stack([np.ones_like(utility), utility]), soft, np.ones_like(utility), np.array([0.0, 0.0]))
    logits = a + b * utility
    coef = coef * b
    shown = (stacked != 0).sum(axis=0)
    for k, name in enumerate(NAMES):
        if name in PRIOR_EFFECTS and shown[k] < RARE:
            coef[k] = PRIOR_EFFECTS[name] * scale[k]
    return {"mean": mean, "scale": scale, "coef": coef, "intercept": float(a),
            # The signal is tanh((logit - center) / spread): two standard deviations per unit keep nearly every
            # answer off tanh's flat ends, where distinct answers would round to the same score.
            "center": float(np.median(logits)), "spread": 2 * float(np.std(logits)) or 1.0}


def predict(model: dict, x: np.ndarray) -> np.ndarray:
    return model["intercept"] + ((x - model["mean"]) / model["scale"]) @ model["coef"]


def report(name: str, prefs: list[list[float]], scores: list[list[float]]) -> dict:
    flat_prefs = [p for group in prefs for p in group]
    flat_scores = [s for group in scores for s in group]
    return {"name": name, "pairwise_accuracy": round(pairwise_accuracy(prefs, scores, PAIR_MARGIN), 3),
            "pairwise_accuracy_any_difference": round(pairwise_accuracy(prefs, scores, 0.0), 3),
            "spearman": round(spearman(flat_scores, flat_prefs), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    args = parser.parse_args()
    started = time.monotonic()
    groups = load(args.data)
    names = NAMES
    x, prefs, lengths = [], [], []
    for group in groups:
        rows = [features(group["instruction"], a["output"]) for a in group["answers"]]
        x.append(np.array([[row[n] for n in names] for row in rows]))
        prefs.append([a["preference"] for a in group["answers"]])
        lengths.append([float(len(a["output"])) for a in group["answers"]])
    took = time.monotonic() - started
    answers = sum(len(p) for p in prefs)
    print(f"features of {answers} answers in {took:.1f} s ({1000 * took / answers:.2f} ms each)")
    train = [i for i, g in enumerate(groups) if g["split"] != "test"]
    test = [i for i, g in enumerate(groups) if g["split"] == "test"]
    folds = [[i for k, i in enumerate(train) if k % FOLDS == f] for f in range(FOLDS)]
    cv = []
    for f, fold in enumerate(folds):
        inside = [i for i in train if i not in set(fold)]
        model = fit([x[i] for i in inside], [prefs[i] for i in inside])
        cv.append(pairwise_accuracy([prefs[i] for i in fold], [list(predict(model, x[i])) for i in fold], PAIR_MARGIN))
    print(f"cross-validated on train: pairwise accuracy {np.mean(cv):.3f} (folds {', '.join(f'{c:.3f}' for c in cv)})")
    model = fit([x[i] for i in train], [prefs[i] for i in train])
    rng = random.Random(0)
    held = {"items": sum(len(prefs[i]) for i in test), "instructions": len(test),
            "pairs": len(pairs([prefs[i] for i in test], PAIR_MARGIN))}
    figures = [
        report("model", [prefs[i] for i in test], [list(predict(model, x[i])) for i in test]),
        report("length", [prefs[i] for i in test], [lengths[i] for i in test]),
        report("random", [prefs[i] for i in test], [[rng.random() for _ in prefs[i]] for i in test]),
    ]
    trained = report("model", [prefs[i] for i in train], [list(predict(model, x[i])) for i in train])
    print(f"held out: {held['instructions']} instructions, {held['items']} answers, {held['pairs']} pairs "
          f"at least {PAIR_MARGIN} apart")
    print(f"  {'scorer':8} {'pairwise':>8} {'(any diff)':>10} {'Spearman':>8}")
    for f in figures:
        print(f"  {f['name']:8} {f['pairwise_accuracy']:8.3f} {f['pairwise_accuracy_any_difference']:10.3f} "
              f"{f['spearman']:8.3f}")
    print(f"  (train: pairwise {trained['pairwise_accuracy']:.3f}, Spearman {trained['spearman']:.3f})")
    order = np.argsort(-np.abs(model["coef"]))
    for k in order:
        print(f"  {names[k]:20} {model['coef'][k]:+.3f}")
    data = {
        "about": "The prose model of proxy/judgment/prose.py (standardised features, linear logit); written by "
                 "evals/fit_prose.py.",
        "model": {"features": names, "mean": _rounded(model["mean"]), "scale": _rounded(model["scale"]),
                  "coef": _rounded(model["coef"]), "intercept": round(model["intercept"], 4),
                  "center": round(model["center"], 4), "spread": round(model["spread"], 4)},
        "fit": {"data": "evals/alpaca_eval_prose.jsonl.gz", "train_instructions": len(train),
                "pair_margin": PAIR_MARGIN, "l2": L2, "cross_validated_pairwise_accuracy": round(float(np.mean(cv)), 3),
                "logit": "log-odds that GPT-4 Turbo prefers the answer to its own reference (preference - 1)"},
        "held_out": held | {"figures": figures},
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"-> {args.out} in {time.monotonic() - started:.0f} s")


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


if __name__ == "__main__":
    main()
