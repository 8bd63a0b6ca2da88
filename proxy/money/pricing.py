"""What each model costs: litellm's price table, YAML overrides, and the cost of a call.

Built once at start-up; a cloud model with no price stops start-up, because a
budget that cannot price a call cannot hold.

litellm is imported only when its live table is asked for: importing it takes
about 4 s, which `hermes budget` must not pay just to name the cheapest model.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config import Config
from proxy.config_schema import CloudModelSpec
from proxy.errors import ConfigError

PER_MTOK = 1_000_000
BUNDLED_COST_MAP = "model_prices_and_context_window_backup.json"
log = logging.getLogger("hermes")


@dataclass(frozen=True)
class Price:
    """USD per token; `cache_read` where the model discounts cached input."""

    input_usd: float
    output_usd: float
    cache_read_usd: float | None = None
    max_output_tokens: int | None = None

    def cost_usd(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """The cost of a call; `cached_tokens` of the input are billed at the cache-read price."""
        cached = min(cached_tokens, input_tokens) if self.cache_read_usd is not None else 0
        return (
            (input_tokens - cached) * self.input_usd
            + cached * (self.cache_read_usd or 0.0)
            + output_tokens * self.output_usd
        )


FREE = Price(0.0, 0.0, 0.0)


class PriceTable:
    """Prices by model short name. Local models are free."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)

    @classmethod
    def from_config(cls, config: Config, table: Mapping[str, Any] | None = None) -> PriceTable:
        """Price every cloud model in `config` from `table` (litellm's by default) and the YAML."""
        table = live_cost_map() if table is None else table
        prices = {model.name: FREE for model in config.local_models}
        for spec in config.routing.cloud.models:
            prices[spec.name] = _price(spec, table)
        return cls(prices)

    @classmethod
    def for_reports(cls, config: Config) -> PriceTable:
        """Prices for reading the ledger, without importing litellm when its bundled table suffices.

        The bundled file is what litellm itself loads offline; only a model it
        lacks (one litellm fetched from its online table) costs the import.
        """
        try:
            return cls.from_config(config, bundled_cost_map())
        except (ConfigError, OSError, ValueError):
            return cls.from_config(config)

    def price(self, name: str) -> Price:
        return self._prices[name]

    def cheapest(self, names: Iterable[str]) -> str:
        """The name whose input plus output price per token is lowest."""
        return min(names, key=lambda name: self._prices[name].input_usd + self._prices[name].output_usd)

    def actual_cost_usd(self, name: str, usage: Mapping[str, Any]) -> float:
        """What a call cost: the upstream's own `usage.cost` when it gives a sane one, else the table's.

        A negative or non-finite cost is no cost at all: the tokens are priced
        instead. One above the table price is the bill all the same (budget.py).
        """
        reported = usage.get("cost")
        if isinstance(reported, (int, float)) and not isinstance(reported, bool):
            if math.isfinite(reported) and reported >= 0:
                return float(reported)
            log.warning("%s: upstream reported a cost of %r; pricing its tokens instead", name, reported)
        return self.priced_usd(name, usage)

    def priced_usd(self, name: str, usage: Mapping[str, Any]) -> float:
        """A call's tokens at the table price (cached input at the cache price)."""
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        return self.price(name).cost_usd(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                                         int(cached))


def live_cost_map() -> Mapping[str, Any]:
    """litellm's `model_cost`: its online table, or its bundled one when offline (LITELLM_LOCAL_MODEL_COST_MAP)."""
    import litellm

    return litellm.model_cost


def bundled_cost_map() -> dict[str, Any]:
    """The price file litellm ships, read as JSON; finding it does not import litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise OSError("litellm is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((folder / BUNDLED_COST_MAP).read_text(encoding="utf-8"))


def _price(spec: CloudModelSpec, table: Mapping[str, Any]) -> Price:
    key = spec.price_model or f"openrouter/{spec.slug}"
    entry = table.get(key) or {}
    input_usd = _per_token(spec.input_usd_per_mtok, entry.get("input_cost_per_token"))
    output_usd = _per_token(spec.output_usd_per_mtok, entry.get("output_cost_per_token"))
    if input_usd is None or output_usd is None:
        raise ConfigError(
            f"routing_rules.yaml: cloud model {spec.name!r} has no price: litellm's table has no {key!r}; "
            "set price_model to a litellm model name, or input_usd_per_mtok and output_usd_per_mtok"
        )
    return Price(
        input_usd=input_usd,
        output_usd=output_usd,
        cache_read_usd=_per_token(spec.cache_read_usd_per_mtok, entry.get("cache_read_input_token_cost")),
        max_output_tokens=spec.max_output_tokens or entry.get("max_output_tokens"),
    )


def _per_token(per_mtok: float | None, from_table: Any) -> float | None:
    if per_mtok is not None:
        return per_mtok / PER_MTOK
    return float(from_table) if isinstance(from_table, (int, float)) else None
