"""One call's money: estimate and reserve before, settle and learn after."""

from __future__ import annotations

import random
import statistics
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from proxy.chat import ChatRequest
from proxy.config import Config, load_config
from proxy.errors import StoreUnavailable
from proxy.money.budget import Budget
from proxy.money.meter import Meter
from proxy.money.pricing import PriceTable
from proxy.storage.store import Store
from proxy.upstreams.target import Target
from tests.conftest import fixed_files
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

PROMPT = [{"role": "user", "content": "Write a parser for this config format, with tests."}]


@pytest.fixture
def config() -> Config:
    return load_config(fixed_files(), {})


@pytest_asyncio.fixture
async def meter(config: Config, database: Path | str) -> AsyncIterator[Meter]:
    store = await Store.open(database)
    prices = PriceTable.from_config(config)
    budget_config = config.budget.model_copy(update={"daily_limit_usd": 1000.0})
    budget = Budget(budget_config, store, prices, config.cloud_models)
    yield Meter(budget, prices, store, config.routing.local.max_tokens)
    await store.close()


def target(config: Config, name: str) -> Target:
    return Target(config.find_model(name), "http://127.0.0.1:9", None, 10.0)


@pytest.mark.asyncio
async def test_cloud_call_is_reserved_capped_and_settled(meter: Meter, config: Config) -> None:
    chat = ChatRequest("cloud", PROMPT, params={"max_completion_tokens": 32000, "temperature": 0})
    metered = await meter.start(target(config, "gpt-4"), chat, "code_generation")
    assert metered.chat.params == {"temperature": 0, "max_tokens": 4096}
    assert metered.estimate.output_tokens == 400 and metered.estimate.confidence == 0.6
    assert metered.estimated_cost_usd == pytest.approx(metered.estimate.input_tokens * 30e-6 + 400 * 60e-6)
    assert metered.status.reserved_usd == pytest.approx(metered.grant.reserved_usd)
    bill = await meter.finish(metered, {"prompt_tokens": 20, "completion_tokens": 300, "cost": 0.02}, False, False)
    assert bill.cost_usd == 0.02
    assert (bill.status.spent_usd, bill.status.reserved_usd) == (pytest.approx(0.02), 0.0)


@pytest.mark.asyncio
async def test_failed_call_is_released_and_a_cut_stream_keeps_its_reservation(meter: Meter, config: Config) -> None:
    chat = ChatRequest("gpt-4", PROMPT, params={"max_tokens": 100})
    failed = await meter.start(target(config, "gpt-4"), chat, "analysis")
    assert (await meter.finish(failed, None, failed=True, partial=False)).status.spent_usd == 0.0
    cut = await meter.start(target(config, "gpt-4"), chat, "analysis")
    bill = await meter.finish(cut, None, failed=True, partial=True)
    assert bill.cost_usd == cut.grant.reserved_usd == pytest.approx(bill.status.spent_usd)


@pytest.mark.asyncio
async def test_local_call_is_free_and_reserves_nothing(meter: Meter, config: Config) -> None:
    metered = await meter.start(target(config, "smollm2:135m"), ChatRequest("local", PROMPT), "conversation")
    assert metered.grant is None and metered.estimated_cost_usd == 0.0
    bill = await meter.finish(metered, {"prompt_tokens": 20, "completion_tokens": 90}, False, False)
    assert bill.cost_usd == 0.0 and bill.status.spent_usd == 0.0


@pytest.mark.asyncio
@pytest.mark.parametrize(("asked", "sent"), [(32000, 512), (None, 512), (40, 40)], ids=["opencode", "none", "small"])
async def test_a_local_model_gets_at_most_the_local_cap(meter: Meter, config: Config, asked: int | None,
                                                         sent: int) -> None:
    # OpenCode's 32000 would keep the embedded model generating for minutes.
    params = {"max_tokens": asked} if asked else {}
    metered = await meter.start(target(config, "smollm2:135m"), ChatRequest("local", PROMPT, params=params), "analysis")
    assert metered.chat.max_tokens == sent == metered.chat.params["max_tokens"]


@pytest.mark.asyncio
async def test_predictions_learn_from_real_usage(meter: Meter, config: Config) -> None:
    """The spec's target: over 50 tasks, the median cost-prediction error drops by 30% or more."""
    rng = random.Random(7)
    for _ in range(50):
        metered = await meter.start(target(config, "claude-3.5-sonnet"), ChatRequest("cloud", PROMPT), "code_generation")
        actual = round(1200 * rng.uniform(0.9, 1.1))  # this model writes three times the prior's 400
        usage = {"prompt_tokens": metered.estimate.input_tokens, "completion_tokens": actual}
        await meter.finish(metered, usage, False, False)
    rows = await meter._store.predictions()
    errors = [abs(r["predicted_cost_usd"] - r["actual_cost_usd"]) / r["actual_cost_usd"] for r in rows]
    first, last = statistics.median(errors[:10]), statistics.median(errors[-10:])
    assert len(rows) == 50
    print(f"median cost-prediction error: first 10 {first:.1%}, last 10 {last:.1%}")
    assert last <= 0.7 * first, (first, last)
    assert rows[-1]["confidence"] > rows[0]["confidence"]


def test_a_settlement_that_fails_midway_leaves_nothing_half_written(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The charge, the learned estimate, the prediction, the task row and the session: all, or none."""
    url = serve_hermes(make_config())
    body = {"model": "cloud", "messages": PROMPT, "max_tokens": 100}
    touch_session = Store.touch_session

    async def disk_full(self: Store, *args: Any, **kwargs: Any) -> None:
        await touch_session(self, *args, **kwargs)  # written, then the statement after it fails
        raise StoreUnavailable("Hermes's database is unavailable (database or disk is full); try again shortly.")

    monkeypatch.setattr(Store, "touch_session", disk_full)
    assert httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code == 503
    assert query(database, "SELECT state FROM ledger") == [{"state": "held"}]  # its own phase, committed
    counts = "SELECT (SELECT COUNT(*) FROM tasks) AS tasks, (SELECT COUNT(*) FROM sessions) AS sessions, " \
             "(SELECT COUNT(*) FROM cost_predictions) AS predictions, (SELECT COUNT(*) FROM estimates) AS estimates"
    assert query(database, counts) == [{"tasks": 0, "sessions": 0, "predictions": 0, "estimates": 0}]
    monkeypatch.undo()
    assert httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code == 200
    assert sorted(row["state"] for row in query(database, "SELECT state FROM ledger")) == ["charged", "held"]
    assert query(database, counts) == [{"tasks": 1, "sessions": 1, "predictions": 1, "estimates": 1}]
