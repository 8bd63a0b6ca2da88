"""`make bench`: what self-consistency's extra sample costs, in the embedded model's time.

The scorer compares the samples in about a millisecond (bench/scorer.py); the
cost is the sample itself, one more local generation. This starts the embedded
model (SmolLM2-135M through llama.cpp, as `make run` does), asks it ten
held-out GSM8K questions as the cascade does (the answer at temperature 0, the
sample at 0.7, 160 tokens at most) and prints the time of each, p50 and p90.
"""

from __future__ import annotations

import dataclasses
import time

from embedded_runs import held_out_questions, on_embedded_model, report  # bench/, beside this script

from proxy.chat import ChatRequest
from proxy.judgment.scorer_eval import GSM8K_DATA
from proxy.pipeline import local_attempt, self_consistency
from proxy.pipeline.local_attempt import LocalSpeeds
from proxy.upstreams.target import Target

QUESTIONS = 10
MAX_TOKENS = 160


async def measure(target: Target, questions: list[str]) -> tuple[list[float], list[float]]:
    speeds = LocalSpeeds()
    answers, samples = [], []
    for question in questions:
        chat = ChatRequest(target.model.name, [{"role": "user", "content": question}],
                           params={"temperature": 0, "max_tokens": MAX_TOKENS})
        for params, times in ((chat.params, answers), (chat.params | {"temperature": self_consistency.TEMPERATURE},
                                                        samples)):
            started = time.perf_counter()
            await local_attempt.generate(target, dataclasses.replace(chat, params=params), 0, None, speeds)
            times.append(time.perf_counter() - started)
    return answers, samples


def main() -> None:
    answers, samples = on_embedded_model(measure, held_out_questions(GSM8K_DATA, QUESTIONS))
    for label, times in (("the answer", answers), ("one more sample", samples)):
        report(f"self-consistency, {label:16}", times, "GSM8K questions")


if __name__ == "__main__":
    main()
