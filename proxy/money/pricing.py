"""What each model costs: OpenRouter's catalogue, litellm's table, YAML overrides, and the cost of a call.

Each cloud model's price comes, field by field, from routing_rules.yaml if
it sets one, else from OpenRouter's catalogue (money/catalogue.py: fetched
in the background, kept in the database), else from the table litellm
ships. A model none of them prices is refused for cloud calls
(UnpricedModel), never reserved at $0; start-up only warns, since a
catalogue fetched later may price it. A new catalogue gives a new table
(edge/catalogue_refresh.py installs it like a reloaded configuration).

litellm is imported only when its live table is asked for: importing it takes
about 4 s, which `hermes budget` must not pay just to name the cheapest model.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config import Config, ModelRef
from proxy.config_schema import CloudModelSpec
from proxy.errors import UnpricedModel
from proxy.money.catalogue import Catalogue, Listed

PER_MTOK = 1_000_000
BUNDLED_COST_MAP = "model_prices_and_context_window_backup.json"
YAML_SOURCE = "routing_rules.yaml"
# A model asked for by its OpenRouter slug has no quality prior of the user's: it is called, not weighed
# against others, so this only fills the record.
LISTED_QUALITY_PRIOR = 8.0
log = logging.getLogger("hermes")


@dataclass(frozen=True)
class Price:
    """USD per token; `cache_read` and `cache_write` where the model prices cached input apart."""

    input_usd: float
    output_usd: float
    cache_read_usd: float | None = None
    max_output_tokens: int | None = None
    cache_write_usd: float | None = None
    request_usd: float = 0.0  # a fee per call, where the catalogue lists one
    context_length: int | None = None
    source: str = ""  # where the input and output prices came from (`PriceTable.source`)

    def cost_usd(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0, written_tokens: int = 0) -> float:
        """The cost of a call; of its `input_tokens`, `cached_tokens` were read from the provider's prompt
        cache and `written_tokens` written to it, each billed at its own price where the model has one."""
        cached = min(cached_tokens, input_tokens) if self.cache_read_usd is not None else 0
        written = min(written_tokens, input_tokens - cached) if self.cache_write_usd is not None else 0
        return (
            (input_tokens - cached - written) * self.input_usd
            + cached * (self.cache_read_usd or 0.0)
            + written * (self.cache_write_usd or 0.0)
            + output_tokens * self.output_usd
            + self.request_usd
        )


def per_mtok_prices(price: Price) -> dict[str, float | None]:
    """A price's four token prices in USD per million tokens, as the API shows them."""
    return {"input_usd_per_mtok": per_mtok(price.input_usd), "output_usd_per_mtok": per_mtok(price.output_usd),
            "cache_read_usd_per_mtok": per_mtok(price.cache_read_usd),
            "cache_write_usd_per_mtok": per_mtok(price.cache_write_usd)}


FREE = Price(0.0, 0.0, 0.0, source="local")


class PriceTable:
    """Prices by model short name (or, for a model only the catalogue lists, its slug). Local models are free."""

    def __init__(self, prices: Mapping[str, Price], catalogue: Catalogue | None = None,
                 missing: Mapping[str, str] | None = None, fallback: str = "",
                 table: Mapping[str, Any] | None = None) -> None:
        self._prices = dict(prices)
        self._table = table  # litellm's, as from_config was given it: with_catalogue prices from it again
        self.catalogue = catalogue
        self._missing = dict(missing or {})  # model -> why it has no price
        self.fallback = fallback or litellm_table_name()

    @classmethod
    def from_config(cls, config: Config, table: Mapping[str, Any] | None = None,
                    catalogue: Catalogue | None = None) -> PriceTable:
        """Price every cloud model in `config` from the YAML, `catalogue` and `table` (litellm's by default)."""
        table = live_cost_map() if table is None else table
        prices = {model.name: FREE for model in config.local_models}
        missing = {}
        for spec in config.routing.cloud.models:
            price = _price(spec, catalogue.get(spec.slug) if catalogue else None, table, catalogue)
            if isinstance(price, Price):
                prices[spec.name] = price
            else:
                missing[spec.name] = price
                log.warning("%s", price)
        return cls(prices, catalogue, missing, table=table)

    def with_catalogue(self, config: Config, catalogue: Catalogue) -> PriceTable:
        """This table's prices again, with `catalogue` between the YAML and litellm's table."""
        return PriceTable.from_config(config, self._table, catalogue)

    @classmethod
    def for_reports(cls, config: Config, catalogue: Catalogue | None = None) -> PriceTable:
        """Prices for reading the ledger, without importing litellm when its bundled table suffices.

        The bundled file is what litellm itself loads offline; only a model it
        lacks (one litellm fetched from its online table) costs the import.
        """
        try:
            return cls.from_config(config, bundled_cost_map(), catalogue)
        except (OSError, ValueError):
            return cls.from_config(config, catalogue=catalogue)

    def price(self, name: str) -> Price:
        """`name`'s price; UnpricedModel (saying what to do) when nothing prices it."""
        found = self._prices.get(name)
        if found is not None:
            return found
        listed = self.catalogue.get(name) if self.catalogue else None
        if listed is not None:
            return _from_catalogue(listed, self.catalogue)
        raise UnpricedModel(self._missing.get(name) or f"{name} has no known price: {self._where()}")

    def priced(self, name: str) -> bool:
        return name in self._prices or bool(self.catalogue and self.catalogue.get(name))

    def listed(self, slug: str) -> Listed | None:
        """The catalogue's entry for `slug`: a model any request may name, though routing_rules.yaml does not."""
        return self.catalogue.get(slug) if self.catalogue else None

    def listed_model(self, slug: str) -> ModelRef | None:
        """A model routing_rules.yaml does not configure but the catalogue lists, as a request may name it by slug."""
        if self.listed(slug) is None:
            return None
        return ModelRef(slug, "cloud", f"openrouter/{slug}", LISTED_QUALITY_PRIOR)

    @property
    def source(self) -> str:
        """Where prices come from, in words: `hermes budget`, /v1/models and the dashboard say it."""
        if self.catalogue is None:
            return f"{self.fallback} (OpenRouter's catalogue has not been fetched yet)"
        return f"OpenRouter's catalogue of {self.catalogue.date} ({self.fallback} for models it lacks)"

    def sources(self) -> dict[str, Any]:
        """The same as data: the catalogue's date, the fallback, and each configured cloud model's source."""
        return {"catalogue_fetched_at": self.catalogue.date if self.catalogue else None, "fallback": self.fallback,
                "models": {name: price.source for name, price in self._prices.items() if price.source != "local"}
                | {name: None for name in self._missing}}

    def cheapest(self, names: Iterable[str]) -> str | None:
        """The priced name whose input plus output price per token is lowest (None: none is priced)."""
        priced = [name for name in names if self.priced(name)]
        return min(priced, key=lambda name: self.price(name).input_usd + self.price(name).output_usd, default=None)

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
        """A call's tokens at the table price (cache reads and writes at theirs)."""
        read, written = cache_tokens(usage)
        return self.price(name).cost_usd(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                                         read, written)

    def _where(self) -> str:
        searched = f"OpenRouter's catalogue of {self.catalogue.date}" if self.catalogue else \
            "OpenRouter's catalogue (not fetched yet)"
        return (f"{searched} and {self.fallback} have none. Set input_usd_per_mtok and output_usd_per_mtok for "
                f"it in {YAML_SOURCE}, or ask for a model that has one.")


def per_mtok(usd_per_token: float | None) -> float | None:
    """A price per token as USD per million tokens, as prices are written (routing_rules.yaml, the API)."""
    return None if usd_per_token is None else round(usd_per_token * PER_MTOK, 6)


def cache_tokens(usage: Mapping[str, Any]) -> tuple[int, int]:
    """(read from, written to) the prompt cache, of a usage in chat's terms (wire/shadow.py's, OpenRouter's)."""
    details = usage.get("prompt_tokens_details") or {}
    if not isinstance(details, Mapping):
        return 0, 0
    return _tokens(details.get("cached_tokens")), _tokens(details.get("cache_write_tokens"))


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def litellm_table_name() -> str:
    """"litellm 1.100.5's table": the fallback, named with the version whose prices it holds."""
    try:
        return f"litellm {importlib.metadata.version('litellm')}'s table"
    except importlib.metadata.PackageNotFoundError:
        return "litellm's table"


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


def _price(spec: CloudModelSpec, listed: Listed | None, table: Mapping[str, Any],
           catalogue: Catalogue | None) -> Price | str:
    """`spec`'s price, field by field: the YAML's, else the catalogue's, else litellm's; or why there is none."""
    key = spec.price_model or f"openrouter/{spec.slug}"
    entry = table.get(key) or {}
    from_yaml = spec.input_usd_per_mtok is not None and spec.output_usd_per_mtok is not None
    input_usd = _first(_mtok(spec.input_usd_per_mtok), listed and listed.input_usd, entry.get("input_cost_per_token"))
    output_usd = _first(_mtok(spec.output_usd_per_mtok), listed and listed.output_usd,
                        entry.get("output_cost_per_token"))
    if input_usd is None or output_usd is None:
        searched = f"OpenRouter's catalogue of {catalogue.date}" if catalogue else \
            "OpenRouter's catalogue (not fetched yet)"
        return (f"{YAML_SOURCE}: cloud model {spec.name!r} has no price: {searched} has no {spec.slug!r} and "
                f"litellm's table no {key!r}. Set input_usd_per_mtok and output_usd_per_mtok for it (or price_model "
                "to a litellm model name); until then it is refused for cloud calls.")
    source = YAML_SOURCE if from_yaml else f"OpenRouter's catalogue of {catalogue.date}" if listed and catalogue \
        else litellm_table_name()
    return Price(
        input_usd=input_usd,
        output_usd=output_usd,
        cache_read_usd=_first(_mtok(spec.cache_read_usd_per_mtok), listed and listed.cache_read_usd,
                              entry.get("cache_read_input_token_cost")),
        cache_write_usd=_first(_mtok(spec.cache_write_usd_per_mtok), listed and listed.cache_write_usd,
                               entry.get("cache_creation_input_token_cost")),
        max_output_tokens=spec.max_output_tokens or (listed and listed.max_output_tokens) or entry.get("max_output_tokens"),
        request_usd=(listed.request_usd if listed else 0.0) if not from_yaml else 0.0,
        context_length=(listed and listed.context_length) or entry.get("max_input_tokens"),
        source=source,
    )


def _from_catalogue(listed: Listed, catalogue: Catalogue) -> Price:
    """The price of a model asked for by its OpenRouter slug, which routing_rules.yaml does not configure."""
    return Price(listed.input_usd, listed.output_usd, listed.cache_read_usd, listed.max_output_tokens,
                 listed.cache_write_usd, listed.request_usd, listed.context_length,
                 f"OpenRouter's catalogue of {catalogue.date}")


def _mtok(per_mtok: float | None) -> float | None:
    return None if per_mtok is None else per_mtok / PER_MTOK


def _first(*values: Any) -> float | None:
    """The first value that is a number (a price of 0 included)."""
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
