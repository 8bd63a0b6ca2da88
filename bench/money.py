"""The per-request money path of a cloud call, on a real SQLite file in a temp dir, and on PostgreSQL.

Times Hermes's own bookkeeping around one cloud call, the upstream excluded,
for an agent-sized request (OpenCode's recorded first step: ~10 tools and a
~9 kB system prompt, tests/clients/opencode-refactor-plan.json):

- start: `Meter.start`, i.e. the input's token count + the learned estimate +
  the reservation;
- settle+record: `MeteredCall.settle`, i.e. `Meter.finish` (settle, learn, prediction)
  and `Report.record` (the task row, the session, its cloud model).

Each request of the run is a new turn of a session of 50: the conversation
grows, its system prompt and tools stay the same, as an agent's do. Then the
token count alone: litellm's of the whole request, and Hermes's once the
request's parts have been seen. To compare with an older tree, run this file
from outside the checkout with that tree first on PYTHONPATH, e.g.
`cd /tmp && PYTHONPATH=/tmp/before python /path/to/bench/money.py`.

With PostgreSQL's server installed, the same run is made on a throw-away
cluster on loopback (tests/postgres.py: fsync off, as for the tests), so
both backends are printed side by side; `--db URL` measures a server of yours.
`--runs N` makes N calls a backend instead of 1,000 (the tests run a few).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import proxy
from proxy.chat import ChatRequest
from proxy.config import load_config
from proxy.money.budget import Budget
from proxy.money.estimate import count_input_tokens
from proxy.money.meter import Meter
from proxy.money.preferences import Preferences
from proxy.money.pricing import PriceTable
from proxy.pipeline.cascade import Plan, cloud_target
from proxy.pipeline.classify import Classifier
from proxy.pipeline.metered_call import MeteredCall
from proxy.pipeline.report import Report
from proxy.pipeline.services import Services
from proxy.pipeline.steps import understand
from proxy.storage.store import Store

REPO = Path(__file__).resolve().parent.parent
BODY = json.loads((REPO / "tests/clients/opencode-refactor-plan.json").read_text())["body"]
CONFIG_DIR = Path(proxy.__file__).resolve().parent.parent  # REPO, or an older tree on PYTHONPATH to compare
USAGE = {"prompt_tokens": 6200, "completion_tokens": 380, "cost": 0.0243}
RUNS = 1000  # calls a backend; --runs N
T = TypeVar("T")


def turn(n: int) -> ChatRequest:
    """The request of turn `n`: the recorded body, with n more exchanges before its last message."""
    messages = list(BODY["messages"])
    for i in range(n):
        messages.insert(-1, {"role": "user", "content": f"Step {i}: and the next function?"})
        messages.insert(-1, {"role": "assistant", "content": f"Split it out as part_{i}(). " * 10})
    params = {k: v for k, v in BODY.items() if k not in ("model", "messages", "stream", "stream_options")}
    return ChatRequest("auto", messages, stream=True, include_usage=True, params=params)


async def timed(work: Awaitable[T], into: list[float]) -> T:
    started = time.perf_counter()
    result = await work
    into.append((time.perf_counter() - started) * 1e6)
    return result


async def measure(location: str | Path, runs: int) -> dict[str, list[float]]:
    config = load_config(CONFIG_DIR, {"OPENROUTER_API_KEY": "unused"})
    prices = PriceTable.from_config(config)
    timings: dict[str, list[float]] = {"start": [], "settle+record": []}
    store = await Store.open(location)
    budget = Budget(config.budget.model_copy(update={"daily_limit_usd": 1e9}), store, prices, config.cloud_models)
    meter = Meter(budget, prices, store, config.routing.local.max_tokens)
    used = {"config": config, "store": store, "prices": prices, "meter": meter,
            "classifier": Classifier(config.routing.classification),
            "preferences": await Preferences.load(config, store)}
    # The rest (the local catalog, the upstream clients) play no part in the money path.
    services = Services(**{field.name: used.get(field.name) for field in dataclasses.fields(Services)})
    target = cloud_target(config, config.find_model("claude-sonnet"))
    headers = {"x-session-id": "bench-session"}
    for n in range(runs):
        request = await understand(services, turn(n % 50), headers, time.monotonic())  # sessions of 50 turns
        metered = await timed(meter.start(target, request.chat, request.task.task_type), timings["start"])
        call = MeteredCall(Report(services, request, Plan(target, reason="bench"), metered), metered, {}, request.started)
        await timed(call.settle(USAGE, None), timings["settle+record"])
    await store.close()
    return timings


def counting_us(litellm_model: str, runs: int = 50) -> tuple[float, float]:
    """(litellm's count of the whole first request, count_input_tokens's once it has seen it), median us."""
    import litellm

    messages, tools = BODY["messages"], BODY["tools"]
    whole, again = [], []
    for _ in range(runs):
        started = time.perf_counter()
        litellm.token_counter(model=litellm_model, messages=messages, tools=tools)
        whole.append((time.perf_counter() - started) * 1e6)
        count_input_tokens(litellm_model, messages, tools)
        started = time.perf_counter()
        count_input_tokens(litellm_model, messages, tools)
        again.append((time.perf_counter() - started) * 1e6)
    return statistics.median(whole), statistics.median(again)


def report(backend: str, location: str | Path, runs: int) -> None:
    for phase, values in asyncio.run(measure(location, runs)).items():
        values.sort()
        p50, p99 = statistics.median(values), values[int(len(values) * 0.99)]
        print(f"money path on {backend:<10}, {phase:<14} p50 {p50:7.0f} us   p99 {p99:7.0f} us   "
              f"({runs} cloud calls, OpenCode-sized request)")


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else RUNS
    if "--db" in sys.argv:
        url = sys.argv[sys.argv.index("--db") + 1]
        report("postgresql" if url.startswith("postgres") else "sqlite", url, runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", Path(tmp) / "bench.db", runs)
    sys.path.insert(0, str(REPO))
    from tests.postgres import PostgresCluster, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"money path on postgresql: not measured ({reason})")
    else:
        cluster = PostgresCluster()
        try:
            cluster.start()
            report("postgresql", cluster.new_database(), runs)
        finally:
            cluster.stop()
    whole, again = counting_us("openrouter/anthropic/claude-sonnet-4.6")
    print(f"token count of that request: {whole:.0f} us by litellm, {again:.0f} us once its parts were seen")


if __name__ == "__main__":
    main()
