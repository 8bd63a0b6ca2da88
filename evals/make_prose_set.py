"""Build evals/alpaca_eval_prose.jsonl.gz: AlpacaEval answers with GPT-4 Turbo's preferences, split by instruction.

Reads ../shared/data/alpaca_eval_pairs.jsonl.gz (see evals/PROVENANCE.md) and
keeps 16 of its 20 generators: not `NullModel` (its rows say generator
"example": one fixed string of gibberish that games the judge, preferred 1.77
on average, a label that would teach the scorer to reward noise), not
`gpt4_gamed` (answers cut to 10 characters: trivially bad, they would only
inflate pairwise accuracy), and not the two smaller FuseChat models (to keep
the file a few MB; FuseChat-Qwen-2.5-7B stays as the strongest generator).
One line per instruction, its answers inside; `split` is "test" for 3 in 10
instructions by a hash of the instruction text, "train" otherwise, so fitting
never sees a held-out instruction.

    .venv/bin/python evals/make_prose_set.py [--source PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent / "shared" / "data" / "alpaca_eval_pairs.jsonl.gz"
DEFAULT_OUT = HERE / "alpaca_eval_prose.jsonl.gz"
LEFT_OUT = frozenset({"example", "gpt4_gamed", "FuseChat-Llama-3.2-1B-Instruct", "FuseChat-Llama-3.2-3B-Instruct"})
TEST_SHARE = 3  # in 10 instructions held out


def split_of(instruction: str) -> str:
    """"test" or "train", by a hash of the instruction (stable across runs and machines)."""
    return "test" if int(hashlib.sha256(instruction.encode()).hexdigest(), 16) % 10 < TEST_SHARE else "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows: dict[str, dict] = {}
    with gzip.open(args.source, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["generator"] in LEFT_OUT or row["preference"] is None:
                continue
            entry = rows.setdefault(row["instruction"], {"instruction": row["instruction"], "dataset": row["dataset"],
                                                          "split": split_of(row["instruction"]), "answers": []})
            entry["answers"].append({"generator": row["generator"], "output": row["output"],
                                     "preference": row["preference"]})
    with gzip.GzipFile(args.out, "wb", compresslevel=9, mtime=0) as raw:
        for entry in rows.values():
            entry["answers"].sort(key=lambda a: a["generator"])
            raw.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
    answers = sum(len(e["answers"]) for e in rows.values())
    held = sum(1 for e in rows.values() if e["split"] == "test")
    print(f"{len(rows)} instructions ({held} held out), {answers} answers -> {args.out} "
          f"({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
