"""Build evals/gsm8k_labelled.jsonl: four real models' answers to GSM8K test problems, labelled by OpenAI.

The source is `grade_school_math/data/example_model_solutions.jsonl` of OpenAI's
grade-school-math repository (MIT): for each GSM8K test problem, the reference
solution and the answers of four GPT-3 models (6B and 175B, fine-tuned alone or
with a verifier picking among samples), each with `is_correct` as OpenAI
graded it. These are the weak models' answers a cascade must judge, written in
GSM8K's own style (`<<48/2=24>>` calculator notes, a last line `A: 72`), with
every kind of mistake real models make: a quantity of the question left out,
the wrong operation, a step that repeats until the answer is cut off.

The file is not on this machine; the copy used is its first lines (see
PROVENANCE.md), and a partial last line is dropped. Problems are split 70/30
into train and test by SHA-256 of the question, as the other sets are.

    .venv/bin/python evals/make_gsm8k_set.py SOURCE.jsonl [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "gsm8k_labelled.jsonl"
GENERATORS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
# The same-sized model trained the other way: its answer is the second sample self-consistency compares with.
SIBLING = {"6b_finetuning": "6b_verification", "6b_verification": "6b_finetuning",
           "175b_finetuning": "175b_verification", "175b_verification": "175b_finetuning"}
FINAL = re.compile(r"^A:\s*(.+)$", re.MULTILINE)


def split_of(question: str) -> str:
    """`test` for 3 in 10 problems, by SHA-256 of the question: stable whatever else changes."""
    return "test" if int(hashlib.sha256(question.encode()).hexdigest(), 16) % 10 < 3 else "train"


def items_of(number: int, problem: dict[str, Any]) -> list[dict[str, Any]]:
    """One labelled item per model's answer to one problem."""
    known = FINAL.search(problem["ground_truth"])
    task_id = f"gsm8k/{number}"
    items = []
    for generator in GENERATORS:
        solution = problem.get(generator)
        if not solution:
            continue
        text = solution["solution"]
        items.append({
            "id": f"{task_id}:{generator}", "task_id": task_id, "kind": generator, "split": split_of(problem["question"]),
            "task_type": "conversation", "messages": [{"role": "user", "content": problem["question"]}],
            "answer": {"role": "assistant", "content": text},
            # The source does not say; an answer with no "A:" line ran out of room (the repeating ones do).
            "finish_reason": "stop" if FINAL.search(text) else "length",
            "tools": None, "known_answer": known.group(1).strip() if known else None,
            "peers": [problem[SIBLING[generator]]["solution"]] if problem.get(SIBLING[generator]) else [],
            "passed": bool(solution["is_correct"]), "grade": 10.0 if solution["is_correct"] else 0.0,
        })
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    problems = []
    for line in args.source.read_text(encoding="utf-8").splitlines():
        try:
            problems.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the copy's partial last line
    with args.out.open("w", encoding="utf-8") as out:
        count = 0
        for number, problem in enumerate(problems):
            for item in items_of(number, problem):
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                count += 1
    tests = sum(1 for p in problems if split_of(p["question"]) == "test")
    print(f"{len(problems)} problems ({tests} held out), {count} answers -> {args.out}")


if __name__ == "__main__":
    main()
