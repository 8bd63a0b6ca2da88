"""Load `routing_rules.yaml` and `budgets.yaml` once into typed, frozen objects.

Only this module (and `cli.py`) reads files and environment variables for
configuration; everything downstream receives a `Config`. A mistake stops
start-up with one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxy.database import is_postgres
from proxy.errors import ConfigError

ROUTING_FILE = "routing_rules.yaml"
BUDGETS_FILE = "budgets.yaml"

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_DATABASE = "~/.local/share/hermes/hermes.db"
DEFAULT_OLLAMA_API_BASE = "http://127.0.0.1:11434"
DEFAULT_OPENROUTER_API_BASE = "https://openrouter.ai/api/v1"
DEFAULT_DAILY_LIMIT_USD = 5.00

# Model names a client may send that pick a route rather than a model.
ROUTE_NAMES = ("auto", "local", "cloud")


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


class _Section(BaseModel):
    # Frozen and strict about keys: a misspelt option is an error, not a no-op.
    model_config = ConfigDict(frozen=True, extra="forbid")


Quality = Field(ge=0, le=10)


class ServerConfig(_Section):
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, gt=0)
    database: str = DEFAULT_DATABASE
    store_prompts: bool = False


class LocalModelSpec(_Section):
    name: str = Field(min_length=1)
    quality_prior: float = Quality
    # Whether it fills in the middle, for /v1/completions (completions.py): true or false,
    # or null to ask Ollama (its /api/show lists the "insert" capability).
    fim: bool | None = None


class LocalConfig(_Section):
    api_base: str = DEFAULT_OLLAMA_API_BASE
    timeout_s: float = Field(300.0, gt=0)
    # The most tokens a local model is asked for, whatever the client sends
    # (OpenCode sends 32000): a CPU model takes minutes per thousand tokens.
    max_tokens: int = Field(512, gt=0)
    # How long one local attempt of the cascade may take before it is cancelled
    # and the cascade moves on: clients give up after a minute or two, and a
    # local answer that never comes is worse than none. A rule can override it.
    deadline_s: float = Field(20.0, gt=0)
    models: tuple[LocalModelSpec, ...] = ()


class EmbeddedModelConfig(_Section):
    enabled: bool = True
    name: str = Field("smollm2:135m", min_length=1)
    quality_prior: float = Field(3.0, ge=0, le=10)
    context_tokens: int = Field(8192, ge=512)
    port: int = Field(0, ge=0, le=65535)
    threads: int = Field(2, ge=1)
    startup_timeout_s: float = Field(120.0, gt=0)
    # Whether it serves /v1/completions (after any Ollama model that fills in the middle);
    # null: only if its GGUF has FIM tokens (SmolLM2's has none: it continues the prefix).
    fim: bool | None = True


class CloudModelSpec(_Section):
    name: str = Field(min_length=1)
    slug: str = Field(min_length=1)
    quality_prior: float = Quality
    cheap: bool = False
    # Prices: from litellm's table under "openrouter/<slug>", or under
    # `price_model` when OpenRouter's slug is missing there; any of the
    # explicit per-million-token prices below win over the table.
    price_model: str | None = None
    input_usd_per_mtok: float | None = Field(None, ge=0)
    output_usd_per_mtok: float | None = Field(None, ge=0)
    cache_read_usd_per_mtok: float | None = Field(None, ge=0)
    max_output_tokens: int | None = Field(None, gt=0)


class CloudConfig(_Section):
    api_base: str = DEFAULT_OPENROUTER_API_BASE
    timeout_s: float = Field(120.0, gt=0)
    models: tuple[CloudModelSpec, ...] = ()
    # Which cloud models each classification tier may use (Ralex's routing by task), in order of
    # preference: `any`, or a list of names from `models`. Empty: every tier may use any.
    # Checked against the rules and models by `_check_task_tiers`.
    tiers: dict[str, Literal["any"] | tuple[str, ...]] = {}

    @field_validator("tiers", mode="before")
    @classmethod
    def _any_or_names(cls, value: object) -> object:
        # Before pydantic's own check, whose union errors name type internals, not the tier.
        for tier, models in value.items() if isinstance(value, dict) else ():
            names = isinstance(models, list) and models and all(isinstance(m, str) and m for m in models)
            if models != "any" and not names:
                raise ValueError(f"must map each classification tier to 'any' or a list of cloud model names, "
                                 f"got {tier}: {models!r}")
        return value


class CascadeConfig(_Section):
    target_quality: float = Field(9.0, ge=0, le=10)
    skip_below_acceptance: float = Field(0.10, ge=0, le=1)
    skip_window: int = Field(20, ge=1)
    probe_every: int = Field(10, ge=1)
    # Self-consistency: extra samples a local model answers a short maths request with, whose final answers
    # its answer should agree with (quality.py's consistency signal). Each costs one more local generation.
    self_consistency_samples: int = Field(0, ge=0, le=4)
    self_consistency_max_prompt_tokens: int = Field(500, gt=0)  # "short": longer prompts get no extra sample


TaskType = Literal["quick_qa", "code_generation", "analysis", "creative_writing", "debugging", "conversation",
                   "data_processing", "research"]


class ClassificationDefault(_Section):
    task_type: TaskType = "conversation"
    tier: str = "default"


class ClassificationRule(_Section):
    name: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    regex: str | None = None
    task_type: TaskType
    tier: str = Field(min_length=1)
    target_quality: float | None = Field(None, ge=0, le=10)
    max_tokens: int | None = Field(None, gt=0)
    cascade: bool = True
    deadline_s: float | None = Field(None, gt=0)  # overrides local.deadline_s

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"must be a valid regular expression ({exc}), got {value!r}") from None
        return value


class ClassificationConfig(_Section):
    default: ClassificationDefault = ClassificationDefault()
    rules: tuple[ClassificationRule, ...] = ()


class QualityConfig(_Section):
    """The 0-10 scorer's switches (quality.py)."""

    run_code: bool = True  # run code against the examples a prompt or answer carries, in a sandbox
    sandbox_timeout_s: float = Field(5.0, gt=0)
    sandbox_memory_mb: int = Field(256, ge=32)
    judge_model: str | None = None  # a local model that grades answers 1-10; off when unset
    # The judge is asked only when the other signals leave the score between these: outside, they are sure
    # enough that a grade from a small local judge would not change the decision, and it costs a generation.
    judge_between: tuple[float, float] = (2.0, 9.5)

    @field_validator("judge_between")
    @classmethod
    def _ordered_band(cls, band: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= band[0] <= band[1] <= 10:
            raise ValueError("must be [low, high] with 0 <= low <= high <= 10")
        return band


class RoutingConfig(_Section):
    server: ServerConfig = ServerConfig()
    local: LocalConfig = LocalConfig()
    embedded_model: EmbeddedModelConfig = EmbeddedModelConfig()
    cloud: CloudConfig = CloudConfig()
    cascade: CascadeConfig = CascadeConfig()
    quality: QualityConfig = QualityConfig()
    classification: ClassificationConfig = ClassificationConfig()
    upgrade_policy: Literal["auto", "ask", "never"] = "auto"


class BudgetTier(_Section):
    name: str = Field(min_length=1)
    min_remaining_usd: float = Field(ge=0)
    models: Literal["any", "cheap", "cheapest"]
    max_tokens: int | None = Field(None, gt=0)


class SessionConfig(_Section):
    default_remaining_turns: int = Field(25, gt=0)
    # A conversation idle this long starts a new session (session.py): its links have expired.
    idle_timeout_s: float = Field(4 * 3600, gt=0, allow_inf_nan=False)


class BudgetConfig(_Section):
    daily_limit_usd: float = Field(DEFAULT_DAILY_LIMIT_USD, ge=0, allow_inf_nan=False)
    reset_timezone: str = "local"
    tiers: tuple[BudgetTier, ...] = ()
    # The max_tokens a cloud call gets when the client sends none; None: the
    # model's own output limit (capped by max_tokens_cap), so a whole-file
    # edit is not cut off at an arbitrary length the user still pays for.
    default_max_tokens: int | None = Field(None, gt=0)
    max_tokens_cap: int = Field(4096, gt=0)
    # Reservations are the price table's worst case times (1 + this): a price
    # table a little stale or a tokenizer that counts a little differently
    # from the provider's cannot make a reservation too small.
    reservation_margin: float = Field(0.2, ge=0, le=10, allow_inf_nan=False)
    # What one session may spend on upgrades before `auto` keeps it local, so
    # one runaway agent loop cannot drain the day. None: no cap.
    session_limit_usd: float | None = Field(1.00, ge=0, allow_inf_nan=False)
    session: SessionConfig = SessionConfig()

    @field_validator("reset_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value != "local":
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"must be 'local' or an IANA time zone such as Europe/London, got {value!r}") from None
        return value

    @field_validator("tiers")
    @classmethod
    def _descending(cls, tiers: tuple[BudgetTier, ...]) -> tuple[BudgetTier, ...]:
        floors = [tier.min_remaining_usd for tier in tiers]
        if floors != sorted(floors, reverse=True):
            raise ValueError(f"must be ordered from the highest min_remaining_usd to the lowest, got {floors}")
        return tiers


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
    _check_unique_names(routing)
    _check_judge(routing)
    _check_task_tiers(routing)
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
    )


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _origins(value: str) -> tuple[str, ...]:
    """HERMES_ORIGINS, comma-separated as OLLAMA_ORIGINS is: origins such as http://host:3000, `*` a wildcard."""
    origins = tuple(part.strip().rstrip("/").lower() for part in value.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"[a-z][a-z0-9+.-]*://[^/?#\s]+", origin):
            raise ConfigError(f"HERMES_ORIGINS: {origin!r} must be an origin such as http://localhost:3000, or *")
    return origins


def _load(model: type[_Section], path: Path):  # type: ignore[no-untyped-def]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (use --config-dir to point at the folder holding it)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path.name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: must be a mapping of keys to values, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path.name}: {_describe(exc.errors()[0])}") from None


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


def _check_unique_names(routing: RoutingConfig) -> None:
    seen: set[str] = set()
    names = [m.name for m in routing.local.models] + [m.name for m in routing.cloud.models]
    for name in names:
        if name in seen:
            raise ConfigError(f"{ROUTING_FILE}: model name {name!r} is used twice; names must be unique")
        if name in ROUTE_NAMES:
            raise ConfigError(f"{ROUTING_FILE}: model name {name!r} is reserved for a route")
        seen.add(name)
