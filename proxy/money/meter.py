"""The money side of one call: estimate and reserve before it, settle and learn after.

`start` runs before the upstream call (for a cloud model: count the input,
estimate the output, reserve the worst case, cap max_tokens to what was
reserved; for a local one: cap max_tokens to `local.max_tokens`); `finish`
runs once after it, whatever happened. Each is one transaction: the
reservation with the read it checks, and the settlement with the learned
estimate and the prediction (which the pipeline widens to the task row and
the session, so that a call's record is all there or not at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.chat import ChatRequest
from proxy.money.budget import Budget, BudgetStatus, Grant
from proxy.money.cache_use import CacheUse, turn_cost_usd
from proxy.money.estimate import MIN_LEARNING_RATE, Estimate, count_input_tokens_off_loop, estimate_output, learn
from proxy.money.keys import ApiKey
from proxy.money.pricing import PriceTable
from proxy.storage.store import USAGE_UNKNOWN, Prediction, Store
from proxy.upstreams.target import Target


@dataclass(frozen=True)
class Metered:
    """A call about to be made: what it is expected to cost and what was reserved."""

    target: Target
    task_type: str
    chat: ChatRequest  # as sent upstream: max_tokens capped to the reservation
    estimate: Estimate
    estimated_cost_usd: float
    grant: Grant | None
    status: BudgetStatus


@dataclass(frozen=True)
class Bill:
    cost_usd: float
    status: BudgetStatus


class Meter:
    def __init__(self, budget: Budget, prices: PriceTable, store: Store, local_max_tokens: int) -> None:
        self.budget = budget
        self._prices = prices
        self._store = store
        self._local_max_tokens = local_max_tokens

    async def start(self, target: Target, chat: ChatRequest, task_type: str, key: ApiKey | None = None,
                    cache: tuple[int, CacheUse] | None = None) -> Metered:
        """Estimate the call; for a cloud model reserve its worst case, on `key`'s budget too (raises
        BudgetExhausted).

        `cache`: what the session's turn before sent on this model (0: none) and how it uses the model's
        prompt cache (cache_use.py): the estimate prices the reads and writes that makes likely. The
        reservation never does: it is the uncached worst case.
        """
        model = target.model
        input_tokens = await count_input_tokens_off_loop(model.litellm_model, chat.messages, chat.params.get("tools"),
                                                         chat.fingerprints)
        learned = await self._store.learned(task_type, model.name)
        output_tokens, confidence = estimate_output(task_type, learned)
        estimate = Estimate(task_type, input_tokens, output_tokens, confidence, learned.samples if learned else 0)
        price = self._prices.price(model.name)
        billed_input = input_tokens  # as the provider will count them, once its counts have been seen
        if model.kind == "cloud" and (counted := await self._store.input_ratio(model.name)) is not None:
            billed_input = round(input_tokens * counted[1])
        estimated_cost = price.cost_usd(billed_input, output_tokens) if cache is None \
            else turn_cost_usd(price, cache[0], billed_input, output_tokens, cache[1])
        if model.kind == "local":
            capped = chat.limited_to(self._local_max_tokens)
            return Metered(target, task_type, capped, estimate, 0.0, None, await self.budget.status())
        grant = await self.budget.reserve(model, input_tokens, chat.max_tokens, key)
        capped = chat.limited_to(grant.max_tokens)
        return Metered(target, task_type, capped, estimate, estimated_cost, grant, grant.status)

    async def finish(self, metered: Metered, usage: dict[str, Any] | None, failed: bool, partial: bool) -> Bill:
        """Settle the call, learn from it, record the prediction: one transaction, or part of the caller's.

        `partial`: it failed or was cut off after output may have begun.
        """
        return await self._store.atomic(lambda: self._finish(metered, usage, failed, partial))

    async def _finish(self, metered: Metered, usage: dict[str, Any] | None, failed: bool, partial: bool) -> Bill:
        model = metered.target.model
        if usage and not failed:
            await self._learn(metered.task_type, model.name, int(usage.get("completion_tokens", 0)))
            if model.kind == "cloud":
                await self._learn_input_ratio(model.name, metered.estimate.input_tokens,
                                              int(usage.get("prompt_tokens", 0)))
        if metered.grant is None:
            return Bill(0.0, await self.budget.status())
        if usage:  # the upstream said what the call used, even if the client left before the end
            cost = self._prices.actual_cost_usd(model.name, usage)
            priced = self._prices.priced_usd(model.name, usage)
            await self._store.record_prediction(Prediction(
                task_type=metered.task_type,
                model=model.name,
                input_tokens=metered.estimate.input_tokens,
                predicted_output_tokens=metered.estimate.output_tokens,
                actual_output_tokens=int(usage.get("completion_tokens", 0)),
                predicted_cost_usd=metered.estimated_cost_usd,
                actual_cost_usd=cost,
                confidence=metered.estimate.confidence,
            ))
            status = await self.budget.settle(metered.grant, cost, priced_usd=priced)
        elif partial:
            # Output may have been generated and billed, and its usage is unknown:
            # count the whole reservation rather than risk under-counting.
            cost = metered.grant.reserved_usd
            status = await self.budget.settle(metered.grant, cost, note=USAGE_UNKNOWN)
        else:
            return Bill(0.0, await self.budget.settle(metered.grant, None))
        return Bill(cost, status)

    async def _learn_input_ratio(self, model: str, counted: int, billed: int) -> None:
        """Fold one call's billed input tokens over Hermes's count of them into `model`'s ratio (a moving mean)."""
        if counted <= 0 or billed <= 0:
            return
        known = await self._store.input_ratio(model)
        samples, ratio = known if known else (0, 1.0)
        rate = max(1.0 / (samples + 1), MIN_LEARNING_RATE)
        await self._store.put_input_ratio(model, samples + 1, ratio + rate * (billed / counted - ratio))

    async def _learn(self, task_type: str, model: str, output_tokens: int) -> None:
        # Inside finish's transaction, so no other writer comes between the read and the write.
        learned = learn(task_type, await self._store.learned(task_type, model), output_tokens)
        await self._store.put_learned(task_type, model, learned)


