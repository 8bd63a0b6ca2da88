"""Upgrade options: which cloud models a task may use, what each would cost for it, and what it would buy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from proxy.chat import ChatRequest
from proxy.config import Config, ModelRef
from proxy.money.cache_use import CacheUse, assumed, from_turns
from proxy.money.estimate import count_input_tokens_off_loop, estimate_output
from proxy.money.pricing import Price, PriceTable
from proxy.pipeline.session import Conversation, SessionImpact, growth_per_turn, session_impact
from proxy.storage.store import Store


@dataclass(frozen=True)
class UpgradeOption:
    model: str
    input_tokens: int  # exact, the whole conversation as this model counts it
    output_tokens: int  # learned per (task type, model)
    estimated_cost_usd: float
    expected_quality: float  # the model's quality prior
    quality_gain: float  # over the best local answer
    cost_per_quality_point_usd: float | None  # None when it gains nothing
    confidence: float
    session: SessionImpact

    def header(self) -> str:
        """The `X-Hermes-Upgrade` value."""
        return (f"{self.model}; cost_usd={self.estimated_cost_usd:.6f}; quality={self.expected_quality:.1f}; "
                f"confidence={self.confidence:.2f}")

    def as_dict(self) -> dict[str, Any]:
        return _rounded(asdict(self))


@dataclass(frozen=True)
class TierModels:
    """The cloud models a request's task tier may use, within what the budget tier allows, and why."""

    models: tuple[ModelRef, ...]
    reason: str  # for the decision, e.g. "task tier smart allows claude-3.5-sonnet, claude-3-opus"; "" when none


def tier_models(config: Config, tier: str, allowed: Sequence[ModelRef]) -> TierModels:
    """Those of `allowed` (what the budget tier allows) that classification tier `tier` may use (`cloud.tiers`).

    In the tier's order of preference. When the budget tier allows none of
    the task tier's models, all of `allowed`, and the reason says so: the
    budget tier is the user's rule about money, so within it a cloud answer
    from a model the task would not have chosen still beats none (or the
    local answer that already fell short). Empty when `allowed` is.
    """
    if not allowed:
        return TierModels((), "")
    wanted = config.routing.cloud.tiers.get(tier, "any")
    if wanted == "any":
        return TierModels(tuple(allowed), f"task tier {tier}: any cloud model")
    by_name = {m.name: m for m in allowed}
    models = tuple(by_name[name] for name in wanted if name in by_name)
    said = f"task tier {tier} allows {', '.join(wanted)}"
    if not models:
        return TierModels(tuple(allowed), f"{said}, none of which the budget tier allows: "
                                          f"using what it allows ({_names(allowed)})")
    if len(models) < len(wanted):
        return TierModels(models, f"{said}; the budget tier leaves {_names(models)}")
    return TierModels(models, said)


async def upgrade_options(
    models: Sequence[ModelRef],
    chat: ChatRequest,
    task_type: str,
    best_local_score: float,
    prices: PriceTable,
    store: Store,
    conversation: Conversation,
    remaining_turns: int,
    turns: Sequence[dict[str, Any]] = (),
) -> list[UpgradeOption]:
    """An option per cloud model in `models` (`tier_models`: the task tier's, within the budget tier), in their order.

    `turns`: the session's requests so far (store.session_turns), which say how it grows and uses the cache.
    """
    options = []
    for model in models:
        input_tokens = await count_input_tokens_off_loop(model.litellm_model, chat.messages, chat.params.get("tools"),
                                                         chat.fingerprints)
        counted = await store.input_ratio(model.name)  # as the provider will count them (meter.py learns it)
        billed_input = round(input_tokens * counted[1]) if counted else input_tokens
        learned = await store.learned(task_type, model.name)
        output_tokens, confidence = estimate_output(task_type, learned)
        price = prices.price(model.name)
        session = session_impact(model.name, price, billed_input, output_tokens, conversation, remaining_turns,
                                 await cache_use_for(store, conversation.client, model.name, turns, price),
                                 growth_per_turn(turns), on_model=bool(turns) and turns[-1]["model"] == model.name)
        cost = session.single_task_cost_usd  # this turn on it: its context written to the cache, as the meter says
        gain = model.quality_prior - best_local_score
        options.append(UpgradeOption(
            model=model.name,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            estimated_cost_usd=cost,
            expected_quality=model.quality_prior,
            quality_gain=gain,
            cost_per_quality_point_usd=cost / gain if gain > 0 else None,
            confidence=confidence,
            session=session,
        ))
    return options


async def cache_use_for(store: Store, client: str, model: str, turns: Sequence[dict[str, Any]],
                        price: Price) -> CacheUse:
    """How this conversation will use `model`'s prompt cache: as its own turns on it did, else as its agent
    (`client`) did on it before, else as far as the model's prices allow (cache_use.py)."""
    learned = from_turns(model, turns)
    if learned is not None:
        return learned
    row = await store.cache_use(client, model)
    return CacheUse(row["read_ratio"], row["write_ratio"], row["turns"]) if row else assumed(price)


async def cache_context(store: Store, conversation: Conversation, model: str, price: Price) -> tuple[int, CacheUse]:
    """For the meter's estimate of a call to `model`: what the session's turn before sent on it (0: it was not on
    `model`, so this call writes its context to the cache) and how the session uses the cache."""
    # A session new with this request has no turns yet: not looked for (a read less on most one-shot calls).
    turns = await store.session_turns(conversation.session_id, limit=10) if conversation.resumed else []
    previous = int(turns[-1]["input_tokens"]) if turns and turns[-1]["model"] == model else 0
    return previous, await cache_use_for(store, conversation.client, model, turns, price)


def best_option(options: Sequence[UpgradeOption], target_quality: float) -> UpgradeOption | None:
    """The cheapest option expected to reach the target; failing that, the one expected to do best."""
    reaching = [o for o in options if o.expected_quality >= target_quality]
    if reaching:
        return min(reaching, key=lambda o: o.estimated_cost_usd)
    return max(options, key=lambda o: o.expected_quality, default=None)


def _names(models: Sequence[ModelRef]) -> str:
    return ", ".join(m.name for m in models)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 8)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value
