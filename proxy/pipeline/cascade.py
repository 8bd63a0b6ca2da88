"""Choose the model a chat request goes to: the local-first cascade and the upgrade decision.

`auto` tries the local models in order, scores each answer 0-10 and returns
the first at or above the target, free. Otherwise it keeps the best local
answer, prices the upgrades its task tier may use within what the budget
tier allows (`cloud.tiers`, upgrade.tier_models), and decides by the
upgrade policy: `auto` pays for the best upgrade that fits the budget, `ask`
returns the local answer with the options, `never` stays local. A session
that upgraded stays on its cloud model while the tier allows it.
`local`, `cloud` and concrete model names skip the cascade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proxy.chat import ChatRequest
from proxy.config import Config, ModelRef
from proxy.errors import (
    BadRequest,
    BudgetExhausted,
    CloudUnavailable,
    HermesError,
    UnknownModel,
    UpgradeOffered,
    UpstreamError,
)
from proxy.judgment.quality import Judge, QualityScore, score_answer
from proxy.money.estimate import count_input_tokens_off_loop
from proxy.money.pricing import PriceTable
from proxy.pipeline import local_attempt, self_consistency
from proxy.pipeline.classify import TaskClass
from proxy.pipeline.local_attempt import LocalSpeeds, Progress, TooSlow, no_progress
from proxy.pipeline.skips import agent_turn, skip_for
from proxy.pipeline.upgrade import UpgradeOption, best_option, tier_models
from proxy.storage.store import Store
from proxy.upstreams import upstream
from proxy.upstreams.ollama import LocalCatalog
from proxy.upstreams.ollama_logprobs import TokenLogprobs
from proxy.upstreams.target import Target

POLICIES = ("auto", "ask", "never")


@dataclass(frozen=True)
class Attempt:
    """One local model's turn in the cascade."""

    model: str
    outcome: str  # accepted | rejected | unscored | skipped | unavailable | failed | too_long | too_slow
    score: QualityScore | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"model": self.model, "outcome": self.outcome}
        if self.score is not None:
            result["score"] = self.score.score
            result["signals"] = [s.name for s in self.score.signals if s.passed is False]
        if self.detail:
            result["detail"] = self.detail
        return result


@dataclass(frozen=True)
class CascadeResult:
    """What the local models gave: every attempt, and the best answer if any."""

    attempts: tuple[Attempt, ...]
    best: Attempt | None = None
    answer: dict[str, Any] | None = None  # the best answer as an OpenAI chat.completion

    @property
    def accepted(self) -> bool:
        return self.best is not None and self.best.outcome in ("accepted", "unscored")


@dataclass(frozen=True)
class Plan:
    """Where a request goes: a cloud/local model to call, or a local answer already in hand."""

    target: Target
    answer: dict[str, Any] | None = None
    cascade: CascadeResult | None = None
    options: list[UpgradeOption] = field(default_factory=list)
    policy: str | None = None
    reason: str = ""
    failed_upgrade: str | None = None  # the cloud model whose call failed, when this local answer stands in


async def requested_plan(
    chat: ChatRequest, config: Config, catalog: LocalCatalog, allowed_cloud: Sequence[ModelRef], task: TaskClass,
    prices: PriceTable | None = None,
) -> Plan:
    """The plan for a request that names its model (or `local`/`cloud`): no cascade.

    `cloud` takes the first model the task's tier may use within `allowed_cloud`
    (upgrade.tier_models); a model named outright is the user's choice, which
    only the budget limits.
    """
    if chat.model != "cloud":
        return Plan(await choose_target(chat, config, catalog, allowed_cloud, prices),
                    reason=f"{chat.model} requested")
    tier = tier_models(config, task.tier, allowed_cloud)
    target = await choose_target(chat, config, catalog, tier.models)
    return Plan(target, reason=f"cloud requested: {target.model.name}" + (f"; {tier.reason}" if tier.reason else ""))


async def choose_target(
    chat: ChatRequest, config: Config, catalog: LocalCatalog, allowed_cloud: Sequence[ModelRef],
    prices: PriceTable | None = None,
) -> Target:
    """The model to call for a request that names one (or `local`/`cloud`), or any model OpenRouter's
    catalogue lists (in `prices`), by its slug.

    `cloud` takes the first of `allowed_cloud` (what the budget tier allows,
    or within it what the task tier may use: `requested_plan`); when the
    tier allows none, the budget's reservation refuses it, saying why.
    """
    if chat.model in ("auto", "local"):
        return await _first_local(config, catalog)
    if chat.model == "cloud":
        if not config.cloud_models:
            raise UnknownModel("No cloud models are configured (cloud.models in routing_rules.yaml).")
        return cloud_target(config, (list(allowed_cloud) or list(config.cloud_models))[0])
    ref = config.find_model(chat.model) or (prices.listed_model(chat.model) if prices else None)
    if ref is None:
        names = ", ".join(["auto", "local", "cloud"] + [m.name for m in config.local_models + config.cloud_models])
        aliases = ", ".join(config.routing.aliases)
        raise UnknownModel(f"The model '{chat.model}' does not exist. Available: {names}"
                           + (f"; and names matching {aliases} (aliases in routing_rules.yaml)." if aliases else "."))
    if ref.kind == "cloud":
        return cloud_target(config, ref)
    if not await catalog.has(ref.name):
        raise _unavailable(
            f"{ref.name} is not available at {catalog.api_base}: "
            f"{_why_missing(await catalog.models(), ref.name)}"
        )
    return local_target(config, ref)


def upgrade_policy(default: str, headers: Mapping[str, str]) -> str:
    """The request's `X-Hermes-Upgrade-Policy`, else `default` (the user's preference)."""
    policy = headers.get("x-hermes-upgrade-policy", "").strip().lower() or default
    if policy not in POLICIES:
        raise BadRequest(f"X-Hermes-Upgrade-Policy must be auto, ask or never, got {policy!r}.", code="invalid_policy")
    return policy


def accepted_upgrade(config: Config, headers: Mapping[str, str]) -> ModelRef | None:
    """The cloud model a client accepted with `X-Hermes-Upgrade: <model>`, if any."""
    name = headers.get("x-hermes-upgrade", "").strip()
    if not name:
        return None
    ref = config.find_model(name)
    if ref is None or ref.kind != "cloud":
        names = ", ".join(m.name for m in config.cloud_models)
        raise BadRequest(f"X-Hermes-Upgrade must name a cloud model ({names}), got {name!r}.", code="invalid_upgrade")
    return ref


@dataclass(frozen=True)
class LocalRun:
    """What the cascade's local attempts need besides the request: where models are, their record, their speed."""

    config: Config
    catalog: LocalCatalog
    store: Store
    speeds: LocalSpeeds
    progress: Progress = no_progress
    # Each attempt's time budget; None when there is nowhere to escalate to, so a slow answer beats none.
    deadline_s: float | None = None


async def run_local_cascade(chat: ChatRequest, task: TaskClass, target_quality: float, run: LocalRun) -> CascadeResult:
    """Try the local models in order until one's answer reaches `target_quality`.

    A model with a poor record is skipped (skips.py), but that skip saves
    time, never the answer: when nothing else answered, the best skipped model
    is tried anyway, unless it has never passed an agent's turn (a skip only
    made when the request can escalate). A model too slow for the prompt (local_attempt.py)
    is not: its answer would come after the client has given up.
    """
    config, store = run.config, run.store
    pulled = await run.catalog.models()
    if pulled is None:
        return CascadeResult((Attempt("ollama", "unavailable", detail=f"nothing answers at {run.catalog.api_base}"),))
    chat = chat.limited_to(config.routing.local.max_tokens)  # a CPU model takes minutes per thousand tokens
    attempts: list[Attempt] = []
    skipped: list[tuple[float, float, ModelRef]] = []  # (acceptance rate, quality prior, model)
    best: Attempt | None = None
    best_answer: dict[str, Any] | None = None
    # An agent's turn (skips.py), where there is somewhere to escalate to: else a local answer beats none.
    agent = agent_turn(chat) and run.deadline_s is not None
    for ref in config.local_models:
        if not await run.catalog.has(ref.name):
            attempts.append(Attempt(ref.name, "unavailable", detail="not pulled"))
            continue
        skip = await skip_for(store, ref.name, task.task_type, agent, config)
        if skip is not None:
            await store.record_attempt(ref.name, task.task_type, None, None, agent)
            attempts.append(Attempt(ref.name, "skipped", detail=skip.reason))
            if not skip.final:
                skipped.append((skip.rate, ref.quality_prior, ref))
            continue
        attempt, answer = await _try_local(ref, chat, task, target_quality, run)
        attempts.append(attempt)
        if answer is not None and (best is None or _score(attempt) > _score(best)):
            best, best_answer = attempt, answer
        if attempt.outcome in ("accepted", "unscored"):
            break
    if best_answer is None and skipped:
        ref = max(skipped, key=lambda entry: entry[:2])[2]
        attempt, best_answer = await _try_local(ref, chat, task, target_quality, run,
                                                note="tried although skipped: no other local model answered")
        attempts.append(attempt)
        if best_answer is not None:
            best = attempt
    return CascadeResult(tuple(attempts), best, best_answer)


def deadline_s(task: TaskClass, config: Config) -> float:
    """How long one local attempt may take: the rule's override, else local.deadline_s."""
    return task.deadline_s or config.routing.local.deadline_s


async def _try_local(
    ref: ModelRef, chat: ChatRequest, task: TaskClass, target_quality: float, run: LocalRun, note: str = "",
) -> tuple[Attempt, dict[str, Any] | None]:
    """One local model's answer and its verdict (the answer is None when the call failed)."""
    config = run.config
    prompt_tokens = await count_input_tokens_off_loop(ref.litellm_model, chat.messages, chat.params.get("tools"),
                                                        chat.fingerprints)
    logprobs = TokenLogprobs()  # the model's confidence in its own tokens, for the scorer
    try:
        answer = await local_attempt.generate(local_target(config, ref), chat, prompt_tokens,
                                              run.deadline_s, run.speeds, run.progress, logprobs)
    except TooSlow as error:
        return Attempt(ref.name, "too_slow", detail=error.message), None
    except HermesError as error:
        outcome = "too_long" if error.code == "context_length_exceeded" else "failed"
        return Attempt(ref.name, outcome, detail=error.message), None
    if not task.cascade:  # e.g. yolo: the first answer, as fast as it comes
        return Attempt(ref.name, "unscored", detail=note or f"rule {task.rule} turns the cascade off"), answer
    cascade = config.routing.cascade
    samples = task.self_consistency_samples
    samples = cascade.self_consistency_samples if samples is None else samples
    peers = await self_consistency.samples(local_target(config, ref), chat, samples, prompt_tokens,
                                           cascade.self_consistency_max_prompt_tokens, run.deadline_s, run.speeds,
                                           run.progress)
    run.progress(f"{ref.name} scoring")
    choice = answer["choices"][0]
    score = await score_answer(chat.messages, choice["message"], choice["finish_reason"],
                               chat.params.get("tools"), task.task_type, config.routing.quality,
                               local_judge(config) if task.judge else None, peers, logprobs.entries)
    accepted = score.score >= target_quality
    await run.store.record_attempt(ref.name, task.task_type, score.score, accepted, agent_turn(chat))
    return Attempt(ref.name, "accepted" if accepted else "rejected", score, note), answer


def _score(attempt: Attempt) -> float:
    return attempt.score.score if attempt.score else -1.0


def decide(
    result: CascadeResult,
    options: Sequence[UpgradeOption],
    policy: str,
    target_quality: float,
    remaining_usd: float,
    config: Config,
    tier_reason: str = "",
) -> tuple[ModelRef | None, str]:
    """(the cloud model to upgrade to, or None to answer locally; why).

    `options` are those of the task tier's models (upgrade.tier_models);
    `tier_reason`, which those are and why, ends the why.
    """
    if result.accepted:
        assert result.best is not None
        return None, f"{result.best.model} reached the target"
    best = best_option(options, target_quality)
    why = _short_of_target(result, target_quality) + (f"; {tier_reason}" if tier_reason else "")
    if policy == "auto" and best is not None and best.estimated_cost_usd <= remaining_usd:
        return config.find_model(best.model), f"policy auto: upgraded to {best.model}: {why}"
    if result.answer is None:
        raise _no_local_answer(result, best, policy)
    if policy == "never":
        return None, f"policy never: stayed local: {why}"
    if best is None:
        return None, f"no cloud upgrade available (no OPENROUTER_API_KEY, or none the budget tier allows): {why}"
    if policy == "auto":
        return None, f"policy auto: {best.model} would cost more than the budget left: {why}"
    return None, f"policy ask: accept with X-Hermes-Upgrade: {best.model}: {why}"


def _short_of_target(result: CascadeResult, target_quality: float) -> str:
    """Why the local answer was not enough, in the words of the decision."""
    best = result.best
    if best is None or best.score is None:
        return "no local answer was scored"
    return f"the best local answer ({best.model}) scored {best.score.score:.1f}, below the target {target_quality:.1f}"


def local_target(config: Config, ref: ModelRef) -> Target:
    return Target(ref, config.ollama_api_base, None, config.routing.local.timeout_s)


def cloud_target(config: Config, ref: ModelRef) -> Target:
    if config.openrouter_api_key is None:
        raise CloudUnavailable(f"{ref.name} is a cloud model and OPENROUTER_API_KEY is not set: set it and restart "
                               "Hermes, or ask for model 'local'.")
    return Target(ref, config.openrouter_api_base, config.openrouter_api_key, config.routing.cloud.timeout_s)


def local_judge(config: Config) -> Judge | None:
    """The configured local judge model as the scorer's `judge`, or None."""
    name = config.routing.quality.judge_model
    ref = config.find_model(name) if name else None
    if ref is None:
        return None
    target = local_target(config, ref)

    async def grade(prompt: str) -> str:
        grading = ChatRequest(ref.name, [{"role": "user", "content": prompt}], params={"temperature": 0, "max_tokens": 300})
        answer = await upstream.complete(target, grading)
        return str(answer["choices"][0]["message"].get("content") or "")

    return grade


async def _first_local(config: Config, catalog: LocalCatalog) -> Target:
    pulled = await catalog.models()
    if pulled is None:
        raise _unavailable(
            f"No local model is reachable: nothing answers at {catalog.api_base}. "
            "Start Ollama (`ollama serve`) or let `hermes serve` start its embedded model."
        )
    for ref in config.local_models:
        if await catalog.has(ref.name):
            return local_target(config, ref)
    if not config.local_models:
        raise _unavailable("No local models are configured (local.models in routing_rules.yaml).")
    wanted = ", ".join(ref.name for ref in config.local_models)
    raise _unavailable(
        f"Ollama at {catalog.api_base} has none of the configured local models ({wanted}); "
        f"pull one, e.g. `ollama pull {config.local_models[0].name}`."
    )


def _no_local_answer(result: CascadeResult, best: UpgradeOption | None, policy: str) -> HermesError:
    tried = "; ".join(f"{a.model}: {a.outcome}" + (f" ({a.detail})" if a.detail else "") for a in result.attempts)
    called = [a for a in result.attempts if a.outcome in ("failed", "too_long")]
    if called and all(a.outcome == "too_long" for a in called):
        # The client's fault, not an upstream's: the prompt fits no local model and no upgrade was possible.
        return BadRequest(f"The conversation is too long for the local models ({tried}), and no cloud upgrade "
                          "was possible: shorten it, or ask for a cloud model.", code="context_length_exceeded")
    if best is None:
        advice = "No cloud upgrade is available (no OPENROUTER_API_KEY, or none today's budget tier allows)."
    elif policy == "auto":  # the budget's refusal: a 429 that says not to retry
        return BudgetExhausted(f"No local model answered ({tried}). {best.model} would cost "
                               f"~${best.estimated_cost_usd:.4f}, more than the budget left.")
    elif policy == "never":
        advice = f"Upgrade policy 'never' keeps answers local ({best.model} would cost ~${best.estimated_cost_usd:.4f})."
    else:
        rest = best.session.rest_of_session_cost_usd
        return UpgradeOffered(
            f"Hermes asks before paying (upgrade policy 'ask'): no local model could answer ({tried}). "
            f"{best.model} would answer for ~${best.estimated_cost_usd:.4f} (continuing this session on it: "
            f"~${rest:.4f} more). To accept, re-send with header X-Hermes-Upgrade: {best.model}, or set "
            "upgrade_policy: auto in routing_rules.yaml (or POST /api/v1/settings/update-preferences).")
    error = UpstreamError(f"No local model answered ({tried}). {advice}", code="no_local_answer")
    error.retry = False
    return error


def _why_missing(pulled: frozenset[str] | None, name: str) -> str:
    if pulled is None:
        return "nothing answers there. Start Ollama (`ollama serve`)."
    return f"it is not pulled. Run `ollama pull {name}`."


def _unavailable(message: str) -> UpstreamError:
    # Retrying cannot help until the user acts; say so to clients that retry on 5xx.
    error = UpstreamError(message, code="model_unavailable")
    error.retry = False
    return error
