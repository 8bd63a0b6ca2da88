"""Does a local judge earn its place? Its grades on held-out answers, beside the cheap signals, and its time.

The scorer can ask a local model to grade an answer 1-10 (quality.judge_model,
MT-Bench's prompt), where the cheap signals are unsure. This starts the
embedded model (SmolLM2-135M, the only model on a fresh machine; with Ollama
running, `--judge NAME` uses that model instead), has it grade the first N
held-out answers of GSM8K (good: OpenAI marked it correct) and of AlpacaEval
(good: GPT-4 Turbo preferred it to at least half the other models' answers),
and prints the AUROC of its grade alone, of the scorer without it and with it
blended in (asked for every answer), and the seconds a grade takes.

    .venv/bin/python evals/judge_eval.py [--answers 40] [--judge NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import time

from proxy.config import load_config
from proxy.config_schema import QualityConfig
from proxy.judgment import judge_model
from proxy.judgment.baselines import auroc
from proxy.judgment.quality import Evidence, combine, load_weights, task_text
from proxy.judgment.scorer_eval import (
    GSM8K_DATA,
    HELD_OUT,
    PROSE_DATA,
    gather_all,
    load_items,
    load_prose,
    prose_items,
    within_instruction_ranks,
    without_peers,
)
from proxy.localmodel.embedded import embedded_model_process
from proxy.pipeline.cascade import local_judge


async def judged(items: list[dict], judge: judge_model.Judge) -> tuple[list[Evidence], list[float]]:
    """Each item's judge evidence and the seconds its grade took, one at a time (as the cascade asks)."""
    found, seconds = [], []
    for item in items:
        started = time.perf_counter()
        verdict = await judge_model.grade(task_text(item["messages"]), item["answer"]["content"], [], judge)
        seconds.append(time.perf_counter() - started)
        found.append(Evidence("judge", verdict.value, verdict.detail, verdict.brief))
    return found, seconds


def report(title: str, items: list[dict], good: list[bool], judge: judge_model.Judge) -> None:
    evidence = asyncio.run(gather_all(items, QualityConfig(run_code=False)))
    grades, seconds = asyncio.run(judged(items, judge))
    weights = load_weights()
    without = [combine(e, weights).score for e in evidence]
    blended = [combine((*e[:-1], g), weights).score for e, g in zip(evidence, grades)]
    rated = [g.value for g in grades]
    missing = sum(1 for r in rated if r is None)

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    seconds.sort()
    print(f"{title}: {len(items)} held-out answers, {sum(good)} good; the judge gave no rating to {missing}")
    print(f"  AUROC: judge alone {shown(auroc([r or 0.0 for r in rated], good))}, scorer without it "
          f"{shown(auroc(without, good))}, scorer with it {shown(auroc(blended, good))}")
    print(f"  seconds per grade: p50 {seconds[len(seconds) // 2]:.2f}, p90 {seconds[int(0.9 * len(seconds))]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=40)
    parser.add_argument("--judge", help="a local model Ollama has (default: the embedded model, started here)")
    args = parser.parse_args()
    config = load_config()
    name = args.judge or config.routing.embedded_model.name
    routing = config.routing.model_copy(update={"quality": config.routing.quality.model_copy(
        update={"judge_model": name})})
    config = dataclasses.replace(config, routing=routing)
    gsm8k = without_peers([i for i in load_items(GSM8K_DATA) if i["split"] == HELD_OUT][:args.answers])
    prose = prose_items(load_prose(PROSE_DATA, HELD_OUT))
    good_prose = [rank >= 0.5 for rank in within_instruction_ranks(prose)]
    with contextlib.ExitStack() as stack:
        if not args.judge:
            config = dataclasses.replace(config, ollama_api_base=stack.enter_context(embedded_model_process(config)))
        judge = local_judge(config)
        assert judge is not None, f"{name} is not a configured local model"
        print(f"judge: {name}")
        report("GSM8K", gsm8k, [i["passed"] for i in gsm8k], judge)
        report("prose (AlpacaEval)", prose[:args.answers], good_prose[:args.answers], judge)


if __name__ == "__main__":
    main()
