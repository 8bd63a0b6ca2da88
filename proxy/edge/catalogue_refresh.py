"""OpenRouter's model catalogue kept current while Hermes runs: fetched in the background, kept in the database.

At start the copy kept in the database (if any) prices calls at once; the
list is fetched from OpenRouter (`GET {cloud api_base}/models`, no key
needed) when that copy is older than `cloud.catalogue_refresh_h`, then again
every `catalogue_refresh_h`. Start-up never waits on it and works offline: a
fetch that fails is one warning line, prices stay where they were (the last
copy, else litellm's table), and it is tried again an hour later. A new
catalogue is installed like a reloaded configuration (reload.py): requests
in flight finish on the prices they started with.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx

from proxy.config import Config
from proxy.edge.reload import repriced
from proxy.errors import HermesError
from proxy.money.budget import Clock
from proxy.money.catalogue import Catalogue, from_json, parse
from proxy.pipeline.services import Services
from proxy.storage.store import Store

log = logging.getLogger("hermes")
FETCH_TIMEOUT_S = 30.0
RETRY_S = 3600.0  # after a failed fetch


async def saved(store: Store) -> Catalogue | None:
    """The copy kept in the database, or None (none yet, or unreadable: logged)."""
    try:
        stored = await store.saved_catalogue()
        return from_json(stored) if stored else None
    except (HermesError, ValueError, KeyError, TypeError) as exc:
        log.warning("Could not read the saved OpenRouter catalogue (%s): prices come from litellm's table",
                    getattr(exc, "message", exc))
        return None


async def fetch(client: httpx.AsyncClient, config: Config) -> Catalogue | None:
    """OpenRouter's model list now, or None (one warning line saying why)."""
    url = f"{config.openrouter_api_base}/models"
    try:
        response = await client.get(url, timeout=FETCH_TIMEOUT_S)
        if response.status_code != 200:
            raise ValueError(f"it answered {response.status_code}")
        return parse(response.json(), time.time())
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("Could not fetch OpenRouter's model list from %s (%s): prices stay as they are; "
                    "trying again in an hour", url, str(exc) or type(exc).__name__)
        return None


def with_catalogue(services: Services, catalogue: Catalogue, clock: Clock) -> Services:
    """`services` pricing from `catalogue` (with the same YAML overrides and fallback)."""
    return repriced(services, services.prices.with_catalogue(services.config, catalogue), clock)


async def keep_current(current: Callable[[], Services], install: Callable[[Services], None], clock: Clock) -> None:
    """Until cancelled: fetch the catalogue whenever the copy in force is older than `catalogue_refresh_h`."""
    async with httpx.AsyncClient() as client:
        while True:
            refresh_s = current().config.catalogue_refresh_h * 3600  # a reloaded file's setting applies
            if refresh_s <= 0:
                return
            catalogue = current().prices.catalogue
            age_s = time.time() - catalogue.fetched_at if catalogue else refresh_s
            await asyncio.sleep(max(refresh_s - age_s, 0.0))
            fetched = await fetch(client, current().config)
            if fetched is None:
                await asyncio.sleep(RETRY_S)
                continue
            try:
                await current().store.save_catalogue(fetched.to_json())
            except HermesError as exc:  # kept in memory all the same; the next start fetches again
                log.warning("Could not save OpenRouter's model list: %s", exc.message)
            install(with_catalogue(current(), fetched, clock))
            log.info("Prices now from OpenRouter's catalogue of %s (%d models)", fetched.date, len(fetched.models))
