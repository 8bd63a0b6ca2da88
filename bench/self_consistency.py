"""`make bench`: what self-consistency's extra sample costs, in the embedded model's time.

The scorer compares the samples in about a millisecond (bench/scorer.py); the
cost is the sample itself, one more local generation. This starts the embedded
model (SmolLM2-135M through llama.cpp, as `make run` does), asks it ten
held-out GSM8K questions as the cascade does (the answer at temperature 0, the
sample at 0.7, 160 tokens at most) and prints the time of each, p50 and p90.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from proxy.chat import ChatRequest
from proxy.config import load_config
from proxy.judgment.scorer_eval import GSM8K_DATA, HELD_OUT, load_items
from proxy.localmodel.embedded import embedded_model_process
from proxy.pipeline import local_attempt, self_consistency
from proxy.pipeline.cascade import local_target
from proxy.pipeline.local_attempt import LocalSpeeds

QUESTIONS = 10
MAX_TOKENS = 160


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(config, questions: list[str]) -> tuple[list[float], list[float]]:
    ref = next(m for m in config.local_models if m.name == config.routing.embedded_model.name)
    target, speeds = local_target(config, ref), LocalSpeeds()
    answers, samples = [], []
    for question in questions:
        chat = ChatRequest(ref.name, [{"role": "user", "content": question}],
                           params={"temperature": 0, "max_tokens": MAX_TOKENS})
        for params, times in ((chat.params, answers), (chat.params | {"temperature": self_consistency.TEMPERATURE},
                                                        samples)):
            started = time.perf_counter()
            await local_attempt.generate(target, dataclasses.replace(chat, params=params), 0, None, speeds)
            times.append(time.perf_counter() - started)
    return answers, samples


def main() -> None:
    config = load_config()
    questions = list(dict.fromkeys(item["messages"][0]["content"] for item in load_items(GSM8K_DATA)
                                   if item["split"] == HELD_OUT))[:QUESTIONS]
    with embedded_model_process(config) as base:
        config = dataclasses.replace(config, ollama_api_base=base)
        answers, samples = asyncio.run(measure(config, questions))
    for label, times in (("the answer", answers), ("one more sample", samples)):
        print(f"self-consistency, {label:16} p50 {percentile(times, 0.5) * 1000:7.0f} ms   "
              f"p90 {percentile(times, 0.9) * 1000:7.0f} ms   ({len(times)} GSM8K questions, embedded model)")


if __name__ == "__main__":
    main()
