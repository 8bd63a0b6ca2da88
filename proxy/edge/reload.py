"""The YAML files re-read while Hermes runs: when one changes (checked every `CHECK_S`), or on SIGHUP.

The new files are validated first: a bad edit keeps the configuration in
force, and the log says why. What a reload changes is what the services are
built from: rules, models and prices, tiers and limits, the cascade's
settings, the policy, and which API overrides still win (preferences.py: a
file edited after an override wins). What it cannot change without a restart:
the address and port, the database, the embedded model and the workers (the
running ones are kept). A request in flight finishes on the services it
started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Callable

from proxy.config import BUDGETS_FILE, ROUTING_FILE, Config, load_config
from proxy.errors import ConfigError, HermesError
from proxy.money.budget import Budget, Clock
from proxy.money.meter import Meter
from proxy.money.preferences import Preferences
from proxy.money.pricing import PriceTable
from proxy.pipeline.classify import Classifier
from proxy.pipeline.services import Services

log = logging.getLogger("hermes")
CHECK_S = 2.0


def stamps(config: Config) -> tuple[float | None, ...]:
    """When each YAML file was last written (None: not there)."""
    def stamp(name: str) -> float | None:
        with contextlib.suppress(OSError):
            return (config.config_dir / name).stat().st_mtime
        return None

    return stamp(ROUTING_FILE), stamp(BUDGETS_FILE)


async def rebuilt(services: Services, clock: Clock) -> Services | None:
    """Services built from the files as they are now, or None (logged) when they are not valid."""
    running = services.config
    try:
        config = load_config(running.config_dir, os.environ)
        prices = PriceTable.from_config(config, catalogue=services.prices.catalogue)
    except ConfigError as exc:
        log.warning("The configuration files changed but are not valid, so the running configuration stays: %s", exc)
        return None
    # What a restart alone can change stays as it runs (the embedded model's address included); an edit of it
    # is said to wait for the next start, not silently taken for in force.
    for key in _restart_only_changes(running, config):
        log.warning("%s changed in %s: it takes effect at the next start (Hermes keeps the running value until "
                    "then)", key, ROUTING_FILE)
    config = dataclasses.replace(config, database=running.database, ollama_api_base=running.ollama_api_base,
                                 routing=config.routing.model_copy(update={
                                     "server": running.routing.server, "embedded_model": running.routing.embedded_model}))
    try:
        preferences = await Preferences.load(config, services.store, prune=True)
    except HermesError as exc:
        log.warning("Could not re-read the saved settings (%s): the running configuration stays", exc.message)
        return None
    log.info("Re-read %s and %s from %s: in force from the next request", ROUTING_FILE, BUDGETS_FILE,
             config.config_dir)
    return repriced(dataclasses.replace(services, config=config, preferences=preferences,
                                        classifier=Classifier(config.routing.classification)), prices, clock)


def _restart_only_changes(running: Config, edited: Config) -> list[str]:
    """The keys an edit changed that only a restart applies: `server.*`, `embedded_model.*`, `local.api_base`."""
    changed = [f"{section}.{key}" for section in ("server", "embedded_model")
               for key, value in getattr(edited.routing, section).model_dump().items()
               if getattr(getattr(running.routing, section), key) != value]
    if edited.routing.local.api_base != running.routing.local.api_base:
        changed.append("local.api_base")
    return changed


def repriced(services: Services, prices: PriceTable, clock: Clock) -> Services:
    """`services` with `prices`, and the budget and meter built on them (a reload, a new catalogue)."""
    preferences = services.preferences
    budget = Budget(services.config.budget, services.store, prices, services.config.cloud_models, clock,
                    lambda: preferences.current.daily_limit_usd)
    return dataclasses.replace(services, prices=prices,
                               meter=Meter(budget, prices, services.store, services.config.routing.local.max_tokens))


async def watch(current: Callable[[], Services], install: Callable[[Services], None], clock: Clock) -> None:
    """Until cancelled: rebuild the services when a file changes or SIGHUP comes, and install them."""
    seen = stamps(current().config)
    asked = asyncio.Event()
    loop = asyncio.get_running_loop()
    listening = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP")
    if listening:
        loop.add_signal_handler(signal.SIGHUP, asked.set)
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asked.wait(), CHECK_S)
            now = stamps(current().config)
            if not asked.is_set() and now == seen:
                continue
            asked.clear()
            seen = now
            services = await rebuilt(current(), clock)
            if services is not None:
                install(services)
    finally:
        if listening:
            loop.remove_signal_handler(signal.SIGHUP)
