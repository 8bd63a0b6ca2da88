"""The daily budget on a real ledger (SQLite or PostgreSQL), with a clock the tests control."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from proxy.config import Config, load_config
from proxy.config_schema import BudgetTier
from proxy.errors import BudgetExhausted
from proxy.money.budget import Budget
from proxy.money.pricing import Price, PriceTable
from proxy.storage.store import Store
from tests.conftest import fixed_files

LONDON = ZoneInfo("Europe/London")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def config() -> Config:
    return load_config(fixed_files(), {})


@pytest_asyncio.fixture
async def store(database: Path | str) -> AsyncIterator[Store]:
    store = await Store.open(database)
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 21, 15, 0, tzinfo=LONDON))


@pytest.fixture
def make_budget(config: Config, store: Store, clock: Clock) -> Callable[..., Budget]:
    def make(**changes: Any) -> Budget:
        # No margin unless a test asks: the worst cases below are the price table's own.
        budget_config = config.budget.model_copy(
            update={"reset_timezone": "Europe/London", "reservation_margin": 0.0, **changes})
        return Budget(budget_config, store, PriceTable.from_config(config), config.cloud_models, clock)

    return make


def model(config: Config, name: str):  # type: ignore[no-untyped-def]
    return config.find_model(name)


async def spend(budget: Budget, config: Config, usd: float) -> None:
    """Put `usd` of charged spend in today's ledger (as usage reported after the fact is)."""
    await budget._store.charge((await budget.status()).day, "gemini-flash", usd)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("spent", "tier", "allowed"),
    [
        pytest.param(0.0, "normal", ["claude-3.5-sonnet", "gpt-4", "claude-3-opus", "gemini-flash"], id="fresh"),
        pytest.param(2.99, "normal", ["claude-3.5-sonnet", "gpt-4", "claude-3-opus", "gemini-flash"], id="2.01-left"),
        pytest.param(3.00, "cheap", ["claude-3.5-sonnet", "gemini-flash"], id="2.00-left"),
        pytest.param(4.49, "cheap", ["claude-3.5-sonnet", "gemini-flash"], id="0.51-left"),
        pytest.param(4.50, "emergency", ["gemini-flash"], id="0.50-left"),
        pytest.param(4.999, "emergency", ["gemini-flash"], id="0.001-left"),
        pytest.param(5.00, "blocked", [], id="0-left"),
    ],
)
async def test_tier_boundaries_decide_the_allowed_models(
    make_budget: Callable[..., Budget], config: Config, spent: float, tier: str, allowed: list[str]
) -> None:
    budget = make_budget()
    if spent:
        await spend(budget, config, spent)
    status = await budget.status()
    assert status.tier_name == tier
    assert [m.name for m in budget.allowed_models(status)] == allowed
    assert status.remaining_usd == pytest.approx(5.0 - spent)


@pytest.mark.asyncio
async def test_blocked_budget_refuses_with_spend_limit_and_reset_time(
    make_budget: Callable[..., Budget], config: Config
) -> None:
    budget = make_budget()
    await spend(budget, config, 5.0)
    with pytest.raises(BudgetExhausted) as info:
        await budget.reserve(model(config, "gemini-flash"), 10, 10)
    assert info.value.status == 429 and info.value.type == "insufficient_quota" and info.value.retry is False
    assert info.value.message.startswith("Today's cloud budget is spent: $5.00 of $5.00. It resets at 00:00 GMT")


@pytest.mark.asyncio
async def test_midnight_reset_in_the_configured_zone(
    make_budget: Callable[..., Budget], config: Config, clock: Clock
) -> None:
    budget = make_budget()
    clock.now = datetime(2026, 11, 21, 23, 59, 30, tzinfo=LONDON)
    await spend(budget, config, 4.6)
    status = await budget.status()
    assert status.tier_name == "emergency"
    assert status.resets_at == datetime(2026, 11, 22, 0, 0, tzinfo=LONDON)
    # 00:00:30 in London is still 21 November in New York: the zone decides.
    clock.now = datetime(2026, 11, 22, 0, 0, 30, tzinfo=LONDON)
    assert (await budget.status()).tier_name == "normal"
    assert (await make_budget(reset_timezone="America/New_York").status()).tier_name == "emergency"


@pytest.mark.asyncio
async def test_max_tokens_is_never_taken_at_face_value(make_budget: Callable[..., Budget], config: Config) -> None:
    budget = make_budget()
    sonnet = model(config, "claude-3.5-sonnet")
    assert (await budget.reserve(sonnet, 100, 32000)).max_tokens == 4096  # max_tokens_cap
    assert (await budget.reserve(sonnet, 100, None)).max_tokens == 4096  # none sent: the model's limit, capped
    assert (await make_budget(default_max_tokens=1024).reserve(sonnet, 100, None)).max_tokens == 1024
    assert (await budget.reserve(sonnet, 100, 50)).max_tokens == 50
    await spend(budget, config, 4.6)
    assert (await budget.reserve(model(config, "gemini-flash"), 100, 32000)).max_tokens == 256  # emergency


@pytest.mark.asyncio
async def test_reservation_is_the_worst_case_and_settles_to_the_actual(
    make_budget: Callable[..., Budget], config: Config
) -> None:
    budget = make_budget()
    grant = await budget.reserve(model(config, "gpt-4"), 1000, 500)
    assert grant.reserved_usd == pytest.approx(1000 * 30e-6 + 500 * 60e-6)
    held = await budget.status()
    assert (held.spent_usd, held.reserved_usd) == (0.0, pytest.approx(0.06))
    after = await budget.settle(grant, 0.0123)
    assert (after.spent_usd, after.reserved_usd) == (pytest.approx(0.0123), 0.0)
    released = await budget.settle(await budget.reserve(model(config, "gpt-4"), 1000, 500), None)
    assert released.spent_usd == pytest.approx(0.0123) and released.reserved_usd == 0.0


@pytest.mark.asyncio
async def test_a_request_that_could_cost_more_than_is_left_is_refused(
    make_budget: Callable[..., Budget], config: Config
) -> None:
    budget = make_budget()
    await spend(budget, config, 2.5)
    with pytest.raises(BudgetExhausted, match=r"could cost up to \$3\.06 .* more than the \$2\.50 left"):
        await budget.reserve(model(config, "claude-3.5-sonnet"), 1_000_000, 4000)
    await spend(budget, config, 1.0)
    with pytest.raises(BudgetExhausted, match="gpt-4 is not allowed in the 'cheap' budget tier"):
        await budget.reserve(model(config, "gpt-4"), 10, 10)


@pytest.mark.asyncio
async def test_concurrent_reservations_never_exceed_the_limit(make_budget: Callable[..., Budget], config: Config) -> None:
    budget = make_budget(daily_limit_usd=1.0, tiers=(BudgetTier(name="any", min_remaining_usd=0, models="any"),))
    gpt4 = model(config, "gpt-4")
    # Each worst case is 0.099 USD: ten fit in 1.00, the eleventh does not.
    results = await asyncio.gather(*(budget.reserve(gpt4, 100, 1600) for _ in range(50)), return_exceptions=True)
    grants = [r for r in results if not isinstance(r, BaseException)]
    assert len(grants) == 10
    assert all(isinstance(r, BudgetExhausted) for r in results if r not in grants)
    assert (await budget.status()).reserved_usd == pytest.approx(0.99)


@pytest.mark.asyncio
async def test_reservations_of_a_process_that_died_are_charged_at_their_worst_case(
    make_budget: Callable[..., Budget], config: Config, store: Store, database: Path | str
) -> None:
    budget = make_budget()
    mine = await budget.reserve(model(config, "gpt-4"), 1000, 1000)
    dead = await budget.reserve(model(config, "gpt-4"), 1000, 500)
    await store._db.execute("UPDATE ledger SET owner = ? WHERE id = ?", (dead_owner(), dead.reservation_id))
    await spend(budget, config, 1.0)
    # A second process opening the same database: it settles only what the dead one held.
    reopened = await Store.open(database)
    assert await reopened.charge_abandoned_reservations() == 1
    await reopened.close()
    status = await budget.status()
    assert status.spent_usd == pytest.approx(1.0 + dead.reserved_usd)  # unknown outcome: counted as spent
    assert status.reserved_usd == pytest.approx(mine.reserved_usd)  # this live process's call is untouched
    await budget.settle(mine, 0.01)
    assert (await budget.status()).spent_usd == pytest.approx(1.01 + dead.reserved_usd)


def dead_owner() -> str:
    """An owner string for a process of this host that has ended."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{child.stdout.strip()}:1"


@pytest.mark.asyncio
async def test_the_margin_makes_a_reservation_an_upper_bound(make_budget: Callable[..., Budget], config: Config) -> None:
    budget = make_budget(reservation_margin=0.2)
    grant = await budget.reserve(model(config, "gpt-4"), 1000, 500)
    assert grant.reserved_usd == pytest.approx((1000 * 30e-6 + 500 * 60e-6) * 1.2)


@pytest.mark.asyncio
@pytest.mark.parametrize(("reported", "charged"), [
    pytest.param(100.0, 100.0, id="far-above-the-reservation"),
    pytest.param(float("inf"), "reserved", id="infinite"),
    pytest.param(float("nan"), "reserved", id="nan"),
    pytest.param(-1.0, 0.0, id="negative"),
    pytest.param(0.002, 0.002, id="plausible"),
])
async def test_a_settled_cost_is_the_bill_unless_it_is_no_amount_of_money(
    make_budget: Callable[..., Budget], config: Config, store: Store, reported: float, charged: object
) -> None:
    budget = make_budget(daily_limit_usd=1.0, tiers=(BudgetTier(name="any", min_remaining_usd=0, models="any"),))
    grant = await budget.reserve(model(config, "gpt-4"), 1000, 500)
    status = await budget.settle(grant, reported)
    expected = grant.reserved_usd if charged == "reserved" else charged
    assert status.spent_usd == pytest.approx(expected)
    assert status.tier is None if reported == 100.0 else status.spent_usd <= status.limit_usd  # a lie stops the day
    [row] = await store.rows("SELECT cost_usd, note FROM ledger", ())
    assert (row["note"] is None) == (reported == 0.002)


@pytest.mark.asyncio
async def test_a_bill_above_the_reservation_marks_the_price_stale_and_scales_the_next_reservations(
    make_budget: Callable[..., Budget], config: Config, store: Store
) -> None:
    budget = make_budget(daily_limit_usd=10.0)
    gpt4 = model(config, "gpt-4")
    first = await budget.reserve(gpt4, 1000, 500)
    assert first.reserved_usd == pytest.approx(0.06)
    # The call's 1000 + 100 tokens are $0.036 at the table's price; the upstream billed ten times that.
    await budget.settle(first, 0.36, priced_usd=0.036)
    second = await budget.reserve(gpt4, 1000, 500)
    assert second.reserved_usd == pytest.approx(0.6)  # the same call now reserves ten times the table
    [stale] = await store.stale_prices()
    assert (stale["model"], stale["factor"], stale["bill_usd"]) == ("gpt-4", pytest.approx(10.0), 0.36)
    [row] = await store.rows("SELECT cost_usd, note FROM ledger WHERE id = ?", (first.reservation_id,))
    assert row["cost_usd"] == 0.36 and "price is stale" in row["note"]
    other = await budget.reserve(model(config, "gemini-flash"), 1000, 500)
    assert other.price_factor == 1.0  # the other models keep their prices


@pytest.mark.asyncio
async def test_a_bill_within_the_reservation_leaves_the_price_alone(
    make_budget: Callable[..., Budget], config: Config, store: Store
) -> None:
    budget = make_budget(daily_limit_usd=10.0)
    gpt4 = model(config, "gpt-4")
    await budget.settle(await budget.reserve(gpt4, 1000, 500), 0.05, priced_usd=0.01)  # 5x its tokens, under $0.06
    assert (await budget.reserve(gpt4, 1000, 500)).reserved_usd == pytest.approx(0.06)
    assert await store.stale_prices() == []


@pytest.mark.asyncio
async def test_a_correction_lapses_when_the_table_price_changes(
    make_budget: Callable[..., Budget], config: Config, store: Store, clock: Clock
) -> None:
    budget = make_budget(daily_limit_usd=10.0)
    gpt4 = model(config, "gpt-4")
    await budget.settle(await budget.reserve(gpt4, 1000, 500), 0.6, priced_usd=0.036)
    table = PriceTable.from_config(config)
    repriced = PriceTable({m.name: table.price(m.name) for m in config.cloud_models} | {
        "gpt-4": Price(300e-6, 600e-6)})  # the YAML now says the right price
    new_budget = Budget(budget._config, store, repriced, config.cloud_models, clock)
    assert (await new_budget.reserve(gpt4, 1000, 500)).reserved_usd == pytest.approx(0.6)  # no second scaling


@pytest.mark.asyncio
async def test_a_bill_for_a_model_the_table_calls_free_is_charged_and_marks_it_stale(
    make_budget: Callable[..., Budget], config: Config, store: Store, clock: Clock
) -> None:
    table = PriceTable.from_config(config)
    free = PriceTable({m.name: table.price(m.name) for m in config.cloud_models} | {"gpt-4": Price(0.0, 0.0)})
    budget = Budget(make_budget()._config, store, free, config.cloud_models, clock)
    grant = await budget.reserve(model(config, "gpt-4"), 1000, 500)
    assert grant.reserved_usd == 0.0
    status = await budget.settle(grant, 0.02, priced_usd=0.0)
    assert status.spent_usd == pytest.approx(0.02)
    [stale] = await store.stale_prices()
    assert (stale["model"], stale["bill_usd"], stale["factor"]) == ("gpt-4", 0.02, 1.0)
