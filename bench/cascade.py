"""The cascade's own overhead per request, model calls excluded, on a real SQLite file.

Times what Hermes adds around the models for an `auto` request whose local
answer is rejected: classify, identify the session, the budget status, the
upgrade options with session impact for every allowed cloud model, the
decision, and metering and recording the answer. The scorer is timed on its
own by bench/scorer.py. `--runs N` times N requests instead of 200.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from proxy.chat import ChatRequest
from proxy.config import load_config
from proxy.money.budget import Budget
from proxy.money.meter import Meter
from proxy.money.preferences import Preferences
from proxy.money.pricing import PriceTable
from proxy.pipeline.cascade import Attempt, CascadeResult, Plan, decide, local_target
from proxy.pipeline.classify import Classifier
from proxy.pipeline.local_attempt import LocalSpeeds
from proxy.pipeline.metered_call import MeteredCall
from proxy.pipeline.services import Services
from proxy.pipeline.session import remaining_turns
from proxy.pipeline.steps import understand
from proxy.pipeline.upgrade import upgrade_options
from proxy.storage.store import Store

REPO = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "system", "content": "You are a coding agent. Follow the rules. " * 60}]
for turn in range(5):
    MESSAGES += [{"role": "user", "content": f"Refactor step {turn}: split the parser module."},
                 {"role": "assistant", "content": "Done. " * 40}]
MESSAGES.append({"role": "user", "content": "Now review the design of the cache layer."})
ANSWER = {"id": "x", "object": "chat.completion", "created": 0, "model": "smollm2:135m",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "It looks fine."},
                       "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 900, "completion_tokens": 5, "total_tokens": 905}}
RUNS = 200  # --runs N


async def measure(runs: int) -> list[float]:
    config = load_config(REPO, {"OPENROUTER_API_KEY": "unused"})
    prices = PriceTable.from_config(config)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.db")
        budget = Budget(config.budget, store, prices, config.cloud_models)
        meter = Meter(budget, prices, store, config.routing.local.max_tokens)
        services = Services(config=config, store=store, prices=prices, meter=meter, catalog=None,  # type: ignore[arg-type]
                            classifier=Classifier(config.routing.classification),
                            preferences=await Preferences.load(config, store), speeds=LocalSpeeds(),
                            upstream=None)  # type: ignore[arg-type]  # no model is called here
        local = config.find_model("smollm2:135m")
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            request = await understand(services, ChatRequest("auto", MESSAGES), {}, time.monotonic())
            status = await meter.budget.status()
            result = CascadeResult((Attempt(local.name, "rejected"),), Attempt(local.name, "rejected"), ANSWER)
            mean, known = await store.mean_session_turns(request.conversation.session_id)
            turns = remaining_turns(mean, known, request.conversation.turns, 25)
            options = await upgrade_options(meter.budget.allowed_models(status), request.chat, request.task.task_type,
                                            4.0, prices, store, request.conversation, turns)
            decide(result, options, "ask", 9.0, status.remaining_usd, config)
            plan = Plan(local_target(config, local), ANSWER, result, options, "ask", "bench")
            call = await MeteredCall.open(services, request, plan)
            await call.settle(ANSWER["usage"], None)
            timings.append((time.perf_counter() - started) * 1000)
        await store.close()
    return timings


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else RUNS
    timings = sorted(asyncio.run(measure(runs)))
    p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
    print(f"cascade overhead, no model calls          p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
          f"({runs} requests, 11-message conversation, 4 upgrade options)")


if __name__ == "__main__":
    main()
