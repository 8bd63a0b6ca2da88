"""After a crash or a cut: ask OpenRouter what the calls charged at their worst case really cost.

At start-up, calls whose process died mid-call are charged at their
reserved worst case (store.charge_abandoned_reservations), as were calls
cut off before their usage came (a timeout, a shutdown). OpenRouter keeps
a record of each generation, by the id its stream began with; where that
record gives a cost, it replaces the worst case: what OpenRouter billed is
what the user pays, above the reservation too (never below zero). Anything
that goes wrong here leaves the worst case standing.
"""

from __future__ import annotations

import logging
import math

import httpx

from proxy.config import Config
from proxy.errors import HermesError
from proxy.storage.store import Store

log = logging.getLogger("hermes")
LOOKUP_TIMEOUT_S = 5.0


async def reconcile_unknown_outcomes(store: Store, client: httpx.AsyncClient, config: Config) -> int:
    """Reconcile what can be; the number of calls whose charge OpenRouter's record replaced."""
    if config.openrouter_api_key is None:
        return 0
    reconciled = 0
    try:
        for row in await store.unknown_outcomes():
            cost = await generation_cost(client, config, row["generation_id"])
            if cost is not None:
                await store.reconcile(row["id"], max(cost, 0.0), cost)
                reconciled += 1
    except HermesError as exc:  # the database is busy or gone: the worst cases stand
        log.warning("Could not reconcile calls cut short: %s", exc.message)
    if reconciled:
        log.info("Reconciled %d calls cut short with OpenRouter's record of their cost", reconciled)
    return reconciled


async def generation_cost(client: httpx.AsyncClient, config: Config, generation_id: str) -> float | None:
    """`total_cost` of one generation (OpenRouter's GET /generation?id=), or None if it cannot be had."""
    assert config.openrouter_api_key is not None
    try:
        response = await client.get(
            f"{config.openrouter_api_base}/generation", params={"id": generation_id}, timeout=LOOKUP_TIMEOUT_S,
            headers={"Authorization": f"Bearer {config.openrouter_api_key.reveal()}"})
        response.raise_for_status()
        cost = response.json()["data"]["total_cost"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        log.info("No cost from OpenRouter for %s (%s): it stays charged at its worst case", generation_id, exc)
        return None
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost):
        return None
    return float(cost)
