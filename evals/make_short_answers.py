"""Build evals/short_answers_labelled.jsonl: the embedded model's answers to short questions, with its confidence.

Short factual questions (evals/short_questions.py) are the answers no other
check of the scorer can judge. Each is asked of the embedded SmolLM2-135M
twice, as a cascade would (once greedily, once at temperature 0.8), with
each token's log-probability and its five likeliest alternatives, as
Hermes asks a local model for them. An answer is right when it states the
question's known answer, as a whole word.

Questions are split 70/30 by a hash of their text, as the other sets are. The
script then fits confidence.py's logistic model on the training split and
writes proxy/judgment/confidence_weights.json with the held-out figures.

    .venv/bin/python evals/make_short_answers.py            # answer, label, fit (about 5 minutes)
    .venv/bin/python evals/make_short_answers.py --fit-only # refit on the answers already in the file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from proxy.judgment.baselines import auroc
from proxy.judgment.confidence import FEATURES, WEIGHTS_FILE, summarise
from proxy.judgment.scorer_eval import load_short_answers

HERE = Path(__file__).resolve().parent
OUT = HERE / "short_answers_labelled.jsonl"
MODEL = "smollm2:135m"
TEMPERATURES = (0.0, 0.8)
MAX_TOKENS = 128
TOP = 5


def split_of(question: str) -> str:
    """70/30 by the question's hash: every answer to one question lands on the same side."""
    return "test" if int(hashlib.sha256(question.encode()).hexdigest(), 16) % 10 < 3 else "train"


def is_right(answer: str, accepted: tuple[str, ...]) -> bool:
    """Whether `answer` states an accepted answer, as a whole word (any case)."""
    return any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", answer, re.IGNORECASE) for a in accepted)


def compact(entries: list[dict[str, Any]]) -> list[list[Any]]:
    """Each token's entry as [logprob, [alternatives' logprobs]]: what confidence.py reads, small enough to keep."""
    return [[round(e["logprob"], 3), [round(a["logprob"], 3) for a in e.get("top_logprobs", ())]] for e in entries]


def answer_all() -> list[dict[str, Any]]:
    from short_questions import QUESTIONS  # evals/, beside this script

    from proxy.localmodel.model import EmbeddedModel, Finished, Scored

    model = EmbeddedModel(MODEL, context_tokens=2048)
    items = []
    started = time.monotonic()
    for number, (category, question, accepted) in enumerate(QUESTIONS):
        for temperature in TEMPERATURES:
            sampling = {"temperature": temperature, "max_tokens": MAX_TOKENS, "seed": number}
            pieces = list(model.chat([{"role": "user", "content": question}], sampling, logprobs=TOP))
            text = "".join(p.text for p in pieces if isinstance(p, Scored))
            finish = next((p.reason for p in pieces if isinstance(p, Finished)), "stop")
            right = is_right(text, accepted)
            items.append({
                "id": f"{number}:{temperature}", "category": category, "split": split_of(question),
                "messages": [{"role": "user", "content": question}], "task_type": "quick_qa",
                "answer": {"role": "assistant", "content": text}, "finish_reason": finish,
                "passed": right, "grade": 10 if right else 0, "accepted": list(accepted),
                "temperature": temperature,
                "logprobs": compact([e for p in pieces if isinstance(p, Scored) for e in p.logprobs]),
            })
        if number % 25 == 0:
            print(f"  {number}/{len(QUESTIONS)} questions, {time.monotonic() - started:.0f} s", flush=True)
    return items


def features(item: dict[str, Any]) -> list[float]:
    summary = summarise(item["logprobs"])
    return [getattr(summary, name) for name in FEATURES] if summary else [0.0] * len(FEATURES)


def fit(x: np.ndarray, y: np.ndarray, ridge: float = 0.1) -> np.ndarray:
    """Logistic regression by Newton's method, with a little ridge so that it settles."""
    x = np.hstack([np.ones((len(x), 1)), x])
    theta = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ theta)))
        gradient = x.T @ (p - y) + ridge * np.r_[0, theta[1:]]
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.diag(np.r_[0, np.ones(len(theta) - 1)])
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-only", action="store_true", help="refit on the answers already in the file")
    args = parser.parse_args()
    if not args.fit_only:
        OUT.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in answer_all()),
                       encoding="utf-8")
    items = load_short_answers(OUT)
    train = [item for item in items if item["split"] == "train"]
    test = [item for item in items if item["split"] == "test"]
    theta = fit(np.array([features(i) for i in train]), np.array([float(i["passed"]) for i in train]))
    labels = [bool(i["passed"]) for i in test]

    def chance(item: dict[str, Any]) -> float:
        return float(1 / (1 + np.exp(-(theta[0] + np.dot(theta[1:], features(item))))))

    held_out = {"answers": len(test), "right": sum(labels), "auroc": round(auroc([chance(i) for i in test], labels), 3)}
    for position, name in enumerate(FEATURES):  # each feature alone, signed so that higher means surer
        sign = -1 if name == "mean_entropy" else 1
        held_out[f"{name}_auroc"] = round(auroc([sign * features(i)[position] for i in test], labels), 3)
    held_out["length_auroc"] = round(auroc([len(i["answer"]["content"]) for i in test], labels), 3)
    data = {
        "about": "The confidence signal's logistic model (proxy/judgment/confidence.py); written by "
                 "evals/make_short_answers.py from the embedded model's answers to short questions.",
        "intercept": round(float(theta[0]), 4),
        "coefficients": {name: round(float(value), 4) for name, value in zip(FEATURES, theta[1:])},
        "fitted_on": {"data": "evals/short_answers_labelled.jsonl", "model": MODEL, "train_answers": len(train),
                      "right": sum(1 for i in train if i["passed"])},
        "held_out": held_out,
    }
    WEIGHTS_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"{len(items)} answers ({sum(i['passed'] for i in items)} right); fitted on {len(train)} -> {WEIGHTS_FILE}")
    print("  held out: " + ", ".join(f"{k} {v}" for k, v in held_out.items()))


if __name__ == "__main__":
    main()
