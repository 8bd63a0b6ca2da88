"""The daily cloud budget: tiers by what is left, and reservations that cannot overspend.

Before a cloud call its worst case (input tokens x input price + max_tokens x
output price, plus `reservation_margin`) is reserved in the ledger,
atomically with the check that it fits; afterwards the reservation becomes
what the upstream billed, or is released. The bill is charged even above the
reservation: it is what the user pays. Such a bill means the model's price is
stale (an old table, a dearer provider); it is logged and that model's
reservations scale up from then on (store_prices.py), so a stale price costs
at most the calls already in flight. A figure that is not a finite number of
dollars, or is negative, is never believed. Local models are free and never
pass through here.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from proxy.config import ModelRef
from proxy.config_schema import BudgetConfig, BudgetTier
from proxy.errors import BudgetExhausted
from proxy.money.format import usd
from proxy.money.keys import ApiKey
from proxy.money.pricing import PriceTable
from proxy.storage.store import Store

Clock = Callable[[], datetime]
log = logging.getLogger("hermes")


def system_clock() -> datetime:
    # In UTC, which costs a tenth of the local zone to read; each use converts to the zone it needs.
    return datetime.now(timezone.utc)


def budget_day(config: BudgetConfig, clock: Clock = system_clock) -> str:
    """Today's budget day (the ledger's `day`), in the zone the budget resets in."""
    zone = None if config.reset_timezone == "local" else ZoneInfo(config.reset_timezone)
    return clock().astimezone(zone).date().isoformat()


@dataclass(frozen=True)
class BudgetStatus:
    """Today's money, as of one moment."""

    day: str
    limit_usd: float
    spent_usd: float
    reserved_usd: float
    tier: BudgetTier | None  # None: blocked until the reset
    resets_at: datetime

    @property
    def remaining_usd(self) -> float:
        return max(self.limit_usd - self.spent_usd - self.reserved_usd, 0.0)

    @property
    def tier_name(self) -> str:
        return self.tier.name if self.tier else "blocked"

    def as_dict(self) -> dict[str, Any]:
        """The status as the API reports it."""
        return {
            "day": self.day,
            "limit_usd": self.limit_usd,
            "spent_usd": round(self.spent_usd, 8),
            "reserved_usd": round(self.reserved_usd, 8),
            "remaining_usd": round(self.remaining_usd, 8),
            "tier": self.tier_name,
            "resets_at": self.resets_at.isoformat(),
        }


@dataclass(frozen=True)
class Grant:
    """A held reservation for one cloud call, the max_tokens it was sized for, the status with it held."""

    reservation_id: int
    model: ModelRef
    reserved_usd: float
    max_tokens: int
    status: BudgetStatus
    price_factor: float = 1.0  # the model's table price was found this many times too low (store_prices.py)


class Budget:
    """Tiers, reservations and the daily reset, over the store's ledger."""

    def __init__(
        self,
        config: BudgetConfig,
        store: Store,
        prices: PriceTable,
        cloud_models: Sequence[ModelRef],
        clock: Clock = system_clock,
        daily_limit_usd: Callable[[], float] | None = None,
    ) -> None:
        self._config = config
        # A function, so a limit changed while Hermes runs applies to the next request.
        self._limit_usd = daily_limit_usd or (lambda: config.daily_limit_usd)
        self._store = store
        self._prices = prices
        self._cloud_models = tuple(cloud_models)
        self._clock = clock
        self._zone: tzinfo | None = None if config.reset_timezone == "local" else ZoneInfo(config.reset_timezone)
        self._today: tuple[str, datetime, datetime] | None = None  # (day, its start, its reset), as _day found them

    async def status(self) -> BudgetStatus:
        day, midnight = self._day()
        spent, held = await self._store.day_totals(day)
        limit = self._limit_usd()
        return BudgetStatus(day, limit, spent, held, _tier_for(limit - spent - held, self._config.tiers), midnight)

    def _day(self) -> tuple[str, datetime]:
        """Today's budget day and the reset that ends it; worked out again only when the clock leaves that day."""
        now = self._clock()
        if self._today is None or not self._today[1] <= now < self._today[2]:
            local = now.astimezone(self._zone)
            began = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
            self._today = (local.date().isoformat(), began, began + timedelta(days=1))
        return self._today[0], self._today[2]

    def allowed_models(self, status: BudgetStatus) -> list[ModelRef]:
        """The cloud models the tier allows, in configured order."""
        priced = [m for m in self._cloud_models if self._prices.priced(m.name)]  # the others are refused
        if status.tier is None or not priced:
            return []
        if status.tier.models == "any":
            return priced
        if status.tier.models == "cheap":
            return [m for m in priced if m.cheap]
        cheapest = self._prices.cheapest(m.name for m in priced)
        return [m for m in priced if m.name == cheapest]

    async def reserve(self, model: ModelRef, input_tokens: int, max_tokens: int | None,
                      key: ApiKey | None = None) -> Grant:
        """Hold the worst-case cost of a call to `model`, or raise BudgetExhausted saying why.

        One transaction, which holds the budget's lock: read the day's totals, check the tier and the room,
        insert the hold.
        """

        async def hold() -> Grant:
            await self._store.lock_budget()  # no other process reserves between this read and the insert
            status = await self.status()
            if status.tier is None:
                raise BudgetExhausted(self._spent_message(status))
            price = self._prices.price(model.name)  # UnpricedModel: never reserved at $0
            allowed = self.allowed_models(status)
            # A model only the catalogue lists (asked for by its slug) is the user's choice: any tier that
            # allows any model allows it.
            if model not in allowed and not (status.tier.models == "any" and model.kind == "cloud"):
                names = ", ".join(m.name for m in allowed) or "no cloud model"
                raise BudgetExhausted(
                    f"{model.name} is not allowed in the '{status.tier.name}' budget tier "
                    f"({usd(status.remaining_usd)} of {usd(status.limit_usd)} left today): it allows {names}. "
                    f"The budget resets at {_clock_time(status.resets_at)}.",
                    code="model_not_in_budget_tier",
                )
            granted_tokens = self._max_tokens(model, max_tokens, status.tier)
            factor = await self._store.price_factor(model.name, price.input_usd, price.output_usd)
            worst_usd = price.cost_usd(input_tokens, granted_tokens) * factor
            worst_usd *= 1 + self._config.reservation_margin
            if worst_usd > status.remaining_usd:
                raise BudgetExhausted(
                    f"This request to {model.name} could cost up to {usd(worst_usd)} "
                    f"({input_tokens} input + {granted_tokens} output tokens), more than the "
                    f"{usd(status.remaining_usd)} left of today's {usd(status.limit_usd)}. "
                    f"The budget resets at {_clock_time(status.resets_at)}."
                )
            if key is not None and key.daily_limit_usd is not None:
                await self._check_key_room(key, status, model, worst_usd)
            reservation_id = await self._store.insert_reservation(status.day, model.name, worst_usd,
                                                                  None if key is None else key.id)
            return Grant(reservation_id, model, worst_usd, granted_tokens, self._holding(status, worst_usd), factor)

        async def release(grant: Grant) -> None:  # the caller went away while it was being made
            await self._store.settle_reservation(grant.reservation_id, None, note="caller cancelled")

        return await self._store.atomic(hold, abandoned=release)

    async def _check_key_room(self, key: ApiKey, status: BudgetStatus, model: ModelRef, worst_usd: float) -> None:
        """Raise BudgetExhausted when `worst_usd` does not fit in what `key` has left today."""
        assert key.daily_limit_usd is not None
        left = key.daily_limit_usd - await self._store.key_day_spend(status.day, key.id)
        if worst_usd > left:
            raise BudgetExhausted(
                f"This request to {model.name} could cost up to {usd(worst_usd)}, more than the "
                f"{usd(max(left, 0.0))} left of key '{key.name}''s {usd(key.daily_limit_usd)} a day. "
                f"It resets at {_clock_time(status.resets_at)}.", code="key_budget_exhausted")

    async def settle(self, grant: Grant, cost_usd: float | None, note: str | None = None,
                     priced_usd: float | None = None) -> BudgetStatus:
        """Replace the reservation by the bill (None releases it); the status after.

        `priced_usd`: the call's tokens at the table price, against which a
        bill is found stale. A bill that is not a finite number of dollars is
        charged the reservation; a negative one, nothing; both are logged and
        kept beside the charge as what the upstream reported.
        """
        reported = None
        if cost_usd is not None and not (math.isfinite(cost_usd) and cost_usd >= 0):
            reported = cost_usd if math.isfinite(cost_usd) else None
            charged = grant.reserved_usd if not math.isfinite(cost_usd) else 0.0
            note = f"upstream reported ${cost_usd}, charged ${charged:.6f}"
            log.warning("%s: %s", grant.model.name, note)
            cost_usd = charged
        factor = None if cost_usd is None else self._stale_factor(grant, cost_usd, priced_usd)
        if factor is not None:
            note = (f"billed ${cost_usd:.6f}, above its ${grant.reserved_usd:.6f} reservation: "
                    f"{grant.model.name}'s price is stale; its reservations now scale x{factor:.3g}")
            log.warning("%s", note)

        async def charge() -> BudgetStatus:
            await self._store.settle_reservation(grant.reservation_id, cost_usd, reported_usd=reported, note=note)
            if factor is not None and cost_usd is not None:
                price = self._prices.price(grant.model.name)
                await self._store.raise_price_factor(grant.model.name, price.input_usd, price.output_usd, factor,
                                                     cost_usd, grant.reserved_usd)
            return await self.status()  # in the same transaction: what this settlement left

        return await self._store.atomic(charge)

    @staticmethod
    def _stale_factor(grant: Grant, bill_usd: float, priced_usd: float | None) -> float | None:
        """The factor `grant.model`'s price must scale by, when this bill is above its reservation.

        At least what makes this call's reservation cover its bill; where the
        call's tokens are known, their bill over their table price, which says
        how far off the price is (a worst case sized on max_tokens hides it).
        """
        if bill_usd <= grant.reserved_usd:
            return None
        covering = grant.price_factor * bill_usd / grant.reserved_usd if grant.reserved_usd > 0 else 0.0
        # A model the table calls free scales to nothing: its price must be set (routing_rules.yaml); it is
        # still marked stale, and its bills still charged.
        return max(covering, bill_usd / priced_usd if priced_usd else 0.0, grant.price_factor)

    def _holding(self, status: BudgetStatus, reserved_usd: float) -> BudgetStatus:
        """`status` with `reserved_usd` more held, and the tier that leaves (no second read of the ledger)."""
        held = status.reserved_usd + reserved_usd
        tier = _tier_for(status.limit_usd - status.spent_usd - held, self._config.tiers)
        return dataclasses.replace(status, reserved_usd=held, tier=tier)

    def _max_tokens(self, model: ModelRef, requested: int | None, tier: BudgetTier) -> int:
        # OpenCode asks for 32000 on every call: never take max_tokens at face value.
        limits = [requested or self._config.default_max_tokens or self._config.max_tokens_cap,
                  self._config.max_tokens_cap]
        model_limit = self._prices.price(model.name).max_output_tokens
        if model_limit:
            limits.append(model_limit)
        if tier.max_tokens:
            limits.append(tier.max_tokens)
        return min(limits)

    def _spent_message(self, status: BudgetStatus) -> str:
        return (
            f"Today's cloud budget is spent: {usd(status.spent_usd + status.reserved_usd)} of "
            f"{usd(status.limit_usd)}. It resets at {_clock_time(status.resets_at)}. "
            "Local models still answer: use model 'local'."
        )


def _tier_for(remaining_usd: float, tiers: Sequence[BudgetTier]) -> BudgetTier | None:
    """The first tier whose floor `remaining_usd` is above; None once nothing is left."""
    if remaining_usd <= 0:
        return None
    for tier in tiers:
        if remaining_usd > tier.min_remaining_usd:
            return tier
    return None


def _clock_time(moment: datetime) -> str:
    return f"{moment:%H:%M} {moment.tzname()} ({moment.isoformat()})"
