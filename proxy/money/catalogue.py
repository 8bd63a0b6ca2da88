"""OpenRouter's model catalogue (`GET /api/v1/models`): today's models, their prices and limits.

Read from the JSON OpenRouter publishes, keeping only what Hermes uses, so
the copy kept in the database (storage/store_catalogue.py) stays small: per
model its prices per token (input, output, cache reads, cache writes, per
request), context length, output limit and the parameters it takes.

An entry that does not price its tokens as plain non-negative numbers (a
router such as `openrouter/auto` lists "-1") is left out: Hermes cannot
reserve for a call whose price it does not know.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Listed:
    """One model as the catalogue lists it; prices in USD per token."""

    slug: str
    input_usd: float
    output_usd: float
    cache_read_usd: float | None = None
    cache_write_usd: float | None = None
    request_usd: float = 0.0
    context_length: int | None = None
    max_output_tokens: int | None = None
    supported_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """The models OpenRouter offered at `fetched_at` (seconds since the epoch)."""

    fetched_at: float
    models: Mapping[str, Listed]

    @property
    def date(self) -> str:
        """When it was fetched, as a UTC date (what `hermes budget` and /v1/models say)."""
        return datetime.fromtimestamp(self.fetched_at, timezone.utc).strftime("%Y-%m-%d")

    def get(self, slug: str) -> Listed | None:
        return self.models.get(slug)

    def to_json(self) -> dict[str, Any]:
        """What the database keeps: the fields Hermes uses, in `parse`'s shape."""
        return {"fetched_at": self.fetched_at, "data": [_stored(listed) for listed in self.models.values()]}


def parse(body: Any, fetched_at: float) -> Catalogue:
    """The catalogue in OpenRouter's response `body` ({"data": [model, ...]}); ValueError when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError('not a model list: expected {"data": [...]}')
    models = {}
    for entry in body["data"]:
        listed = _listed(entry)
        if listed is not None:
            models[listed.slug] = listed
    if not models:
        raise ValueError("the model list prices no model")
    return Catalogue(fetched_at, models)


def from_json(stored: dict[str, Any]) -> Catalogue:
    """A catalogue as `Catalogue.to_json` kept it."""
    return parse(stored, float(stored["fetched_at"]))


def _listed(entry: Any) -> Listed | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("pricing"), dict):
        return None
    pricing = entry["pricing"]
    input_usd, output_usd = _usd(pricing.get("prompt")), _usd(pricing.get("completion"))
    if input_usd is None or output_usd is None:
        return None
    provider = entry.get("top_provider") if isinstance(entry.get("top_provider"), dict) else {}
    parameters = entry.get("supported_parameters")
    return Listed(
        slug=entry["id"],
        input_usd=input_usd,
        output_usd=output_usd,
        cache_read_usd=_usd(pricing.get("input_cache_read")),
        cache_write_usd=_usd(pricing.get("input_cache_write")),
        request_usd=_usd(pricing.get("request")) or 0.0,
        context_length=_count(entry.get("context_length")),
        max_output_tokens=_count(provider.get("max_completion_tokens")),
        supported_parameters=tuple(p for p in parameters if isinstance(p, str)) if isinstance(parameters, list) else (),
    )


def _usd(value: Any) -> float | None:
    """A price as OpenRouter writes it (a decimal string, "0.000003"); None when absent or not a price."""
    if isinstance(value, bool):
        return None
    try:
        usd = float(value)
    except (TypeError, ValueError):
        return None
    return usd if math.isfinite(usd) and usd >= 0 else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _stored(listed: Listed) -> dict[str, Any]:
    """`listed` back in OpenRouter's shape, so a stored copy is read by the same `parse`."""
    fields = asdict(listed)
    pricing = {"prompt": fields["input_usd"], "completion": fields["output_usd"], "request": fields["request_usd"],
               "input_cache_read": fields["cache_read_usd"], "input_cache_write": fields["cache_write_usd"]}
    return {"id": listed.slug, "pricing": {k: v for k, v in pricing.items() if v is not None},
            "context_length": listed.context_length,
            "top_provider": {"max_completion_tokens": listed.max_output_tokens},
            "supported_parameters": list(listed.supported_parameters)}
