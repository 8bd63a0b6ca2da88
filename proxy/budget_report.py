"""What `hermes budget` reports: today's money read straight from the store.

It reads the SQLite file directly, so it works whether or not the proxy runs,
and imports nothing of the serving stack (litellm, tiktoken, starlette): the
prices come from litellm's bundled file (PriceTable.for_reports), so the
command answers in a fraction of a second.
"""

from __future__ import annotations

from typing import Any

from proxy.budget import Budget, Clock, system_clock
from proxy.config import Config
from proxy.preferences import Preferences
from proxy.pricing import PriceTable
from proxy.store import Store


async def budget_report(config: Config, clock: Clock = system_clock) -> dict[str, Any]:
    """Today's spend, remaining, tier, time to reset, spend by model, local success rate."""
    store = await Store.open(config.database)
    try:
        preferences = await Preferences.load(config, store)
        prices = PriceTable.for_reports(config)
        budget = Budget(config.budget, store, prices, config.cloud_models, clock,
                        lambda: preferences.current.daily_limit_usd)
        status = await budget.status()
        accepted, tried = await store.local_acceptance()
        return {
            "day": status.day,
            "spent_usd": round(status.spent_usd, 6),
            "reserved_usd": round(status.reserved_usd, 6),
            "limit_usd": status.limit_usd,
            "remaining_usd": round(status.remaining_usd, 6),
            "tier": status.tier_name,
            "allowed_models": [m.name for m in budget.allowed_models(status)],
            "resets_at": status.resets_at.isoformat(),
            "resets_in_s": int((status.resets_at - clock().astimezone(status.resets_at.tzinfo)).total_seconds()),
            "by_model": await store.spend_by_model(status.day),
            "local_success_rate": round(accepted / tried, 4) if tried else None,
            "local_tries": tried,
        }
    finally:
        await store.close()
