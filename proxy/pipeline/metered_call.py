"""One metered call in progress: reserved when it opens, settled and recorded exactly once when it ends.

steps.py opens one per answer it gives (a cloud call, or a local answer in
hand); a call that fails is settled too, at its worst case when the upstream
may have served it all the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from proxy.errors import ClientClosed, HermesError, UpstreamTimeout
from proxy.money.meter import Metered
from proxy.pipeline.cascade import Plan
from proxy.pipeline.report import Report
from proxy.pipeline.services import Request, Services
from proxy.pipeline.unseen import Unseen
from proxy.pipeline.upgrade import cache_context
from proxy.wire.openai_api import StreamedMessage


def maybe_billed(exc: BaseException) -> bool:
    """Whether a call that ended with `exc` may have been served (and billed) all the same.

    An upstream that answered with an error did not serve the call; one cut
    off by a timeout or by the client leaving may have, so its outcome is
    unknown and it counts at its worst case.
    """
    return isinstance(exc, UpstreamTimeout) or not isinstance(exc, HermesError)


def failure(exc: BaseException) -> HermesError:
    """The error a call ended with, as recorded: a cancellation means the client went away."""
    if isinstance(exc, HermesError):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return ClientClosed("The client closed the connection.")
    return HermesError("Hermes hit an internal error; the details are in its log.", code="internal_error")


@dataclass
class MeteredCall:
    """One metered call in progress; `settle` ends it exactly once, even if the request is cancelled."""

    report: Report
    metered: Metered
    headers: dict[str, str]
    started: float
    answer: dict[str, Any] | None = None  # the assistant message given, once known: the session's link
    streamed: StreamedMessage | None = None  # what a relayed stream's chunks add up to, if it is one
    unseen: Unseen | None = None  # a cloud call's rest, read if its client leaves (unseen.py)
    _settled: asyncio.Future[dict[str, Any]] | None = None

    @classmethod
    async def open(cls, services: Services, request: Request, chosen: Plan) -> MeteredCall:
        model = chosen.target.model
        cache = await cache_context(services.store, request.conversation, model.name,
                                    services.prices.price(model.name)) if model.kind == "cloud" else None
        metered = await services.meter.start(chosen.target, request.chat, request.task.task_type, request.key, cache)
        report = Report(services, request, chosen, metered)
        cloud = chosen.target.model.kind == "cloud"
        unseen = Unseen(services.store.spawn, services.in_flight) if metered.grant is not None else None
        return cls(report, metered, report.headers(cost_usd=None if cloud else 0.0), request.started, unseen=unseen)

    async def settle(self, usage: dict[str, Any] | None, error: HermesError | None, partial: bool = True) -> dict[str, Any]:
        if self._settled is None:
            self.report.request.outcome.recorded = True  # now, not when the task gets to it
            store = self.report.services.store
            self._settled = store.spawn(self._settle(usage, error, partial))
        return await asyncio.shield(self._settled)

    async def _settle(self, usage: dict[str, Any] | None, error: HermesError | None, partial: bool) -> dict[str, Any]:
        services = self.report.services

        if usage is None and self.unseen is not None and self.unseen.left:
            usage = await self.unseen.usage()  # the client left; the upstream's bill came at the end all the same

        async def settle_and_record() -> dict[str, Any]:  # one transaction: the money and its record, or neither
            bill = await services.meter.finish(self.metered, usage, failed=error is not None, partial=partial)
            answer = self.answer or (self.streamed.message() if self.streamed and error is None else None)
            return await self.report.record(usage, error, bill, self.started, answer)

        return await services.store.atomic(settle_and_record)
