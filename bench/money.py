"""The per-request money path on a real SQLite file: estimate + reserve + settle (commit)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from proxy.budget import Budget
from proxy.config import load_config
from proxy.meter import Meter
from proxy.openai_api import ChatRequest
from proxy.pricing import PriceTable
from proxy.store import Store
from proxy.upstream import Target

REPO = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "system", "content": "You are a coding agent. " * 100},
            {"role": "user", "content": "Refactor the parser into smaller functions."}]
RUNS = 500


async def measure() -> list[float]:
    config = load_config(REPO, {})
    prices = PriceTable.from_config(config)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.db")
        budget_config = config.budget.model_copy(update={"daily_limit_usd": 1e9})
        budget = Budget(budget_config, store, prices, config.cloud_models)
        meter = Meter(budget, prices, store, config.routing.local.max_tokens)
        target = Target(config.find_model("claude-3.5-sonnet"), "http://127.0.0.1:9", None, 10.0)
        chat = ChatRequest("cloud", MESSAGES, params={"max_tokens": 32000})
        usage = {"prompt_tokens": 620, "completion_tokens": 380}
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            metered = await meter.start(target, chat, "code_generation")
            await meter.finish(metered, usage, failed=False, partial=False)
            timings.append((time.perf_counter() - started) * 1e6)
        await store.close()
    return timings


def main() -> None:
    timings = sorted(asyncio.run(measure()))
    p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
    print(f"money path (estimate+reserve+settle)   p50 {p50:6.0f} us   p99 {p99:6.0f} us   ({RUNS} calls, ~630-token prompt)")


if __name__ == "__main__":
    main()
