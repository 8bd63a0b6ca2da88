"""How well the quality scorer separates good answers from bad: AUROC and MAE on labelled data.

The data (evals/humaneval_labelled.jsonl, built by evals/make_humaneval_set.py)
holds chat answers with a `passed` label and a 0-10 reference `grade` from
running real tests. AUROC says how well the score ranks passing answers above
failing ones (0.5 is chance); MAE is the mean distance, in points, between the
score and the reference grade. `hermes eval-scorer` prints `format_report`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy import code_blocks
from proxy.config import QualityConfig
from proxy.quality import RUN_CODE_OFF, Evidence, QualityScore, ScorerWeights, combine, gather_evidence, load_weights
from proxy.sandbox import sandbox_status

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "evals" / "humaneval_labelled.jsonl"
HELD_OUT = "test"  # the `split` of items calibration never saw


@dataclass(frozen=True)
class Figures:
    """The scorer against the labels on one group of items; None where the group cannot say."""

    group: str
    items: int
    passing: int
    auroc: float | None  # None unless the group holds both passing and failing items
    mae: float | None  # points on the 0-10 scale; None for an empty group


@dataclass(frozen=True)
class EvalReport:
    path: Path
    items: int
    sandbox_skipped: int  # items whose code_run signal was skipped: no sandbox, or quality.run_code off
    sandbox_reason: str  # why, when it was
    groups: tuple[Figures, ...]  # all, code, held-out, held-out code
    seconds: float

    def figures(self, group: str) -> Figures:
        return next(f for f in self.groups if f.group == group)


def load_items(path: Path = DEFAULT_DATA, limit: int | None = None) -> list[dict[str, Any]]:
    """The labelled items of a JSONL file, the first `limit` of them when given."""
    items = []
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                items.append(json.loads(line))
            if limit is not None and len(items) >= limit:
                break
    return items


def evaluate(
    path: Path = DEFAULT_DATA,
    config: QualityConfig | None = None,
    limit: int | None = None,
    weights: ScorerWeights | None = None,
) -> EvalReport:
    """Score every item of `path` (the first `limit`) with `config` and compare with the labels.

    Blocks until done; sandboxed runs go as many at a time as there are CPUs.
    Not for use inside a running event loop (tests call it from sync code).
    """
    started = time.monotonic()
    config = config or QualityConfig()
    items = load_items(path, limit)
    evidence = asyncio.run(gather_all(items, config))
    weights = weights or load_weights()
    scores = [combine(found, weights) for found in evidence]
    skipped = sum(1 for s in scores if _sandbox_skipped(s))
    groups = (
        _figures("all", items, scores, lambda item: True),
        _figures("code", items, scores, is_code_item),
        _figures("held-out", items, scores, lambda item: item.get("split") == HELD_OUT),
        _figures("held-out code", items, scores, lambda item: item.get("split") == HELD_OUT and is_code_item(item)),
    )
    reason = RUN_CODE_OFF if not config.run_code else sandbox_status().reason
    return EvalReport(Path(path), len(items), skipped, reason if skipped else "", groups, time.monotonic() - started)


async def gather_all(items: Sequence[dict[str, Any]], config: QualityConfig) -> list[tuple[Evidence, ...]]:
    """Every item's evidence (quality.gather_evidence), a few items at a time."""
    limit = asyncio.Semaphore(os.cpu_count() or 2)

    async def one(item: dict[str, Any]) -> tuple[Evidence, ...]:
        async with limit:
            return await gather_evidence(item["messages"], item["answer"], item.get("finish_reason"),
                                         item.get("tools"), item.get("task_type", "code_generation"), config)

    return list(await asyncio.gather(*(one(item) for item in items)))


def is_code_item(item: dict[str, Any]) -> bool:
    """An item whose answer carries code (a fenced block, or Python that parses)."""
    content = item["answer"].get("content") or ""
    return bool(code_blocks.fenced_blocks(content) or code_blocks.python_sources(content))


def _sandbox_skipped(score: QualityScore) -> bool:
    run = next(s for s in score.signals if s.name == "code_run")
    return run.passed is None and (run.detail == RUN_CODE_OFF or run.detail == sandbox_status().reason)


def _figures(group: str, items: list[dict[str, Any]], scores: list[QualityScore], keep: Any) -> Figures:
    chosen = [(item, score) for item, score in zip(items, scores) if keep(item)]
    passed = [bool(item["passed"]) for item, _ in chosen]
    values = [score.score for _, score in chosen]
    grades = [float(item["grade"]) for item, _ in chosen]
    return Figures(group, len(chosen), sum(passed), auroc(values, passed), mean_absolute_error(values, grades))


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The chance that a random passing item outscores a random failing one (ties count half)."""
    positives = [s for s, label in zip(scores, labels) if label]
    negatives = [s for s, label in zip(scores, labels) if not label]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def mean_absolute_error(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    if not predicted:
        return None
    return sum(abs(p - a) for p, a in zip(predicted, actual)) / len(predicted)


def format_report(report: EvalReport) -> str:
    """A few lines for the terminal: one per group, then what was skipped and how long it took."""
    lines = [f"scorer on {report.path.name}: {report.items} items", f"{'group':14} {'items':>5} {'pass':>5} "
             f"{'AUROC':>6} {'MAE':>5}"]
    for f in report.groups:
        auc = "-" if f.auroc is None else f"{f.auroc:.3f}"
        mae = "-" if f.mae is None else f"{f.mae:.2f}"
        lines.append(f"{f.group:14} {f.items:5} {f.passing:5} {auc:>6} {mae:>5}")
    if report.sandbox_skipped:
        lines.append(f"code_run skipped on {report.sandbox_skipped} items: {report.sandbox_reason}")
    else:
        lines.append("code_run ran in the sandbox wherever there were examples")
    lines.append(f"took {report.seconds:.1f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_report(evaluate()))
