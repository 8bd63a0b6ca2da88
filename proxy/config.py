"""Load `routing_rules.yaml` and `budgets.yaml` once into typed, frozen objects.

Only this module (and the `cli/` package) reads files and environment variables for
configuration; everything downstream receives a `Config`. A mistake stops
start-up with one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ValidationError

from proxy.config_schema import BudgetConfig, RoutingConfig
from proxy.errors import ConfigError

ROUTING_FILE = "routing_rules.yaml"
BUDGETS_FILE = "budgets.yaml"

# Model names a client may send that pick a route rather than a model.
ROUTE_NAMES = ("auto", "local", "cloud")

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | Path) -> bool:
    """Whether a database location (HERMES_DB, `server.database`) is a PostgreSQL URL rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value


@dataclass(frozen=True)
class ModelRef:
    """One model a request can name, with what LiteLLM needs to reach it."""

    name: str
    kind: Literal["local", "cloud"]
    litellm_model: str
    quality_prior: float
    cheap: bool = False


@dataclass(frozen=True)
class Config:
    """Everything Hermes needs to run: both files plus the environment."""

    routing: RoutingConfig
    budget: BudgetConfig
    config_dir: Path
    database: Path | str  # a SQLite file, or a postgresql:// URL (database.py)
    ollama_api_base: str
    openrouter_api_base: str
    openrouter_api_key: Secret | None
    api_key: Secret | None
    # Web origins allowed besides Hermes's own and loopback ones (HERMES_ORIGINS); "*" allows any.
    origins: tuple[str, ...] = ()
    # How old OpenRouter's model list may get before it is fetched again (edge/catalogue_refresh.py); 0: never.
    catalogue_refresh_h: float = 24.0

    # Computed once per Config (it is frozen): the pipeline asks for these several times a request.
    @cached_property
    def local_models(self) -> tuple[ModelRef, ...]:
        """Local models in cascade order; the embedded one last."""
        specs = [(m.name, m.quality_prior) for m in self.routing.local.models]
        embedded = self.routing.embedded_model
        if embedded.enabled and embedded.name not in {name for name, _ in specs}:
            specs.append((embedded.name, embedded.quality_prior))
        return tuple(ModelRef(name, "local", f"ollama_chat/{name}", prior) for name, prior in specs)

    @cached_property
    def cloud_models(self) -> tuple[ModelRef, ...]:
        return tuple(
            ModelRef(m.name, "cloud", f"openrouter/{m.slug}", m.quality_prior, m.cheap)
            for m in self.routing.cloud.models
        )

    def resolve_alias(self, name: str) -> str:
        """The route or model a client's model name stands for: itself if it is one, else the most specific
        alias (routing_rules.yaml `aliases`, glob patterns, any case) that fits it, else itself (a 404 later)."""
        if name in ROUTE_NAMES or self.find_model(name) is not None:
            return name
        lowered = name.lower()
        for pattern, target in self._aliases_most_specific_first:
            if fnmatch.fnmatchcase(lowered, pattern):
                return target
        return name

    @cached_property
    def _aliases_most_specific_first(self) -> list[tuple[str, str]]:
        # Most specific: the most characters besides the wildcards, so "claude-*haiku*" wins over "claude-*"
        # whatever order a YAML writer keeps the mapping in.
        aliases = [(pattern.lower(), target) for pattern, target in self.routing.aliases.items()]
        return sorted(aliases, key=lambda alias: -len(alias[0].replace("*", "").replace("?", "")))

    def find_model(self, name: str) -> ModelRef | None:
        """The configured model a client named, by short name or by OpenRouter slug."""
        return self._models_by_name.get(name)

    @cached_property
    def _models_by_name(self) -> dict[str, ModelRef]:
        found: dict[str, ModelRef] = {}
        for ref in self.local_models + self.cloud_models:  # the first model a name fits wins
            for key in (ref.name, ref.litellm_model, ref.litellm_model.split("/", 1)[1]):
                found.setdefault(key, ref)
        return found


def default_config_dir() -> Path:
    """The current directory if it holds the YAML files, else the checkout's root."""
    here = Path.cwd()
    if (here / ROUTING_FILE).is_file():
        return here
    return Path(__file__).resolve().parent.parent


def load_config(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate both files in `config_dir` and the environment `env`.

    Raises ConfigError with one line naming the file, key and expectation.
    """
    env = os.environ if env is None else env
    config_dir = Path(config_dir) if config_dir is not None else default_config_dir()
    routing = _load(RoutingConfig, config_dir / ROUTING_FILE)
    budget = _load(BudgetConfig, config_dir / BUDGETS_FILE)
    try:
        _check_unique_names(routing)
        _check_judge(routing)
        _check_task_tiers(routing)
        _check_aliases(routing)
    except ConfigError as exc:
        raise ConfigError(f"{exc}{_read_from(config_dir / ROUTING_FILE)}") from None
    database = env.get("HERMES_DB") or routing.server.database
    return Config(
        routing=routing,
        budget=budget,
        config_dir=config_dir,
        database=database if is_postgres(database) else Path(database).expanduser(),
        ollama_api_base=(env.get("OLLAMA_API_BASE") or routing.local.api_base).rstrip("/"),
        openrouter_api_base=(env.get("OPENROUTER_API_BASE") or routing.cloud.api_base).rstrip("/"),
        openrouter_api_key=_secret(env.get("OPENROUTER_API_KEY")),
        api_key=_secret(env.get("HERMES_API_KEY")),
        origins=_origins(env.get("HERMES_ORIGINS", "")),
        catalogue_refresh_h=_hours(env.get("HERMES_CATALOGUE_REFRESH_H"), routing.cloud.catalogue_refresh_h),
    )


def _hours(value: str | None, default: float) -> float:
    """HERMES_CATALOGUE_REFRESH_H: hours, 0 or more (0: OpenRouter's model list is never fetched)."""
    if value is None or not value.strip():
        return default
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if not 0 <= hours < float("inf"):
        raise ConfigError(f"HERMES_CATALOGUE_REFRESH_H: {value!r} must be a number of hours, 0 or more "
                          "(0: never fetch OpenRouter's model list)")
    return hours


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _origins(value: str) -> tuple[str, ...]:
    """HERMES_ORIGINS, comma-separated as OLLAMA_ORIGINS is: origins such as http://host:3000, `*` a wildcard."""
    origins = tuple(part.strip().rstrip("/").lower() for part in value.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"[a-z][a-z0-9+.-]*://[^/?#\s]+", origin):
            raise ConfigError(f"HERMES_ORIGINS: {origin!r} must be an origin such as http://localhost:3000, or *")
    return origins


def _load(model: type[BaseModel], path: Path):  # type: ignore[no-untyped-def]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (use --config-dir to point at the folder holding it)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path.name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}{_read_from(path)}"
                          ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: must be a mapping of keys to values, got {type(raw).__name__}"
                          f"{_read_from(path)}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key is both unknown and, under its right name, missing: the unknown one is the typo.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise ConfigError(f"{path.name}: {_describe(first)}{_read_from(path)}") from None


def _read_from(path: Path) -> str:
    """Where a config file was read from: which of several folders (--config-dir, the current one, the checkout)."""
    return f" (read from {path.parent.resolve()})"


def _describe(error: Mapping) -> str:  # type: ignore[type-arg]
    """One line from pydantic's first error: key path, expectation, value."""
    key = ""
    for part in error["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    if error["type"] == "extra_forbidden":
        return f"{key} is not a known key"
    if error["type"] == "missing":
        return f"{key} is required"
    message = str(error["msg"]).removeprefix("Value error, ").replace("Input should be", "must be")
    if "got " in message:
        return f"{key} {message}"
    return f"{key} {message}, got {error['input']!r}"


def _check_judge(routing: RoutingConfig) -> None:
    judge = routing.quality.judge_model
    local = {m.name for m in routing.local.models} | ({routing.embedded_model.name} if routing.embedded_model.enabled else set())
    if judge is not None and judge not in local:
        raise ConfigError(f"{ROUTING_FILE}: quality.judge_model must name a local model ({', '.join(sorted(local))}), "
                          f"got {judge!r}")


def _check_task_tiers(routing: RoutingConfig) -> None:
    """cloud.tiers names only models `cloud.models` has, and every rule's tier has an entry (a typo is caught).

    A tier no rule uses is allowed: rules replaced in a config of one's own need not prune the shipped mapping.
    """
    mapping = routing.cloud.tiers
    if not mapping:
        return
    classification = routing.classification
    used = {"classification.default.tier": classification.default.tier}
    used |= {f"classification.rules[{i}].tier": rule.tier for i, rule in enumerate(classification.rules)}
    cloud = [m.name for m in routing.cloud.models]
    for tier, models in mapping.items():
        for i, name in enumerate(() if models == "any" else models):
            if name not in cloud:
                raise ConfigError(f"{ROUTING_FILE}: cloud.tiers.{tier}[{i}] must name a cloud model "
                                  f"({', '.join(cloud) or 'cloud.models is empty'}), got {name!r}")
    for key, tier in used.items():
        if tier not in mapping:
            raise ConfigError(f"{ROUTING_FILE}: {key} is {tier!r}, which cloud.tiers does not map to cloud models "
                              f"(it maps {', '.join(mapping)})")


def _check_aliases(routing: RoutingConfig) -> None:
    names = set(ROUTE_NAMES) | {m.name for m in routing.local.models} | {m.name for m in routing.cloud.models}
    if routing.embedded_model.enabled:
        names.add(routing.embedded_model.name)
    for pattern, target in routing.aliases.items():
        if not pattern.strip():
            raise ConfigError(f"{ROUTING_FILE}: aliases: a pattern must not be empty")
        if target not in names:
            raise ConfigError(f"{ROUTING_FILE}: aliases.{pattern} must name a route or a configured model "
                              f"({', '.join(sorted(names))}), got {target!r}")


def _check_unique_names(routing: RoutingConfig) -> None:
    seen: set[str] = set()
    names = [m.name for m in routing.local.models] + [m.name for m in routing.cloud.models]
    for name in names:
        if name in seen:
            raise ConfigError(f"{ROUTING_FILE}: model name {name!r} is used twice; names must be unique")
        if name in ROUTE_NAMES:
            raise ConfigError(f"{ROUTING_FILE}: model name {name!r} is reserved for a route")
        seen.add(name)
