"""The database kept small while Hermes runs: old request detail folded into daily totals, hourly.

A minute after start and then every hour, detail from before the start of
the UTC day `server.retention_days` ago is folded and deleted
(storage/retention.py), answer links past the session idle timeout expire,
and the space is given back (SQLite: incremental vacuum, then the WAL
emptied). Each batch is a short transaction, so requests go on meanwhile;
a failure is one warning line and the next hour tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from proxy.config import Config
from proxy.errors import HermesError
from proxy.money.budget import Clock
from proxy.pipeline.services import Services
from proxy.storage.retention import Pruned
from proxy.storage.store import Store

log = logging.getLogger("hermes")
FIRST_S = 60.0  # after start: start-up and the first requests go first
EVERY_S = 3600.0


def cutoff(now: datetime, retention_days: int) -> str:
    """The start of the UTC day `retention_days` before `now`: whole days are folded, never part of one."""
    day = (now.astimezone(timezone.utc) - timedelta(days=retention_days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).isoformat()


async def prune_once(store: Store, config: Config, now: datetime) -> Pruned | None:
    """One pass at `now`; None when `server.retention_days` is off (null)."""
    days = config.routing.server.retention_days
    if days is None:
        return None
    links_before = (now - timedelta(seconds=config.budget.session.idle_timeout_s)).isoformat()
    pruned = await store.prune(cutoff(now, days), links_before, keep_tries=config.routing.cascade.skip_window)
    if pruned.total:
        await store.reclaim()
        log.info("Retention: folded request detail from before %s into daily totals (%s)", cutoff(now, days)[:10],
                 ", ".join(f"{table} {n:,}" for table, n in pruned.counts.items() if n))
    return pruned


async def keep_small(current: Callable[[], Services], clock: Clock) -> None:
    """Until cancelled: a pass a minute after start, then every hour, with the settings in force then."""
    await asyncio.sleep(FIRST_S)
    while True:
        services = current()
        try:
            await prune_once(services.store, services.config, clock())
        except HermesError as exc:  # the database is unavailable for now: the next hour tries again
            log.warning("Retention pass failed: %s", exc.message)
        except Exception:  # a bug here must not end the job, nor reach a request
            log.exception("Retention pass failed")
        await asyncio.sleep(EVERY_S)
