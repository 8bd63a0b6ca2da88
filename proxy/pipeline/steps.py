"""The chat pipeline: identify the session, classify, plan the route, meter, answer, record.

`plan` decides where a request goes (the cascade for `auto`); `respond`
answers it, streamed or not, and records it when it ends. Both take the
app's shared objects as a `Services`, built once in the lifespan.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from proxy.chat import ChatRequest
from proxy.config import Config, ModelRef
from proxy.errors import HermesError
from proxy.judgment.outcome import next_turn_outcome
from proxy.money.budget import BudgetStatus
from proxy.money.keys import ApiKey
from proxy.pipeline.cascade import (
    Attempt,
    CascadeResult,
    LocalRun,
    Plan,
    accepted_upgrade,
    choose_target,
    cloud_target,
    deadline_s,
    decide,
    local_target,
    requested_plan,
    run_local_cascade,
    upgrade_policy,
)
from proxy.pipeline.fallback import local_instead
from proxy.pipeline.local_attempt import Progress, known_too_long, no_progress
from proxy.pipeline.metered_call import MeteredCall, failure, maybe_billed
from proxy.pipeline.report import usd
from proxy.pipeline.services import Request, Services
from proxy.pipeline.session import identify, remaining_turns, resolve
from proxy.pipeline.skips import agent_turn, skip_for
from proxy.pipeline.upgrade import tier_models, upgrade_options
from proxy.storage.store import Store, TaskRecord
from proxy.wire.dialect import Dialect
from proxy.wire.openai_api import OPENAI, StreamedMessage, completion_chunks
from proxy.wire.sse import Settle


async def understand(services: Services, chat: ChatRequest, headers: Mapping[str, str], started: float,
                     key: ApiKey | None = None, dialect: Dialect = OPENAI) -> Request:
    """Identify the session and classify; a rule's max_tokens override caps the client's answer.

    Not an agent's tool turn (one that offers tools): a rule is about the
    words of the request ("now" in Claude Code's environment block reads as
    yolo), and a tool call cut at 256 tokens is no edit at all.
    """
    # First: a bad session id is a 400 before anything.
    conversation = identify(headers, chat.messages, chat.fingerprints)
    task = services.classifier.classify(chat.messages)
    if task.max_tokens and not chat.params.get("tools"):
        chat = chat.limited_to(task.max_tokens)
    conversation = await resolve(conversation, services.store, services.config.budget.session.idle_timeout_s)
    verdict = next_turn_outcome(chat.messages, conversation.answered_at) if conversation.resumed else None
    if verdict is not None:  # this turn tells whether the session's last answer worked
        await services.store.record_outcome(conversation.session_id, verdict.verdict, verdict.reason)
    return Request(chat, conversation, task, headers, started, key=key, dialect=dialect)


@dataclass(frozen=True)
class Cascade:
    """A request `prepare` left to the local cascade: what it decided so far."""

    allowed: list[ModelRef]  # the cloud models the budget tier (and the session cap) allow
    capped: str | None  # why the session may not upgrade any more, if it may not
    policy: str
    target_quality: float


async def plan(services: Services, request: Request, status: BudgetStatus, progress: Progress = no_progress) -> Plan:
    """Where the request goes; for `auto`, the local-first cascade and the upgrade decision."""
    ready = await prepare(services, request, status)
    if isinstance(ready, Plan):
        return ready
    return await run_cascade(services, request, ready, progress)


async def prepare(services: Services, request: Request, status: BudgetStatus) -> Plan | Cascade:
    """Everything decided before a local model runs: a Plan, or what the cascade needs.

    Quick, and raises every error a request can get before the cascade
    (bad headers, unknown models), so a streamed `auto` request still gets
    those as HTTP errors before its stream starts.
    """
    config, store, chat = services.config, services.store, request.chat
    allowed = services.meter.budget.allowed_models(status)
    if chat.model != "auto":
        return await requested_plan(chat, config, services.catalog, allowed, request.task, services.prices)
    session = await store.session(request.conversation.session_id)
    capped = _session_capped(config, session)
    if capped:
        allowed = []  # the session has spent its share: local answers only
    accepted = accepted_upgrade(config, request.headers)
    policy = upgrade_policy(services.preferences.current.upgrade_policy, request.headers)
    if accepted is not None and not capped:
        return Plan(cloud_target(config, accepted), reason=f"upgrade to {accepted.name} accepted")
    # Only a conversation that accepted an upgrade stays on it: a named session by its record, any
    # other by the answer it continues (session.py), so another that opened alike never does.
    conversation = request.conversation
    stays_on = (session or {}).get("cloud_model") if conversation.named else conversation.stays_on
    if stays_on:
        ref = config.find_model(stays_on)
        if ref in allowed:  # continuity: the context is already paid for on that model
            return Plan(cloud_target(config, ref),
                        reason=f"the session stays on {ref.name}: this conversation accepted the upgrade to it")
        if conversation.named:
            await store.stay_on_cloud(conversation.session_id, None)
    live = await _live_local(services, request)
    if live is not None:
        return live
    target = request.task.target_quality or services.preferences.current.target_quality
    pending = Cascade(list(allowed), capped, policy, target)
    if await _no_local_try(services, request, pending):
        # Decided now, before a streamed answer's first byte: an offer under `ask` is then a 400 the agent
        # shows (inside a 200 stream, OpenCode retried it 5 times), and under `auto` the cloud answers at once.
        return await run_cascade(services, request, pending)
    return pending


async def run_cascade(services: Services, request: Request, pending: Cascade,
                      progress: Progress = no_progress) -> Plan:
    """The local-first cascade, then the upgrade decision."""
    config, store, chat = services.config, services.store, request.chat
    # Without a key there is nothing to offer: a local answer beats a certain 502.
    upgradable = pending.allowed if config.openrouter_api_key is not None else []
    # A local attempt gets a deadline only when there is somewhere to go after it.
    deadline = deadline_s(request.task, config) if upgradable and pending.policy != "never" else None
    run = LocalRun(config, services.catalog, store, services.speeds, progress, deadline)
    result = await run_local_cascade(chat, request.task, pending.target_quality, run)
    best_local = config.find_model(result.best.model) if result.best else None
    policy = pending.policy
    if result.accepted and best_local:
        return Plan(local_target(config, best_local), result.answer, result, policy=policy, reason="local answer accepted")
    mean_turns, sessions_known = await store.mean_session_turns(request.conversation.session_id)
    turns_left = remaining_turns(mean_turns, sessions_known, request.conversation.turns,
                                 config.budget.session.default_remaining_turns)
    best_score = result.best.score.score if result.best and result.best.score else 0.0
    tier = tier_models(config, request.task.tier, upgradable)  # routing by task: cloud.tiers
    options = await upgrade_options(tier.models, chat, request.task.task_type, best_score, services.prices, store,
                                    request.conversation, turns_left,
                                    await store.session_turns(request.conversation.session_id))
    remaining = (await services.meter.budget.status()).remaining_usd  # the cascade took a while
    upgrade, reason = decide(result, options, policy, pending.target_quality, remaining, config, tier.reason)
    if pending.capped:
        reason = pending.capped
    if upgrade is not None:
        progress(f"upgrading to {upgrade.name}")
        return Plan(cloud_target(config, upgrade), None, result, options, policy, reason)
    assert best_local is not None  # decide() raised if there was no local answer
    return Plan(local_target(config, best_local), result.answer, result, options, policy, reason)


async def _live_local(services: Services, request: Request) -> Plan | None:
    """For a streamed request whose rule turns scoring off (yolo): the first local model, its tokens relayed live.

    None when no local model is there, or when the prompt is known not to fit it: then the cascade's own
    fallbacks apply (under `auto`, the cloud), rather than a 400 the client would get on every try.
    """
    if request.task.cascade or not request.chat.stream:
        return None
    try:
        target = await choose_target(dataclasses.replace(request.chat, model="local"), services.config,
                                     services.catalog, [])
    except HermesError:
        return None
    if known_too_long(services.config, target.model, request.chat):
        return None
    attempt = Attempt(target.model.name, "unscored", detail=f"relayed live: rule {request.task.rule} turns the cascade off")
    return Plan(target, cascade=CascadeResult((attempt,)), reason=f"rule {request.task.rule}: the first local answer, live")


async def _no_local_try(services: Services, request: Request, pending: Cascade) -> bool:
    """Whether no local model will even try this request: an agent's turn every available one sits out for
    good (skips.py), while there is somewhere to escalate to."""
    config = services.config
    if (not agent_turn(request.chat) or config.openrouter_api_key is None or not pending.allowed
            or pending.policy == "never"):
        return False
    for ref in config.local_models:
        if await services.catalog.has(ref.name):
            skip = await skip_for(services.store, ref.name, request.task.task_type, True, config)
            if skip is None or not skip.final:
                return False
    return True


def _session_capped(config: Config, session: dict[str, Any] | None) -> str | None:
    """Why this session may not upgrade any more (its spend reached `session_limit_usd`), or None."""
    limit = config.budget.session_limit_usd
    if session is None or limit is None or session["cost_usd"] < limit:
        return None
    return (f"session cap: this session has spent ${usd(session['cost_usd'])} of its ${usd(limit)} "
            "(session_limit_usd); it stays on local models")


async def respond(services: Services, request: Request, chosen: Plan) -> Response:
    """Answer per `chosen`, streamed or not; meter it and record it once it ends."""
    if not request.chat.stream:
        answer, hermes, headers = await complete(services, request, chosen)
        return request.dialect.json_response(answer, hermes, headers)
    chunks, settle, headers = await open_stream(services, request, chosen)
    return request.dialect.sse_response(chunks, request.chat.include_usage, settle, headers)


async def open_stream(services: Services, request: Request, chosen: Plan) -> tuple[AsyncIterator[dict[str, Any]], Settle, dict[str, str]]:
    """A metered stream per `chosen`: (its chunks, how it settles at its end, its headers).

    Raises what fails before the first chunk (the budget, an upstream that
    cannot be reached), having settled it; an upgrade that fails that way
    answers with the local answer it was to replace instead (fallback.py).
    """
    try:
        return await _open_stream(services, request, chosen)
    except HermesError as error:
        if (instead := local_instead(services.config, chosen, error)) is None:
            raise
        return await _open_stream(services, request, instead)


async def complete(services: Services, request: Request, chosen: Plan) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """A non-streamed answer per `chosen`: (the chat.completion, the "hermes" field, the headers).

    A failed upgrade answers with the local answer it was to replace (fallback.py); other failures raise.
    """
    try:
        return await _complete(services, request, chosen)
    except HermesError as error:
        if (instead := local_instead(services.config, chosen, error)) is None:
            raise
        return await _complete(services, request, instead)


async def _open_stream(services: Services, request: Request, chosen: Plan) -> tuple[AsyncIterator[dict[str, Any]], Settle, dict[str, str]]:
    """A metered stream per `chosen`; raises what fails before the first chunk, having settled it."""
    call = await MeteredCall.open(services, request, chosen)
    grant = call.metered.grant
    try:
        if chosen.answer is not None:
            chunks = completion_chunks(chosen.answer)
            call.answer = chosen.answer["choices"][0]["message"]
        else:
            opening = services.upstream.stream(chosen.target, call.metered.chat)
            if call.unseen is not None and grant is not None:  # a cloud call: read to its end if its client leaves
                chunks = _noting_generation(await call.unseen.opened(opening), services.store, grant.reservation_id)
            else:
                chunks = await opening
            call.streamed = StreamedMessage()
            chunks = _collecting(chunks, call.streamed)
    except BaseException as exc:
        await call.settle(None, failure(exc), partial=maybe_billed(exc))
        raise
    return chunks, call.settle, call.headers


async def _complete(services: Services, request: Request, chosen: Plan) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """A non-streamed answer per `chosen`; raises what fails, having settled it."""
    call = await MeteredCall.open(services, request, chosen)
    try:
        if chosen.answer is not None:
            answer = chosen.answer
        elif call.unseen is not None:  # a cloud call: read to its end even if its client leaves
            answer = await call.unseen.answer(services.upstream.complete(chosen.target, call.metered.chat))
        else:
            answer = await services.upstream.complete(chosen.target, call.metered.chat)
    except BaseException as exc:
        await call.settle(None, failure(exc), partial=maybe_billed(exc))
        raise
    call.answer = answer["choices"][0]["message"]
    hermes = await call.settle(answer["usage"], None)
    headers = call.headers | call.report.headers(hermes["cost_usd"], hermes["budget_remaining_usd"])
    return answer, hermes, headers


async def record_failure(services: Services, error: HermesError, started: float, chat: ChatRequest | None = None,
                         request: Request | None = None, chosen: Plan | None = None,
                         asked: str | None = None) -> None:
    """Record a chat request that failed before any call was metered (bad input, unknown model, budget).

    `asked`: the model the body named, when it was read but not understood. The error's message and how far
    the request got are kept with it (the dashboard's detail view shows them).
    """
    if request is not None:
        if request.outcome.recorded:
            return  # its call recorded it
        request.outcome.recorded = True
    model = chosen.target.model if chosen else None
    chat = request.chat if request else chat
    reached = ("routed to " + model.name if model else "understood: classified, not yet routed" if request
               else "read, but not understood" if chat or asked else "not read")
    await services.store.record_task(TaskRecord(
        requested_model=chat.model if chat else (asked or "")[:200], route=model.kind if model else None,
        model=model.name if model else None, stream=bool(chat and chat.stream), status=error.status,
        error_code=error.code, messages=chat.messages if chat else [], prompt_hash=chat.prompt_hash if chat else None,
        input_tokens=0, output_tokens=0,
        cost_usd=0.0, latency_ms=(time.monotonic() - started) * 1000,
        task_type=request.task.task_type if request else None,
        session_id=request.conversation.session_id if request else None,
        hermes={"error": {"code": error.code, "message": error.message}, "reached": reached,
                "cascade": None if chosen is None or chosen.cascade is None else {
                    "attempts": [a.as_dict() for a in chosen.cascade.attempts], "policy": chosen.policy,
                    "decision": chosen.reason}},
    ))


async def _noting_generation(chunks: AsyncIterator[dict[str, Any]], store: Store,
                             reservation_id: int) -> AsyncIterator[dict[str, Any]]:
    """`chunks`, the upstream's id noted on the reservation before the first goes by (see reconcile.py).

    Before, not beside: a crash right after the client saw the first words
    must still find the id, to charge what OpenRouter says the call cost.
    """
    async with aclosing(chunks):  # closing this closes the upstream call
        noted = False
        async for chunk in chunks:
            if not noted:
                await store.note_generation(reservation_id, chunk["id"])
                noted = True
            yield chunk


async def _collecting(chunks: AsyncIterator[dict[str, Any]], message: StreamedMessage
                      ) -> AsyncIterator[dict[str, Any]]:
    """`chunks`, each also added to `message`: the answer the client will send back next turn."""
    async with aclosing(chunks):
        async for chunk in chunks:
            message.add(chunk)
            yield chunk
