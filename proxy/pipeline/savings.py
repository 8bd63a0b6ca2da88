"""What a local answer saved: the estimated cost of the cloud model Hermes would otherwise have used.

Only an `auto` request answered locally saves anything: there Hermes chose
local over the cloud. The cloud model it would otherwise have used is the one
its upgrade would have gone to (`best_option` over the options the cascade
priced), or, when the cascade priced none (the local answer was accepted, or
the session may not upgrade), the one `cloud` would go to: the first of the
task tier's cloud models that the budget tier allows (upgrade.tier_models). Its cost is the same estimate an upgrade option
carries: the input tokens as that model counts them and the output tokens
learned for (task type, model). `local` and named local models save nothing:
the user chose local, so there was no cloud call to avoid. Without
OPENROUTER_API_KEY, or with no cloud model the tier allows, nothing could
have gone to the cloud: no savings either.

Computed only when a local answer is recorded: no upstream call, and the
token counts come from estimate.py's per-part cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.chat import ChatRequest
from proxy.config import ModelRef
from proxy.money.estimate import count_input_tokens_off_loop, estimate_output
from proxy.money.pricing import PriceTable
from proxy.pipeline.upgrade import UpgradeOption, best_option
from proxy.storage.store import Store


@dataclass(frozen=True)
class Savings:
    """A local answer's avoided cloud call: which model, and its estimated cost."""

    model: str
    basis: str  # "upgrade": the option the upgrade would have taken; "routing": the model `cloud` would use
    input_tokens: int
    output_tokens: int
    estimated_cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        """The "savings" entry of the "hermes" field."""
        return {"model": self.model, "basis": self.basis, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "estimated_cost_usd": round(self.estimated_cost_usd, 8)}


async def estimate_savings(
    chat: ChatRequest,
    task_type: str,
    options: Sequence[UpgradeOption],
    target_quality: float,
    allowed: Sequence[ModelRef],
    prices: PriceTable,
    store: Store,
) -> Savings | None:
    """What the local answer to `chat` (an `auto` request) saved, or None when no cloud model was an option.

    `options`: the upgrades the cascade priced (may be empty); `allowed`: the
    cloud models `cloud` may use for it (tier_models), in order of preference.
    """
    best = best_option(options, target_quality)
    if best is not None:
        return Savings(best.model, "upgrade", best.input_tokens, best.output_tokens, best.estimated_cost_usd)
    if not allowed:
        return None
    model = allowed[0]  # as cascade.choose_target picks for `cloud`
    input_tokens = await count_input_tokens_off_loop(model.litellm_model, chat.messages, chat.params.get("tools"),
                                                     chat.fingerprints)
    output_tokens, _ = estimate_output(task_type, await store.learned(task_type, model.name))
    cost = prices.price(model.name).cost_usd(input_tokens, output_tokens)
    return Savings(model.name, "routing", input_tokens, output_tokens, cost)
