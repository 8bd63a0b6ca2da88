"""What a response says about itself (the X-Hermes-* headers, the "hermes" field) and what is recorded of it.

Made once per metered call by metered_call.MeteredCall; reads the request, the plan
and the meter's figures, never changes them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxy.errors import HermesError
from proxy.money import cache_use
from proxy.money.meter import Bill, Metered
from proxy.money.pricing import cache_tokens
from proxy.pipeline.cascade import Plan, accepted_upgrade
from proxy.pipeline.savings import Savings, estimate_savings
from proxy.pipeline.session import answer_links
from proxy.pipeline.upgrade import UpgradeOption, best_option, tier_models
from proxy.storage.store import TaskRecord

if TYPE_CHECKING:
    from proxy.pipeline.services import Request, Services


@dataclass(frozen=True)
class Report:
    """What a response says about itself (headers, the "hermes" field) and what is recorded."""

    services: Services
    request: Request
    plan: Plan
    metered: Metered

    def headers(self, cost_usd: float | None, remaining_usd: float | None = None) -> dict[str, str]:
        plan, status = self.plan, self.metered.status
        headers = {
            "X-Hermes-Route": plan.target.model.kind,
            "X-Hermes-Model": plan.target.model.name,
            "X-Hermes-Task-Type": self.request.task.header(),
            "X-Hermes-Tier": status.tier_name,
            "X-Hermes-Budget-Remaining-USD": usd(status.remaining_usd if remaining_usd is None else remaining_usd),
            "X-Hermes-Session-Id": self.request.conversation.session_id,
        }
        if plan.reason:
            headers["X-Hermes-Reason"] = header_text(plan.reason)
        if cost_usd is not None:  # a cloud stream's cost is known only at its end, in the "hermes" field
            headers["X-Hermes-Cost-USD"] = usd(cost_usd)
        quality = self._quality()
        if quality:
            headers["X-Hermes-Quality"] = f"{quality['score']:.1f}/{quality['target']:.1f}"
        best = self._best_option()
        if best is not None:
            headers["X-Hermes-Upgrade"] = best.header()
            headers["X-Hermes-Session-Cost-USD"] = usd(best.session.rest_of_session_cost_usd)
        if plan.cascade:
            skipped = [f"{a.model} ({a.detail})" for a in plan.cascade.attempts if a.outcome == "skipped"]
            if skipped:
                headers["X-Hermes-Skipped"] = "; ".join(skipped)
        if self._no_cloud():
            headers["X-Hermes-Cloud"] = "unavailable: OPENROUTER_API_KEY is not set"
        return headers

    def _no_cloud(self) -> str | None:
        """Why `auto` has nowhere to upgrade to, said on every answer while it is so; None when it has."""
        if self.request.chat.model != "auto" or self.services.config.openrouter_api_key is not None:
            return None
        return ("OPENROUTER_API_KEY is not set: auto cannot upgrade to a cloud model, so every answer is local; "
                "set the key and restart Hermes")

    def hermes(self, bill: Bill, savings: Savings | None = None) -> dict[str, Any]:
        metered, plan, task = self.metered, self.plan, self.request.task
        estimate = metered.estimate
        return {
            "route": plan.target.model.kind,
            "model": plan.target.model.name,
            "requested_model": self.request.chat.model,
            "reason": plan.reason,  # why it went where it did: the same words as X-Hermes-Reason
            "task_type": task.task_type,
            "classification": {"tier": task.tier, "rule": task.rule},
            "tier": bill.status.tier_name,
            "cost_usd": round(bill.cost_usd, 8),
            "budget_remaining_usd": round(bill.status.remaining_usd, 8),
            "budget_limit_usd": bill.status.limit_usd,
            "estimate": {
                "input_tokens": estimate.input_tokens,
                "output_tokens": estimate.output_tokens,
                "cost_usd": round(metered.estimated_cost_usd, 8),
                "confidence": round(estimate.confidence, 3),
            },
            "quality": self._quality(),
            "cascade": None if plan.cascade is None else {
                "attempts": [a.as_dict() for a in plan.cascade.attempts],
                "policy": plan.policy,
                "decision": plan.reason,
            },
            "upgrade_options": [o.as_dict() for o in plan.options],
            "savings": None if savings is None else savings.as_dict(),  # a local answer's avoided cloud cost
            "session": {"id": self.request.conversation.session_id, "turns": self.request.conversation.turns},
            "cloud_unavailable": self._no_cloud(),  # null while auto can upgrade
        }

    async def record(self, usage: dict[str, Any] | None, error: HermesError | None, bill: Bill,
                     started: float, answer: dict[str, Any] | None = None) -> dict[str, Any]:
        """The task row, the session's turn and the link to `answer` (inside the settlement's transaction).

        Returns the "hermes" field, which the task row keeps for the dashboard's detail view.
        """
        store, chat, model = self.services.store, self.request.chat, self.plan.target.model
        savings = await self._savings(error)
        hermes = self.hermes(bill, savings)
        usage = usage or {}
        output_tokens = int(usage.get("completion_tokens", 0))
        read, written = cache_tokens(usage)
        if model.kind == "cloud" and error is None and usage:
            await self._learn_cache_use(int(usage.get("prompt_tokens", 0)), read, written)
        await store.record_task(TaskRecord(
            requested_model=chat.model, route=model.kind, model=model.name, stream=chat.stream,
            status=error.status if error else 200, error_code=error.code if error else None,
            messages=chat.messages, input_tokens=int(usage.get("prompt_tokens", 0)), output_tokens=output_tokens,
            cost_usd=bill.cost_usd, latency_ms=(time.monotonic() - started) * 1000, task_type=self.request.task.task_type,
            session_id=self.request.conversation.session_id, hermes=hermes,
            saved_usd=None if savings is None else savings.estimated_cost_usd,
            cache_read_tokens=read, cache_write_tokens=written, prompt_hash=chat.prompt_hash,
        ))
        conversation = self.request.conversation
        if error is None and model.kind == "cloud" and chat.model == "auto" and accepted_upgrade(
                self.services.config, self.request.headers) is not None:
            await store.unsave_replaced_answer(conversation.session_id)  # paid to replace it: it saved nothing
        stays_on = model.name if model.kind == "cloud" and chat.model == "auto" and error is None else None
        await store.touch_session(conversation.session_id, conversation.turns, self.metered.estimate.input_tokens,
                                  conversation.mean_user_tokens, output_tokens or self.metered.estimate.output_tokens,
                                  bill.cost_usd, stays_on=stays_on, client=conversation.client or None)
        if answer is not None and not conversation.named:  # the next turn finds its session by this answer
            for link in answer_links(conversation, answer):
                await store.add_answer_link(link, conversation.session_id, stays_on)
        return hermes

    async def _learn_cache_use(self, input_tokens: int, read: int, written: int) -> None:
        """Fold this turn's use of the model's prompt cache into what its agent is known to do (cache_use.py),
        when the session's turn before it was on the same model."""
        store, model, conversation = self.services.store, self.plan.target.model, self.request.conversation
        if not conversation.resumed:  # a session new with this request has no turn before it
            return
        before = await store.session_turns(conversation.session_id, limit=1)
        if not before or before[-1]["model"] != model.name:
            return
        seen = cache_use.observed(int(before[-1]["input_tokens"]), input_tokens, read, written)
        if seen is None:
            return
        row = await store.cache_use(conversation.client, model.name)
        known = cache_use.CacheUse(row["read_ratio"], row["write_ratio"], row["turns"]) if row else None
        learned = cache_use.fold(known, seen)
        await store.put_cache_use(conversation.client, model.name, learned.turns, learned.read, learned.write)

    def _quality(self) -> dict[str, Any] | None:
        cascade = self.plan.cascade
        if cascade is None or cascade.best is None or cascade.best.score is None:
            return None
        target = self.request.task.target_quality or self.services.preferences.current.target_quality
        score = cascade.best.score
        return {
            "score": score.score,
            "target": target,
            "of_model": cascade.best.model,
            "explanation": score.explain(),
            "signals": [dataclasses.asdict(signal) for signal in score.signals],
        }

    async def _savings(self, error: HermesError | None) -> Savings | None:
        """For an `auto` request answered locally, the cloud call it avoided (savings.py); else None."""
        services, chat = self.services, self.request.chat
        if error is not None or self.plan.target.model.kind != "local" or chat.model != "auto":
            return None
        if self.plan.failed_upgrade:  # it meant to pay, and the cloud failed: nothing was saved
            return None
        if services.config.openrouter_api_key is None:  # no cloud model could have answered
            return None
        target = self.request.task.target_quality or services.preferences.current.target_quality
        # What `cloud` would go to for this request: the task tier's models, within the budget tier's.
        allowed = tier_models(services.config, self.request.task.tier,
                              services.meter.budget.allowed_models(self.metered.status)).models
        return await estimate_savings(chat, self.request.task.task_type, self.plan.options, target, allowed,
                                      services.prices, services.store)

    def _best_option(self) -> UpgradeOption | None:
        target = self.request.task.target_quality or self.services.preferences.current.target_quality
        return best_option(self.plan.options, target)


def header_text(text: str) -> str:
    """`text` as a header value can carry it: printable ASCII, at most 300 characters."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return printable if len(printable) <= 300 else printable[:299] + "~"


def usd(amount: float) -> str:
    """A dollar amount as the headers and messages show it: six decimals."""
    return f"{amount:.6f}"
