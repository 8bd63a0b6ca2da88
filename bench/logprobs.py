"""`make bench`: what asking a local model for its tokens' log-probabilities costs.

The cascade asks for them on every local attempt (judgment/confidence.py). This
starts the embedded model (SmolLM2-135M through llama.cpp, as `make run` does)
and asks it twenty held-out short questions through the cascade's own call
path (LiteLLM's Ollama backend), each twice, with and without log-probabilities
in turn, at temperature 0 so that both answers are the same tokens. It prints
each way's p50 and p90 and the median of the per-question difference; then,
in this process, the model's own time a token over 100-token answers, with
and without them (three each, interleaved, the median).
"""

from __future__ import annotations

import time
from statistics import median

from embedded_runs import held_out_questions, on_embedded_model, report  # bench/, beside this script

from proxy.chat import ChatRequest
from proxy.judgment.scorer_eval import SHORT_DATA
from proxy.pipeline import local_attempt
from proxy.pipeline.local_attempt import LocalSpeeds
from proxy.upstreams.ollama_logprobs import TokenLogprobs
from proxy.upstreams.target import Target

QUESTIONS = 20
MAX_TOKENS = 48


async def measure(target: Target, questions: list[str]) -> tuple[list[float], list[float]]:
    speeds = LocalSpeeds()
    plain, asked = [], []
    for number, question in enumerate(questions):
        chat = ChatRequest(target.model.name, [{"role": "user", "content": question}],
                           params={"temperature": 0, "max_tokens": MAX_TOKENS})
        ways = [(None, plain), (TokenLogprobs(), asked)]
        for logprobs, times in ways if number % 2 else reversed(ways):  # alternate which goes first
            started = time.perf_counter()
            await local_attempt.generate(target, chat, 0, None, speeds, logprobs=logprobs)
            times.append(time.perf_counter() - started)
    return plain, asked


def per_token() -> tuple[float, float]:
    """Milliseconds a token of a 100-token greedy answer, without and with log-probabilities (medians of 3)."""
    from proxy.localmodel.model import EmbeddedModel

    model = EmbeddedModel("smollm2:135m", context_tokens=2048)
    counting = [{"role": "user", "content": "Write the numbers from 1 to 200 separated by commas."}]
    plain, asked = [], []
    for run in range(6):
        logprobs, times = (None, plain) if run % 2 else (5, asked)
        started = time.perf_counter()
        for _ in model.chat(counting, {"temperature": 0, "max_tokens": 100}, logprobs=logprobs):
            pass
        times.append((time.perf_counter() - started) * 1000 / 100)
    return median(plain), median(asked)


def main() -> None:
    plain, asked = on_embedded_model(measure, held_out_questions(SHORT_DATA, QUESTIONS))
    for label, times in (("without", plain), ("with", asked)):
        report(f"local answer {label:7} log-probabilities ", times, "short questions")
    extra = median(a - p for a, p in zip(asked, plain)) * 1000
    print(f"local answer, log-probabilities' cost: {extra:+.0f} ms a question (median of the differences)")
    plain_ms, asked_ms = per_token()
    print(f"embedded model, a token: {plain_ms:.2f} ms without log-probabilities, {asked_ms:.2f} ms with")


if __name__ == "__main__":
    main()
