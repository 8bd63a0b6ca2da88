"""`make bench`: what asking a local model for its tokens' log-probabilities costs.

The cascade asks for them on every local attempt (judgment/confidence.py). This
starts the embedded model (SmolLM2-135M through llama.cpp, as `make run` does)
and asks it twenty held-out short questions through the cascade's own call
path (LiteLLM's Ollama backend), each twice, with and without log-probabilities
in turn, at temperature 0 so that both answers are the same tokens. It prints
each way's p50 and p90 and the median of the per-question difference.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from statistics import median

from proxy.chat import ChatRequest
from proxy.config import load_config
from proxy.judgment.scorer_eval import HELD_OUT, SHORT_DATA, load_items
from proxy.localmodel.embedded import embedded_model_process
from proxy.pipeline import local_attempt
from proxy.pipeline.cascade import local_target
from proxy.pipeline.local_attempt import LocalSpeeds
from proxy.upstreams.ollama_logprobs import TokenLogprobs

QUESTIONS = 20
MAX_TOKENS = 48


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(config, questions: list[str]) -> tuple[list[float], list[float]]:
    ref = next(m for m in config.local_models if m.name == config.routing.embedded_model.name)
    target, speeds = local_target(config, ref), LocalSpeeds()
    plain, asked = [], []
    for number, question in enumerate(questions):
        chat = ChatRequest(ref.name, [{"role": "user", "content": question}],
                           params={"temperature": 0, "max_tokens": MAX_TOKENS})
        ways = [(None, plain), (TokenLogprobs(), asked)]
        for logprobs, times in ways if number % 2 else reversed(ways):  # alternate which goes first
            started = time.perf_counter()
            await local_attempt.generate(target, chat, 0, None, speeds, logprobs=logprobs)
            times.append(time.perf_counter() - started)
    return plain, asked


def main() -> None:
    config = load_config()
    questions = list(dict.fromkeys(item["messages"][0]["content"] for item in load_items(SHORT_DATA)
                                   if item["split"] == HELD_OUT))[:QUESTIONS]
    with embedded_model_process(config) as base:
        config = dataclasses.replace(config, ollama_api_base=base)
        plain, asked = asyncio.run(measure(config, questions))
    for label, times in (("without", plain), ("with", asked)):
        print(f"local answer {label:7} log-probabilities  p50 {percentile(times, 0.5) * 1000:6.0f} ms   "
              f"p90 {percentile(times, 0.9) * 1000:6.0f} ms   ({len(times)} short questions, embedded model)")
    extra = median(a - p for a, p in zip(asked, plain)) * 1000
    print(f"local answer, log-probabilities' cost: {extra:+.0f} ms a question (median of the differences)")


if __name__ == "__main__":
    main()
