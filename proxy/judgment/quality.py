"""The 0-10 quality scorer: cheap signals about an answer, combined by calibrated weights.

Each signal looks at one thing (design.md, "Quality scorer signals") and
yields a value from -1 (clearly bad) to +1 (clearly good), or None when it
does not apply and says why. The values are combined by a logistic model
whose weights were fitted on labelled answers (evals/calibrate.py) and live
in `scorer_weights.json`, so every score can be explained signal by signal.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from proxy.config_schema import QualityConfig
from proxy.judgment import (
    agent_checks,
    aider_edits,
    answer_text,
    code_blocks,
    code_checks,
    code_static,
    judge_model,
    maths,
    prose,
)
from proxy.judgment.confidence import confidence_verdict
from proxy.judgment.judge_model import Judge as Judge  # re-exported: the cascade passes one in
from proxy.judgment.run_plan import RunPlan, RunReport, read_report
from proxy.judgment.sandbox import SandboxUnavailable, run_python, sandbox_status
from proxy.judgment.verdict import Verdict

WEIGHTS_FILE = Path(__file__).resolve().parent / "scorer_weights.json"
SIGNALS = ("empty", "too_short", "truncated", "refusal", "repetition", "code_parse", "code_static", "tool_call", "edit",
           "off_task", "prose", "arithmetic", "final_answer", "quantities", "chain", "steps", "consistency",
           "confidence", "code_run", "judge")
# Tasks that ask for code: an answer that leaves a function the examples call undefined fails them.
CODE_TASKS = frozenset({"code_generation", "debugging"})
RUN_CODE_OFF = "running code is off (quality.run_code: false)"

@dataclass(frozen=True)
class Signal:
    """One signal's verdict and how far it moved the score."""

    name: str
    passed: bool | None  # None: skipped, and `detail` says why
    weight: float  # points this signal alone adds to (or, negative, takes from) an answer with no other signal
    detail: str  # one human-readable line
    brief: str = ""  # a few words for `QualityScore.explain`, e.g. "2/3 examples"
    value: float | None = None  # the unweighted verdict, -1..+1: what calibration refits from recorded outcomes


@dataclass(frozen=True)
class QualityScore:
    score: float  # 0-10, one decimal
    signals: tuple[Signal, ...]

    def explain(self) -> str:
        """One line: the score, then what pulled it down and what held it up."""
        failed = sorted((s for s in self.signals if s.passed is False), key=lambda s: s.weight)
        held = [s for s in self.signals if s.passed and s.weight >= 0.05]
        parts = [_describe(s, "failed") for s in failed] + [_describe(s, "passed") for s in held]
        return f"{self.score:.1f}: " + (", ".join(parts) or "no signal fired")


def _describe(signal: Signal, verdict: str) -> str:
    if not signal.brief:
        return signal.name if verdict == "failed" else f"{signal.name} {verdict}"
    return f"{signal.name} {verdict} ({signal.brief})"


@dataclass(frozen=True)
class Evidence:
    """A signal before weighting: `value` from -1 (bad) to +1 (good), None when skipped."""

    name: str
    value: float | None
    detail: str
    brief: str = ""


@dataclass(frozen=True)
class ScorerWeights:
    """The logistic model: score = 10 * sigmoid(intercept + sum of each signal's pull)."""

    intercept: float
    on_pass: Mapping[str, float]  # multiplies a positive value
    on_fail: Mapping[str, float]  # multiplies a negative value's size

    def pull(self, evidence: Evidence) -> float:
        value = evidence.value or 0.0
        if value >= 0:
            return self.on_pass.get(evidence.name, 0.0) * value
        return self.on_fail.get(evidence.name, 0.0) * value


@functools.cache
def load_weights(path: Path = WEIGHTS_FILE) -> ScorerWeights:
    """The calibrated weights (evals/calibrate.py writes them), read once per process."""
    data = json.loads(path.read_text(encoding="utf-8"))
    signals = data["signals"]
    return ScorerWeights(
        intercept=float(data["intercept"]),
        on_pass=MappingProxyType({name: float(w.get("pass", 0.0)) for name, w in signals.items()}),
        on_fail=MappingProxyType({name: float(w.get("fail", 0.0)) for name, w in signals.items()}),
    )


async def score_answer(messages: list[dict[str, Any]], answer: dict[str, Any], finish_reason: str | None,
                       tools: list[dict[str, Any]] | None, task_type: str, config: QualityConfig,
                       judge: Judge | None = None, peers: Sequence[str] = (),
                       logprobs: Sequence[Mapping[str, Any]] | None = None) -> QualityScore:
    """Score an OpenAI assistant message `answer` to `messages` from 0 to 10.

    `tools` is the request's OpenAI `tools` list; `judge`, when given, gets a
    grading prompt and returns the judge model's reply (asked only when the
    other signals leave the score within quality.judge_between); `peers` are other
    samples' answers to the same request, whose final answers a maths answer's
    should agree with; `logprobs` the local model's Ollama entries for the
    answer's tokens (confidence.py). Code runs only in the sandbox, off the event loop;
    where it cannot, that signal says so.
    """
    evidence = await gather_evidence(messages, answer, finish_reason, tools, task_type, config, None, peers, logprobs)
    weights = load_weights()
    if judge is None:
        return combine(evidence, weights)
    # The judge only where the cheap signals are unsure; its grade then joins them, it does not replace them.
    provisional = combine(evidence, weights).score
    low, high = config.judge_between
    if low <= provisional <= high:
        judged = await _graded(task_text(messages), content_text(answer.get("content")),
                               answer.get("tool_calls") or [], judge)
    else:
        judged = Evidence("judge", None, f"not asked: the other signals are sure ({provisional:g}, outside "
                                         f"quality.judge_between {low:g}-{high:g})")
    return combine((*evidence[:-1], judged), weights)


async def gather_evidence(messages: list[dict[str, Any]], answer: dict[str, Any], finish_reason: str | None,
                          tools: list[dict[str, Any]] | None, task_type: str, config: QualityConfig,
                          judge: Judge | None = None, peers: Sequence[str] = (),
                          logprobs: Sequence[Mapping[str, Any]] | None = None) -> tuple[Evidence, ...]:
    """Every signal's unweighted verdict, in SIGNALS order (calibration fits weights to these)."""
    text = content_text(answer.get("content"))
    calls = answer.get("tool_calls") or []
    task = task_text(messages)
    if not text.strip() and not calls:
        rest = (Evidence(name, None, "the answer is empty") for name in SIGNALS[1:])
        return (Evidence("empty", -1.0, "the answer has no content and no tool calls"), *rest)
    direct = bool(messages) and messages[-1].get("role") == "user"
    static = asyncio.to_thread(_static_evidence, messages, text, calls, task, finish_reason, tools, task_type, direct,
                               peers, logprobs)
    found, ran, judged = await asyncio.gather(
        static, _code_run(task, text, task_type, config), _graded(task, text, calls, judge)
    )
    return (*found, ran, judged)


def combine(evidence: tuple[Evidence, ...], weights: ScorerWeights) -> QualityScore:
    """The 0-10 score of `evidence` under `weights`, each signal's share recorded.

    A signal's weight is measured from the neutral answer (no signal fired), not
    from the final score: near 0 or 10 the logistic curve flattens, and a refusal
    should still read as the big loss it is when other signals also failed.
    """
    neutral = _to_score(weights.intercept)
    total = weights.intercept + sum(weights.pull(e) for e in evidence)
    signals = tuple(
        Signal(e.name, None if e.value is None else e.value >= 0,
               round(_to_score(weights.intercept + weights.pull(e)) - neutral, 2), e.detail, e.brief,
               None if e.value is None else round(e.value, 4))
        for e in evidence
    )
    return QualityScore(round(_to_score(total), 1), signals)


def _to_score(logit: float) -> float:
    return 10.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def content_text(content: Any) -> str:
    """An OpenAI message's content as text: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def task_text(messages: list[dict[str, Any]]) -> str:
    """The latest user message: the task (not the system prompt, not tool output)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def _static_evidence(messages: list[dict[str, Any]], text: str, calls: list[dict[str, Any]], task: str,
                     finish_reason: str | None, tools: list[dict[str, Any]] | None, task_type: str, direct: bool,
                     peers: Sequence[str] = (), logprobs: Sequence[Mapping[str, Any]] | None = None) -> list[Evidence]:
    return [
        Evidence("empty", 0.0, "the answer has content" if text.strip() else "the answer calls tools"),
        _verdict("too_short", answer_text.too_short(text, calls, task_type)),
        _verdict("truncated", answer_text.truncated(finish_reason)),
        _verdict("refusal", answer_text.refusal(text)),
        _verdict("repetition", answer_text.repetition(text)),
        _code_parse(text),
        _code_static(messages, task, text, calls, task_type, direct),
        _verdict("tool_call", agent_checks.tool_call_verdict(messages, calls, tools)),
        _verdict("edit", aider_edits.edit_verdict(messages, text)),
        _verdict("off_task", answer_text.off_task(task, text, calls, direct)),
        _prose(task, text, calls, finish_reason, direct, task_type),
        *(_verdict(name, v) for name, v in maths.verdicts(task, text, finish_reason, peers).items()),
        _verdict("confidence", confidence_verdict(task, text, bool(calls), logprobs)),
    ]


def _verdict(name: str, verdict: Verdict) -> Evidence:
    return Evidence(name, verdict.value, verdict.detail, verdict.brief)


def _prose(task: str, text: str, calls: list[dict[str, Any]], finish_reason: str | None, direct: bool,
           task_type: str) -> Evidence:
    """The prose model's verdict (prose.py), for a direct answer in words to a question that is neither maths nor code."""
    if calls or not direct:
        return Evidence("prose", None, "an agent step: judged by its tool calls, not its words")
    if task_type == "quick_qa":
        # The model learned AlpacaEval's judge, who prefers long answers to open-ended instructions; "Paris." is
        # all a quick question needs, and the judge's taste would send it to the cloud.
        return Evidence("prose", None, "a quick question: a short answer may be all it needs")
    if maths.CODE_IN_TASK.search(task):
        return Evidence("prose", None, "a coding task: judged by its code")
    if code_blocks.is_mostly_code(text):
        return Evidence("prose", None, "the answer is code: judged as code, not as prose")
    if maths.is_maths_task(task):
        return Evidence("prose", None, "a maths question: judged by its arithmetic and final answer")
    verdict = prose.judge(task, text, finish_reason)
    return Evidence("prose", verdict.value, verdict.detail, verdict.brief)


def _code_parse(text: str) -> Evidence:
    judged = [(b, lang) for b in code_blocks.fenced_blocks(text) if (lang := code_blocks.language_of(b))]
    if not judged:
        return Evidence("code_parse", None, "no fenced code in a language with a cheap check")
    errors = [f"{lang} block {b.index} does not parse: {err}"
              for b, lang in judged if (err := code_blocks.parse_error(b, lang))]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        value = -max(0.5, len(errors) / len(judged))
        return Evidence("code_parse", value, errors[0] + more, f"{len(errors)}/{len(judged)} blocks")
    # Balanced brackets are a weaker sign than a parse: half the credit.
    credit = sum(0.5 if lang in code_blocks.BRACKET_TAGS else 1.0 for _, lang in judged) / len(judged)
    return Evidence("code_parse", credit, f"{len(judged)} code block(s) parse"
                    + (" (brackets balance; no parser here)" if credit < 1 else ""))


def _code_static(messages: list[dict[str, Any]], task: str, text: str, calls: list[dict[str, Any]], task_type: str,
                 direct: bool) -> Evidence:
    """code_static.py's reading of the answer's Python, where code was asked for: a snippet in an explanation
    may lean on names the asker has, a function written to order may not."""
    if calls or not direct:
        return Evidence("code_static", None, "an agent step: judged by its tool calls, not its words")
    if task_type not in CODE_TASKS and not maths.CODE_IN_TASK.search(task):
        return Evidence("code_static", None, "not a coding task")
    earlier = "\n".join(content_text(m.get("content")) for m in messages[:-1])
    return _verdict("code_static", code_static.static_verdict(task, text, earlier))


async def _code_run(task: str, text: str, task_type: str, config: QualityConfig) -> Evidence:
    if not config.run_code:
        return Evidence("code_run", None, RUN_CODE_OFF)
    plan = await asyncio.to_thread(code_checks.plan_run, task, text, task_type in CODE_TASKS)
    if isinstance(plan, str):
        return Evidence("code_run", None, plan)
    report = RunReport(0, 0, "", ())
    if plan.counted:
        ran = await _run_examples(plan, config)
        if isinstance(ran, Evidence):
            return ran
        report = ran
    total = report.total + plan.unmet
    if report.error:
        return Evidence("code_run", -1.0, report.error, f"0/{total} examples")
    if total == 0:
        return Evidence("code_run", None, "the examples are prose, not runnable code")
    brief = f"{report.passed}/{total} examples"
    if report.passed == total:  # credit saturates with the examples passed: 1 gives 0.5, 3 give 0.88, 5 give 0.97
        return Evidence("code_run", 1 - 0.5 ** report.passed, f"{brief} pass", brief)
    failures = [*report.failures, *([f"the answer does not define {', '.join(plan.missing)}"] if plan.missing else [])]
    value = -(0.5 + 0.5 * (total - report.passed) / total)
    return Evidence("code_run", value, f"{brief} pass; {failures[0]}", brief)


async def _run_examples(plan: RunPlan, config: QualityConfig) -> RunReport | Evidence:
    """The sandboxed run's report, or the skipped signal when code cannot run here."""
    status = await asyncio.to_thread(sandbox_status)  # the first call probes bubblewrap: not on the loop
    if not status.available:
        return Evidence("code_run", None, status.reason)
    script = code_checks.harness(plan, config.sandbox_timeout_s)
    try:
        # One second over the harness's own budget: interpreter start-up, and the harness reporting a timeout.
        result = await asyncio.to_thread(run_python, script, config.sandbox_timeout_s + 1, config.sandbox_memory_mb)
    except SandboxUnavailable as exc:
        return Evidence("code_run", None, str(exc))
    report = read_report(result, plan.counted)
    if report.missing_module:
        return Evidence("code_run", None, f"the code needs module {report.missing_module}, not in the sandbox")
    return report


async def _graded(task: str, text: str, calls: list[dict[str, Any]], judge: Judge | None) -> Evidence:
    return _verdict("judge", await judge_model.grade(task, text, calls, judge))
