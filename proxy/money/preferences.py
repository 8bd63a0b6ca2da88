"""Preferences a user may change while Hermes runs: target quality, upgrade policy, daily limit.

The YAML files are the configuration; a change through the API
(`POST /api/v1/settings/update-preferences`, the dashboard) is an override of
one setting, kept in the store with when it was made. The newest change
wins, wherever it was made: an override stands until its file is edited
after it, then the file's value is back (the start-up log says which won and
why), and `reset` drops overrides at once. Every report that shows a setting
shows its overrides (`Preferences.overrides`): `hermes budget`, the
dashboard, the start-up log. They take effect on the next request: the
pipeline and the budget read them from the one `Preferences` object the app
holds, never from module state.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any

from proxy.config import BUDGETS_FILE, ROUTING_FILE, Config
from proxy.errors import BadRequest
from proxy.money.format import shown_setting
from proxy.storage.store import Store

log = logging.getLogger("hermes")

POLICIES = ("auto", "ask", "never")
# A daily limit past this is a typo (or a web page at work), not a budget.
MAX_DAILY_LIMIT_USD = 1_000_000.0
# A file's modification time comes from the kernel's coarse clock, a few milliseconds behind the one that
# stamps an override: an edit saved right after an override can look older than it by up to this much.
MTIME_SLACK_S = 0.02
# Where each setting lives in the files.
FILE_OF = {"target_quality": ROUTING_FILE, "upgrade_policy": ROUTING_FILE, "daily_limit_usd": BUDGETS_FILE}
KEY_IN_FILE = {"target_quality": "cascade.target_quality", "upgrade_policy": "upgrade_policy",
               "daily_limit_usd": "daily_limit_usd"}


@dataclass(frozen=True)
class Settings:
    target_quality: float
    upgrade_policy: str
    daily_limit_usd: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Override:
    """A setting changed through the API, in force over its file's value."""

    name: str
    value: Any
    set_at: str  # ISO 8601, UTC
    file: str
    file_value: Any

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"key_in_file": KEY_IN_FILE[self.name]}

    def describe(self) -> str:
        return (f"{self.name} {_shown(self.name, self.value)}, set through the API on {self.set_at[:16].replace('T', ' ')}"
                f" UTC, overrides {self.file}'s {_shown(self.name, self.file_value)} (edit the file, or `hermes settings"
                f" --reset`, to go back)")


class Preferences:
    """The settings in force: the files', with the overrides that still win; `update` and `reset` change them."""

    def __init__(self, store: Store, settings: Settings, overrides: dict[str, Override] | None = None,
                 files: Settings | None = None) -> None:
        self._store = store
        self.current = settings
        self.overrides = dict(overrides or {})
        self._files = files or settings

    @classmethod
    async def load(cls, config: Config, store: Store, prune: bool = False) -> Preferences:
        """The files' settings and the overrides that are newer than their file; logs each that wins, or lost.

        `prune` (the server's start and reloads, not reports): drop from the store an override its file has
        overtaken, so that it is reported once, not at every start.
        """
        files = Settings(config.routing.cascade.target_quality, config.routing.upgrade_policy,
                         config.budget.daily_limit_usd)
        overrides: dict[str, Override] = {}
        for name, (value, set_at) in (await store.preference_overrides()).items():
            if name not in FILE_OF or value == getattr(files, name):
                continue  # the file says the same now: nothing to override
            edited = _modified(config, FILE_OF[name])
            if edited is not None and edited > datetime.fromisoformat(set_at).timestamp() - MTIME_SLACK_S:
                log.info("%s was edited after %s was set through the API (%s): its %s is in force", FILE_OF[name],
                         name, set_at[:16].replace("T", " "), _shown(name, getattr(files, name)))
                if prune:
                    await store.drop_preference_overrides([name])
                continue
            overrides[name] = Override(name, value, set_at, FILE_OF[name], getattr(files, name))
        try:
            settings = validate(files, {name: o.value for name, o in overrides.items()}) if overrides else files
        except BadRequest as exc:  # saved by a version that let NaN or Infinity through
            log.warning("Ignoring the saved preferences, which are not valid: %s", exc.message)
            return cls(store, files, {}, files)
        for override in overrides.values():
            log.info("%s", override.describe())
        return cls(store, settings, overrides, files)

    async def update(self, changes: Any) -> Settings:
        """Apply `changes` (a JSON object); BadRequest names the first bad key and changes nothing."""
        settings = validate(self.current, changes)
        stamp = datetime.now(timezone.utc).isoformat()
        await self._store.save_preference_overrides({name: getattr(settings, name) for name in changes}, stamp)
        for name in changes:
            value = getattr(settings, name)
            self.overrides[name] = Override(name, value, stamp, FILE_OF[name], getattr(self._files, name))
        self.current = settings
        return settings

    async def reset(self, names: Any = None) -> Settings:
        """Drop the overrides of `names` (all when None): their files' values are in force again."""
        if names is None:
            names = list(FILE_OF)
        if not isinstance(names, list) or not all(name in FILE_OF for name in names):
            raise BadRequest(f"'keys' must be a list of any of: {', '.join(FILE_OF)}.", code="unknown_preference")
        await self._store.drop_preference_overrides(names)
        self.current = replace(self.current, **{name: getattr(self._files, name) for name in names})
        for name in names:
            self.overrides.pop(name, None)
        return self.current

    def overrides_list(self) -> list[dict[str, Any]]:
        """The overrides in force, as the API and reports show them."""
        return [o.as_dict() for o in self.overrides.values()]


def _modified(config: Config, file: str) -> float | None:
    """When `file` in the config folder was last written (seconds since the epoch), or None when it is not there."""
    try:
        return (config.config_dir / file).stat().st_mtime
    except OSError:
        return None


def _shown(name: str, value: Any) -> str:
    return shown_setting(name, value)


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
