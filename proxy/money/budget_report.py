"""What `hermes budget` reports: today's money, from the running proxy or from its database file.

The running proxy is asked first (`GET /api/v1/costs/analysis`): it is what
refuses or serves the next request, whichever file it uses. The file is read
only when asked to or when nothing answers at the proxy's address, and only
if it exists: reading a file that is not there would create an empty one and
report a full budget. Either way the command answers in a fraction of a
second: the proxy is asked with the standard library's HTTP client, and the
file path imports nothing of the serving stack (litellm, tiktoken,
starlette; prices come from litellm's bundled file, PriceTable.for_reports).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxy.config import Config
    from proxy.money.budget import Clock

COSTS_PATH = "/api/v1/costs/analysis"
PROXY_TIMEOUT_S = 10.0


class ReportError(Exception):
    """The figures could not be read; the message says why and what to do."""


class ProxyDown(ReportError):
    """Nothing answers at the proxy's address."""


def proxy_report(url: str, headers: dict[str, str], now: datetime | None = None) -> dict[str, Any]:
    """Today's money as the proxy at `url` reports it, in `budget_report`'s shape, with "source": "proxy".

    Raises ProxyDown when nothing answers there, ReportError when it answers but not with the figures.
    The local success rate is not among the proxy's money figures (`hermes stats` has it): None here.
    """
    status, body = _get(url, COSTS_PATH, headers)
    if status == 401:
        raise ReportError(f"Hermes at {url} refused the key (401): set HERMES_API_KEY to the key it was started with.")
    try:
        data = json.loads(body) if status == 200 else None
        resets_at = datetime.fromisoformat(data["resets_at"]) if data else None
    except (ValueError, KeyError, TypeError):
        data = resets_at = None
    if data is None or resets_at is None:
        raise ReportError(f"Something answers at {url}, but not with Hermes's figures "
                          f"(GET {COSTS_PATH}: HTTP {status}). Is HERMES_URL (or HERMES_PORT) right?")
    now = now or datetime.now().astimezone()
    return {
        "source": "proxy",
        "url": url,
        "day": data["day"],
        "spent_usd": data["spent_usd"],
        "reserved_usd": data["reserved_usd"],
        "limit_usd": data["limit_usd"],
        "remaining_usd": data["remaining_usd"],
        "tier": data["tier"],
        "allowed_models": data["allowed_models"],
        "resets_at": data["resets_at"],
        "resets_in_s": int((resets_at - now).total_seconds()),
        "by_model": data["by_model"],
        "savings": data.get("savings"),  # None from a proxy that predates savings
        "by_key": data.get("by_key", []),
        "stale_prices": data.get("stale_prices", []),
        "overrides": data.get("overrides", []),
        "local_success_rate": None,
        "local_tries": None,
    }


async def budget_report(config: Config, clock: Clock | None = None) -> dict[str, Any]:
    """Today's spend, remaining, tier, time to reset, spend by model, savings, local success rate, from the file.

    Raises ReportError, and creates nothing, when the file does not exist.
    """
    from proxy.config import is_postgres
    from proxy.errors import StoreUnavailable
    from proxy.money.budget import Budget, system_clock
    from proxy.money.catalogue import from_json
    from proxy.money.preferences import Preferences
    from proxy.money.pricing import PriceTable
    from proxy.storage import reports
    from proxy.storage.database import describe
    from proxy.storage.store import Store

    clock = clock or system_clock
    if not is_postgres(config.database) and not Path(config.database).is_file():
        raise ReportError(f"There is no Hermes database at {config.database} (nothing has been recorded there).")
    try:
        store = await Store.open(config.database)
    except StoreUnavailable as exc:
        raise ReportError(exc.message) from None
    try:
        preferences = await Preferences.load(config, store)
        stored = await store.saved_catalogue()
        prices = PriceTable.for_reports(config, from_json(stored) if stored else None)
        budget = Budget(config.budget, store, prices, config.cloud_models, clock,
                        lambda: preferences.current.daily_limit_usd)
        status = await budget.status()
        accepted, tried = await store.local_acceptance()
        return {
            "source": "database",
            "database": describe(config.database),
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
            "savings": await reports.saved_today(store, status.resets_at),
            "by_key": await reports.spend_by_key(store, status.day),
            "prices": prices.source,
            "stale_prices": await store.stale_prices(),
            "overrides": preferences.overrides_list(),
            "local_success_rate": round(accepted / tried, 4) if tried else None,
            "local_tries": tried,
        }
    finally:
        await store.close()


def _get(url: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """(status, body) of GET url+path. http.client rather than httpx: a tenth of the import time,
    and no HTTP(S)_PROXY variables to send a loopback request elsewhere."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReportError(f"{url!r} is not an http(s) URL (HERMES_URL).")
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname, parts.port, timeout=PROXY_TIMEOUT_S)
    try:
        connection.request("GET", parts.path.rstrip("/") + path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except TimeoutError:
        raise ReportError(f"Hermes at {url} did not answer within {PROXY_TIMEOUT_S:.0f} s; "
                          "`hermes budget --offline` reads its database file instead.") from None
    except http.client.HTTPException as exc:
        raise ReportError(f"Something answers at {url}, but not as Hermes does: {exc!r}.") from None
    except OSError:  # refused, unreachable, reset: nothing serves there
        raise ProxyDown(f"Hermes is not running at {url}.") from None
    finally:
        connection.close()
