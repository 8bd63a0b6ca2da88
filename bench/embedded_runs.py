"""What bench/self_consistency.py and bench/logprobs.py share: held-out questions, asked of the embedded model.

Each measures one more thing the cascade asks of a local model, on the
embedded model started here as `make run` starts it, and prints p50 and p90.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from proxy.config import Config, load_config
from proxy.judgment.scorer_eval import HELD_OUT, load_items
from proxy.localmodel.embedded import embedded_model_process
from proxy.pipeline.cascade import local_target
from proxy.upstreams.target import Target

Measure = Callable[[Target, list[str]], Awaitable[Any]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def held_out_questions(path: Path, count: int) -> list[str]:
    """The first `count` distinct questions of a labelled set's held-out split."""
    return list(dict.fromkeys(item["messages"][0]["content"] for item in load_items(path)
                              if item["split"] == HELD_OUT))[:count]


def on_embedded_model(measure: Measure, questions: list[str]) -> Any:
    """`measure(target, questions)`, the target the embedded model, started for it and stopped after."""
    config = load_config()
    with embedded_model_process(config) as base:
        config = dataclasses.replace(config, ollama_api_base=base)
        return asyncio.run(measure(_embedded_target(config), questions))


def _embedded_target(config: Config) -> Target:
    ref = next(m for m in config.local_models if m.name == config.routing.embedded_model.name)
    return local_target(config, ref)


def report(label: str, times: list[float], what: str) -> None:
    print(f"{label} p50 {percentile(times, 0.5) * 1000:7.0f} ms   p90 {percentile(times, 0.9) * 1000:7.0f} ms   "
          f"({len(times)} {what}, embedded model)")
