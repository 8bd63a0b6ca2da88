"""What `routing_rules.yaml` and `budgets.yaml` may say: one typed, frozen section per key.

Pydantic checks each value once, at start-up; an unknown key is an error,
not a no-op (a misspelt option would otherwise be silently ignored).
config.py reads the files into these and checks what spans sections (model
names, the judge, the tiers); nothing else reads the files.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_DATABASE = "~/.local/share/hermes/hermes.db"
DEFAULT_OLLAMA_API_BASE = "http://127.0.0.1:11434"
DEFAULT_OPENROUTER_API_BASE = "https://openrouter.ai/api/v1"
DEFAULT_DAILY_LIMIT_USD = 5.00



class _Section(BaseModel):
    # Frozen and strict about keys: a misspelt option is an error, not a no-op.
    model_config = ConfigDict(frozen=True, extra="forbid")


Quality = Field(ge=0, le=10)


class ServerConfig(_Section):
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, gt=0)
    database: str = DEFAULT_DATABASE
    store_prompts: bool = False
    # Days of request detail kept; older detail is folded into daily totals (storage/retention.py). None: all kept.
    retention_days: int | None = Field(30, ge=1)


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
    # Prices: from OpenRouter's catalogue under the slug, else litellm's table
    # under "openrouter/<slug>" (or `price_model`); any of the explicit
    # per-million-token prices below win over both (money/pricing.py).
    price_model: str | None = None
    input_usd_per_mtok: float | None = Field(None, ge=0)
    output_usd_per_mtok: float | None = Field(None, ge=0)
    cache_read_usd_per_mtok: float | None = Field(None, ge=0)
    cache_write_usd_per_mtok: float | None = Field(None, ge=0)
    max_output_tokens: int | None = Field(None, gt=0)


class CloudConfig(_Section):
    api_base: str = DEFAULT_OPENROUTER_API_BASE
    timeout_s: float = Field(120.0, gt=0)
    # How old OpenRouter's model list may get before it is fetched again; 0: never fetched (prices from the
    # copy saved last, else litellm's table). HERMES_CATALOGUE_REFRESH_H overrides.
    catalogue_refresh_h: float = Field(24.0, ge=0)
    models: tuple[CloudModelSpec, ...] = ()
    # Which cloud models each classification tier may use (Ralex's routing by task), in order of
    # preference: `any`, or a list of names from `models`. Empty: every tier may use any.
    # Checked against the rules and models by config.py's `_check_task_tiers`.
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
    # One by default: on GSM8K's real answers, checks that pass leave an answer right about half the time;
    # agreement with a second sample is what tells the right ones apart (evals/gsm8k_labelled.jsonl).
    self_consistency_samples: int = Field(1, ge=0, le=4)
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
    self_consistency_samples: int | None = Field(None, ge=0, le=4)  # overrides cascade.self_consistency_samples
    judge: bool = True  # false: quality.judge_model never grades this rule's answers (a generation each)

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
    # Model names agents ask for (claude-*, gpt-5*, gemini-*) -> a route or a configured model; first match wins.
    aliases: dict[str, str] = {}


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
