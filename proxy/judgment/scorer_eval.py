"""How well the quality scorer separates good answers from bad: AUROC and MAE on labelled data.

The data (evals/humaneval_labelled.jsonl, built by evals/make_humaneval_set.py)
holds chat answers with a `passed` label and a 0-10 reference `grade` from
running real tests. AUROC says how well the score ranks passing answers above
failing ones (0.5 is chance); MAE is the mean distance, in points, between the
score and the reference grade. `hermes eval-scorer` prints `format_report`.

Beside it, on their held-out splits only: maths answers with known answers
(evals/maths_labelled.jsonl, evals/make_maths_set.py), by AUROC; and AlpacaEval
answers with GPT-4 Turbo's preferences (evals/alpaca_eval_prose.jsonl.gz), by
pairwise accuracy (of two answers to one instruction that GPT-4 told apart,
how often the score orders them alike) and Spearman, with answer length alone
and random scores beside them: length is the baseline a prose scorer must beat.
Likewise GSM8K's real model answers, and the embedded model's answers to short
questions with its token log-probabilities (evals/make_short_answers.py).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config_schema import QualityConfig
from proxy.judgment import code_blocks, code_static, maths
from proxy.judgment.baselines import Baselines, auroc, baselines, format_baselines, spearman, time_each
from proxy.judgment.quality import (
    RUN_CODE_OFF,
    Evidence,
    QualityScore,
    ScorerWeights,
    combine,
    gather_evidence,
    load_weights,
    task_text,
)
from proxy.judgment.sandbox import node_status, sandbox_status

EVALS = Path(__file__).resolve().parents[2] / "evals"
DEFAULT_DATA = EVALS / "humaneval_labelled.jsonl"
PROSE_DATA = EVALS / "alpaca_eval_prose.jsonl.gz"
MATHS_DATA = EVALS / "maths_labelled.jsonl"
JS_DATA = EVALS / "js_labelled.jsonl"
GSM8K_DATA = EVALS / "gsm8k_labelled.jsonl"
SHORT_DATA = EVALS / "short_answers_labelled.jsonl"
SHORT_SIGNALS = ("confidence", "too_short", "truncated", "repetition", "off_task", "arithmetic", "final_answer")
UNRUN_SIGNALS = ("code_parse", "code_static", "truncated", "refusal")
MATHS_SIGNALS = ("arithmetic", "final_answer", "quantities", "chain", "steps", "consistency", "truncated",
                 "repetition")
HELD_OUT = "test"  # the `split` of items calibration never saw
PAIR_MARGIN = 0.1  # preferences closer than this are within the judge's noise (1.0000001 against 1.00004)
PROSE_TASK_TYPE = "conversation"  # what the shipped rules give a request no rule matches


@dataclass(frozen=True)
class Figures:
    """The scorer against the labels on one group of items; None where the group cannot say."""

    group: str
    items: int
    passing: int
    auroc: float | None  # None unless the group holds both passing and failing items
    mae: float | None  # points on the 0-10 scale; None for an empty group
    length_auroc: float | None = None  # the answer's length as the score: the baseline to beat (random is 0.5)


@dataclass(frozen=True)
class ProseFigures:
    """The scorer on held-out AlpacaEval answers, with answer length and random scores beside it."""

    instructions: int
    answers: int
    pairs: int  # pairs of answers to one instruction whose preferences are PAIR_MARGIN or more apart
    pairwise: float  # share of those pairs the score orders as GPT-4 did (ties count half)
    pairwise_length: float
    pairwise_random: float
    spearman: float  # rank correlation of score and preference over all the answers
    spearman_length: float


@dataclass(frozen=True)
class EvalReport:
    path: Path
    items: int
    sandbox_skipped: int  # items whose code_run signal was skipped: no sandbox, or quality.run_code off
    sandbox_reason: str  # why, when it was
    groups: tuple[Figures, ...]  # all, code, held-out, held-out code
    seconds: float
    maths: tuple[Figures, ...] = ()  # held-out, held-out model answers; empty when not evaluated
    prose: ProseFigures | None = None
    javascript: tuple[Figures, ...] = ()  # held-out; empty when not evaluated
    javascript_note: str = ""  # why JavaScript's examples did not run, when they did not
    gsm8k: tuple[Baselines, ...] = ()  # real models' answers to GSM8K, held out: one sample, two samples
    short: Baselines | None = None  # the embedded model's answers to short questions, held out
    unrun: Baselines | None = None  # HumanEval's held-out answers with their code not run

    def javascript_figures(self, group: str) -> Figures:
        return next(f for f in self.javascript if f.group == group)

    def figures(self, group: str) -> Figures:
        return next(f for f in self.groups if f.group == group)

    def maths_figures(self, group: str) -> Figures:
        return next(f for f in self.maths if f.group == group)


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
    others: bool | None = None,
) -> EvalReport:
    """Score every item of `path` (the first `limit`) with `config` and compare with the labels.

    With `others` (by default, when `path` is the shipped HumanEval set) the
    held-out JavaScript, maths and prose sets are scored too, the first `limit`
    items and instructions of each. Blocks until done; sandboxed runs go as many at a
    time as there are CPUs. Not for use inside a running event loop (tests
    call it from sync code).
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
    if others is None:
        others = Path(path).resolve() == DEFAULT_DATA.resolve()
    maths = evaluate_maths(MATHS_DATA, config, limit, weights) if others and MATHS_DATA.is_file() else ()
    prose = evaluate_prose(PROSE_DATA, config, limit, weights) if others and PROSE_DATA.is_file() else None
    javascript = evaluate_held_out(JS_DATA, config, limit, weights) if others and JS_DATA.is_file() else ()
    js_note = "" if not javascript else RUN_CODE_OFF if not config.run_code else node_status().reason
    gsm8k = evaluate_gsm8k(GSM8K_DATA, config, limit, weights) if others and GSM8K_DATA.is_file() else ()
    short = evaluate_short(SHORT_DATA, config, limit, weights) if others and SHORT_DATA.is_file() else None
    unrun = evaluate_unrun(path, limit, weights) if others else None
    return EvalReport(Path(path), len(items), skipped, reason if skipped else "", groups, time.monotonic() - started,
                      maths, prose, javascript, js_note, gsm8k, short, unrun)


def evaluate_unrun(path: Path = DEFAULT_DATA, limit: int | None = None,
                   weights: ScorerWeights | None = None) -> Baselines:
    """The held-out code answers scored as where nothing runs (no examples, no sandbox): what code_static reads."""
    items = [item for item in load_items(path) if item.get("split") == HELD_OUT][:limit]
    evidence = asyncio.run(gather_all(items, QualityConfig(run_code=False)))
    costs = time_each({"code_static": lambda i: code_static.static_verdict(task_text(i["messages"]),
                                                                          i["answer"]["content"])}, items)
    return baselines("code not run", [item["answer"]["content"] for item in items], [item["passed"] for item in items],
                     [combine(e, weights or load_weights()).score for e in evidence], evidence, UNRUN_SIGNALS, costs)


def evaluate_held_out(path: Path, config: QualityConfig | None = None, limit: int | None = None,
                      weights: ScorerWeights | None = None, own_kind: str = "") -> tuple[Figures, ...]:
    """AUROC and MAE on the held-out items of `path` (the first `limit`); with `own_kind`, also on those of that kind."""
    items = [item for item in load_items(path) if item.get("split") == HELD_OUT][:limit]
    evidence = asyncio.run(gather_all(items, config or QualityConfig()))
    scores = [combine(found, weights or load_weights()) for found in evidence]
    held_out = _figures("held-out", items, scores, lambda item: True)
    if not own_kind:
        return (held_out,)
    return held_out, _figures("held-out model", items, scores, lambda item: item["kind"].startswith(own_kind))


def evaluate_maths(path: Path = MATHS_DATA, config: QualityConfig | None = None, limit: int | None = None,
                   weights: ScorerWeights | None = None) -> tuple[Figures, ...]:
    """The held-out maths items: all of them, and the embedded model's own answers."""
    return evaluate_held_out(path, config, limit, weights, own_kind="smollm2")


def evaluate_gsm8k(path: Path = GSM8K_DATA, config: QualityConfig | None = None, limit: int | None = None,
                   weights: ScorerWeights | None = None) -> tuple[Baselines, Baselines]:
    """GPT-3 models' held-out answers to GSM8K: the scorer beside length, chance and each maths signal.

    Twice: alone, and with a second sample to compare final answers with (the sibling model's answer, as
    self-consistency would have it).
    """
    items = [item for item in load_items(path) if item.get("split") == HELD_OUT][:limit]
    costs = time_each(maths.timed_checks(), [maths.Worked.read(i["messages"][0]["content"], i["answer"]["content"],
                                                                i.get("peers") or []) for i in items])
    found = []
    for label, chosen in (("one sample", without_peers(items)), ("two samples", items)):
        evidence = asyncio.run(gather_all(chosen, config or QualityConfig()))
        scores = [combine(e, weights or load_weights()).score for e in evidence]
        found.append(baselines(label, [item["answer"]["content"] for item in chosen],
                               [item["passed"] for item in chosen], scores, evidence, MATHS_SIGNALS, costs))
    return found[0], found[1]


def evaluate_short(path: Path = SHORT_DATA, config: QualityConfig | None = None, limit: int | None = None,
                   weights: ScorerWeights | None = None) -> Baselines:
    """The embedded model's held-out answers to short questions: the scorer beside length, chance and its signals."""
    items = [item for item in load_short_answers(path) if item.get("split") == HELD_OUT][:limit]
    evidence = asyncio.run(gather_all(items, config or QualityConfig()))
    scores = [combine(e, weights or load_weights()).score for e in evidence]
    return baselines("embedded model", [item["answer"]["content"] for item in items],
                     [item["passed"] for item in items], scores, evidence, SHORT_SIGNALS)


def load_short_answers(path: Path = SHORT_DATA) -> list[dict[str, Any]]:
    """The short-answer items, each answer's token log-probabilities as Ollama's entries again.

    The file keeps each token as [logprob, [its alternatives' logprobs]], all the confidence signal reads.
    """
    items = load_items(path)
    for item in items:
        item["logprobs"] = [{"logprob": lp, "top_logprobs": [{"logprob": a} for a in top]}
                            for lp, top in item["logprobs"]]
    return items


def without_peers(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items as a cascade without self-consistency sees them: no other sample to compare with."""
    return [{**item, "peers": []} for item in items]


def load_prose(path: Path = PROSE_DATA, split: str | None = HELD_OUT, limit: int | None = None) -> list[dict[str, Any]]:
    """The AlpacaEval instructions of `split` (all when None), the first `limit`: instruction, answers [...]."""
    groups = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            group = json.loads(line) if line.strip() else None
            if group is not None and split in (None, group["split"]):
                groups.append(group)
    return groups[:limit]


def prose_items(groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each answer of `groups` as a scorer item (messages, answer, ...), with its `group` index and `preference`."""
    return [{"messages": [{"role": "user", "content": group["instruction"]}],
             "answer": {"role": "assistant", "content": answer["output"]}, "finish_reason": "stop", "tools": None,
             "task_type": PROSE_TASK_TYPE, "group": index, "generator": answer["generator"],
             "preference": answer["preference"]}
            for index, group in enumerate(groups) for answer in group["answers"]]


def evaluate_prose(path: Path = PROSE_DATA, config: QualityConfig | None = None, limit: int | None = None,
                   weights: ScorerWeights | None = None) -> ProseFigures:
    """Pairwise accuracy and Spearman of the score on the held-out AlpacaEval instructions (the first `limit`)."""
    items = prose_items(load_prose(path, HELD_OUT, limit))
    evidence = asyncio.run(gather_all(items, config or QualityConfig()))
    scores = [combine(found, weights or load_weights()).score for found in evidence]
    return prose_figures(items, scores)


def prose_figures(items: Sequence[dict[str, Any]], scores: Sequence[float]) -> ProseFigures:
    """The scorer's `scores` of prose `items` against GPT-4's preferences, beside length alone and random."""
    groups: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item["group"], []).append(i)
    preferences = [[items[i]["preference"] for i in members] for members in groups.values()]
    lengths = [float(len(item["answer"]["content"] or "")) for item in items]
    rng = random.Random(0)
    noise = [rng.random() for _ in items]

    def grouped(values: Sequence[float]) -> list[list[float]]:
        return [[values[i] for i in members] for members in groups.values()]

    flat = [item["preference"] for item in items]
    return ProseFigures(
        len(groups), len(items), len(ordered_pairs(preferences, PAIR_MARGIN)),
        pairwise_accuracy(preferences, grouped(scores)), pairwise_accuracy(preferences, grouped(lengths)),
        pairwise_accuracy(preferences, grouped(noise)), spearman(scores, flat), spearman(lengths, flat),
    )


def within_instruction_ranks(items: Sequence[dict[str, Any]]) -> list[float]:
    """Each prose answer's share of the other answers to its instruction that GPT-4 preferred it to (ties half)."""
    groups: dict[int, list[float]] = {}
    for item in items:
        groups.setdefault(item["group"], []).append(item["preference"])
    ranks = []
    for item in items:
        others = groups[item["group"]]
        beaten = sum((item["preference"] > p) + 0.5 * (item["preference"] == p) for p in others) - 0.5
        ranks.append(beaten / (len(others) - 1) if len(others) > 1 else 0.5)
    return ranks


def ordered_pairs(preferences: Sequence[Sequence[float]], margin: float) -> list[tuple[int, int, int]]:
    """(group, i, j) for answers i and j of a group whose preferences differ by `margin` or more, i preferred."""
    return [(g, i, j) for g, group in enumerate(preferences) for i, better in enumerate(group)
            for j, worse in enumerate(group) if better - worse >= margin and better != worse]


def pairwise_accuracy(preferences: Sequence[Sequence[float]], scores: Sequence[Sequence[float]],
                      margin: float = PAIR_MARGIN) -> float:
    """Of the pairs GPT-4 told apart by `margin`, the share `scores` orders alike (ties count half); 0.5 with none."""
    found = ordered_pairs(preferences, margin)
    if not found:
        return 0.5
    wins = sum((scores[g][i] > scores[g][j]) + 0.5 * (scores[g][i] == scores[g][j]) for g, i, j in found)
    return wins / len(found)


async def gather_all(items: Sequence[dict[str, Any]], config: QualityConfig) -> list[tuple[Evidence, ...]]:
    """Every item's evidence (quality.gather_evidence), a few items at a time."""
    limit = asyncio.Semaphore(os.cpu_count() or 2)

    async def one(item: dict[str, Any]) -> tuple[Evidence, ...]:
        async with limit:
            return await gather_evidence(item["messages"], item["answer"], item.get("finish_reason"),
                                         item.get("tools"), item.get("task_type", "code_generation"), config,
                                         peers=item.get("peers") or (), logprobs=item.get("logprobs"))

    return list(await asyncio.gather(*(one(item) for item in items)))


def is_code_item(item: dict[str, Any]) -> bool:
    """An item whose answer carries code (a fenced block, or Python that parses)."""
    content = item["answer"].get("content") or ""
    return bool(code_blocks.fenced_blocks(content) or code_blocks.python_sources(content))


def _sandbox_skipped(score: QualityScore) -> bool:
    run = next(s for s in score.signals if s.name == "code_run")
    return run.passed is None and run.detail in (RUN_CODE_OFF, sandbox_status().reason, node_status().reason)


def _figures(group: str, items: list[dict[str, Any]], scores: list[QualityScore], keep: Any) -> Figures:
    chosen = [(item, score) for item, score in zip(items, scores) if keep(item)]
    passed = [bool(item["passed"]) for item, _ in chosen]
    values = [score.score for _, score in chosen]
    grades = [float(item["grade"]) for item, _ in chosen]
    lengths = [float(len(item["answer"].get("content") or "")) for item, _ in chosen]
    return Figures(group, len(chosen), sum(passed), auroc(values, passed), mean_absolute_error(values, grades),
                   auroc(lengths, passed))


def mean_absolute_error(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    if not predicted:
        return None
    return sum(abs(p - a) for p, a in zip(predicted, actual)) / len(predicted)


def format_report(report: EvalReport) -> str:
    """A few lines for the terminal: one per group, then what was skipped and how long it took."""
    lines = [f"scorer on {report.path.name}: {report.items} items", *_rows(report.groups)]
    if report.sandbox_skipped:
        lines.append(f"code_run skipped on {report.sandbox_skipped} items: {report.sandbox_reason}")
    else:
        lines.append("code_run ran in the sandbox wherever there were examples")
    if report.javascript:
        lines += [f"javascript on {JS_DATA.name} (AUROC: passes its hidden tests)", *_rows(report.javascript)]
        if report.javascript_note:
            lines.append(f"code_run skipped: {report.javascript_note}")
    if report.maths:
        lines += [f"maths on {MATHS_DATA.name} (AUROC: reaches the known answer)", *_rows(report.maths)]
    for g in report.gsm8k:
        lines += [f"GSM8K on {GSM8K_DATA.name}, held out, {g.label}: {g.answers} answers of four GPT-3 models "
                  f"(AUROC: OpenAI marked it correct)", *format_baselines(g)]
    if (u := report.unrun) is not None:
        lines += [f"code on {report.path.name}, held out, not run: {u.answers} answers (AUROC: passes its hidden tests)",
                  *format_baselines(u)]
    if (s := report.short) is not None:
        lines += [f"short questions on {SHORT_DATA.name}, held out: {s.answers} answers of the embedded model "
                  "with its token log-probabilities (AUROC: states the known answer)", *format_baselines(s)]
    if (p := report.prose) is not None:
        lines += [f"prose on {PROSE_DATA.name}, held out: {p.instructions} instructions, {p.answers} answers, "
                  f"{p.pairs} pairs {PAIR_MARGIN} or more apart in GPT-4's preference",
                  f"{'':14} {'pairwise':>8} {'Spearman':>8}",
                  f"{'scorer':14} {p.pairwise:8.3f} {p.spearman:8.3f}",
                  f"{'length alone':14} {p.pairwise_length:8.3f} {p.spearman_length:8.3f}",
                  f"{'random':14} {p.pairwise_random:8.3f} {'':>8}"]
    lines.append(f"took {report.seconds:.1f} s")
    return "\n".join(lines)


def _rows(groups: Sequence[Figures]) -> list[str]:
    rows = [f"{'group':14} {'items':>5} {'pass':>5} {'AUROC':>6} {'MAE':>5} {'length alone':>12}"]
    for f in groups:
        auc = "-" if f.auroc is None else f"{f.auroc:.3f}"
        mae = "-" if f.mae is None else f"{f.mae:.2f}"
        length = "-" if f.length_auroc is None else f"{f.length_auroc:.3f}"
        rows.append(f"{f.group:14} {f.items:5} {f.passing:5} {auc:>6} {mae:>5} {length:>12}")
    return rows


if __name__ == "__main__":
    print(format_report(evaluate()))
