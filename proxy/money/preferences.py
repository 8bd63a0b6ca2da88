"""Preferences a user may change while Hermes runs: target quality, upgrade policy, daily limit.

They start from the YAML files, are persisted in the store when changed, and
take effect on the next request: the pipeline and the budget read them from
the one `Preferences` object the app holds, never from module state.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

from proxy.config import Config
from proxy.errors import BadRequest
from proxy.storage.store import Store

log = logging.getLogger("hermes")

POLICIES = ("auto", "ask", "never")
# A daily limit past this is a typo (or a web page at work), not a budget.
MAX_DAILY_LIMIT_USD = 1_000_000.0


@dataclass(frozen=True)
class Settings:
    target_quality: float
    upgrade_policy: str
    daily_limit_usd: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Preferences:
    """The current settings; `update` validates, persists, then swaps them in."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self.current = settings

    @classmethod
    async def load(cls, config: Config, store: Store) -> Preferences:
        defaults = Settings(config.routing.cascade.target_quality, config.routing.upgrade_policy,
                            config.budget.daily_limit_usd)
        saved = await store.preferences()
        try:
            return cls(store, validate(defaults, saved) if saved else defaults)
        except BadRequest as exc:  # saved by a version that let NaN or Infinity through
            log.warning("Ignoring the saved preferences, which are not valid: %s", exc.message)
            return cls(store, defaults)

    async def update(self, changes: Any) -> Settings:
        """Apply `changes` (a JSON object); BadRequest names the first bad key and changes nothing."""
        settings = validate(self.current, changes)
        await self._store.save_preferences(settings.as_dict())
        self.current = settings
        return settings


def validate(base: Settings, changes: Any) -> Settings:
    if not isinstance(changes, dict) or not changes:
        raise BadRequest("Send a JSON object with any of: target_quality, upgrade_policy, daily_limit_usd.")
    unknown = set(changes) - set(asdict(base))
    if unknown:
        raise BadRequest(f"Unknown preference {sorted(unknown)[0]!r}; known: target_quality, upgrade_policy, "
                         "daily_limit_usd.", code="unknown_preference")
    quality = changes.get("target_quality", base.target_quality)
    # `not 0 <= x <= n` is also true for NaN, so a value read back from an older store is caught too.
    if isinstance(quality, bool) or not isinstance(quality, (int, float)) or not 0 <= quality <= 10:
        raise BadRequest(f"'target_quality' must be a number from 0 to 10, got {quality!r}.", code="invalid_target_quality")
    policy = changes.get("upgrade_policy", base.upgrade_policy)
    if policy not in POLICIES:
        raise BadRequest(f"'upgrade_policy' must be auto, ask or never, got {policy!r}.", code="invalid_upgrade_policy")
    limit = changes.get("daily_limit_usd", base.daily_limit_usd)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit <= MAX_DAILY_LIMIT_USD:
        raise BadRequest(f"'daily_limit_usd' must be a number of dollars (at most {MAX_DAILY_LIMIT_USD:,.0f}), "
                         f"0 or more, got {limit!r}.", code="invalid_daily_limit_usd")
    return replace(base, target_quality=float(quality), upgrade_policy=policy, daily_limit_usd=float(limit))
