"""/metrics in Prometheus's text format, read from the SQLite store at scrape time.

Nothing in the request pipeline counts anything: every figure is a query
over what the store already records, so a restart loses no counts. Each
scrape reads a `Snapshot` (async, from the store) and renders it through a
`CollectorRegistry` of its own, never prometheus_client's global one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from proxy.money.budget import BudgetStatus
from proxy.pipeline.services import Services
from proxy.storage import reports
from proxy.storage.retention import LATENCY_BOUNDS_MS

# Upper bounds of the latency histogram, in seconds: a cloud call takes seconds, a small local model on a
# CPU can take minutes. The bounds retention keeps for folded requests, so old days stay in the histogram.
LATENCY_BUCKETS_S = tuple(bound_ms / 1000 for bound_ms in LATENCY_BOUNDS_MS)


@dataclass(frozen=True)
class Snapshot:
    """What one scrape reports, as read from the store."""

    status: BudgetStatus
    requests: list[dict[str, Any]]
    charged: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    latency: list[dict[str, Any]]
    saved: list[dict[str, Any]]  # all time, per cloud model stood in for
    saved_today: dict[str, Any]

    @classmethod
    async def read(cls, services: Services) -> Snapshot:
        store = services.store
        status = await services.meter.budget.status()
        return cls(
            status=status,
            requests=await reports.request_counts(store),
            charged=await reports.charged_by_model(store),
            attempts=await reports.attempt_totals(store, ""),
            latency=await reports.latency_histogram(store, tuple(bound * 1000 for bound in LATENCY_BUCKETS_S)),
            saved=await reports.saved_by_model(store),
            saved_today=await reports.saved_today(store, status.resets_at),
        )


class StoreCollector(Collector):
    """Turns a `Snapshot` into metric families; counters are all-time totals from the store."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._budget()
        yield from self._cascade()
        yield from self._savings()
        yield self._latency()

    def _requests(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("hermes_requests",
                                       "Chat requests answered or failed, by route, model and HTTP status.",
                                       labels=["route", "model", "status"])
        for row in self.snapshot.requests:
            requests.add_metric([row["route"], row["model"], str(row["status"])], row["requests"])
        yield requests
        spend = CounterMetricFamily("hermes_cloud_spend_usd", "Cloud spend charged to the budget, all time, by model.",
                                    labels=["model"])
        calls = CounterMetricFamily("hermes_cloud_calls", "Cloud calls charged to the budget, all time, by model.",
                                    labels=["model"])
        for row in self.snapshot.charged:
            spend.add_metric([row["model"]], row["cost_usd"])
            calls.add_metric([row["model"]], row["calls"])
        yield spend
        yield calls

    def _budget(self) -> Iterator[Metric]:
        status = self.snapshot.status
        for name, text, value in (
            ("hermes_budget_limit_usd", "Today's cloud budget.", status.limit_usd),
            ("hermes_spend_today_usd", "Cloud spend charged today.", status.spent_usd),
            ("hermes_reserved_today_usd", "Cloud spend held for calls in progress.", status.reserved_usd),
            ("hermes_budget_remaining_usd", "What is left of today's cloud budget.", status.remaining_usd),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        tier = GaugeMetricFamily("hermes_budget_tier", "The budget tier in force (1 for the current one).",
                                 labels=["tier"])
        tier.add_metric([status.tier_name], 1)
        yield tier

    def _cascade(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "hermes_cascade_attempts",
            "Local answers in the cascade by model, task type and outcome (accepted, rejected, skipped).",
            labels=["model", "task_type", "outcome"],
        )
        for row in self.snapshot.attempts:
            key = [row["model"], row["task_type"]]
            attempts.add_metric([*key, "accepted"], row["accepted"])
            attempts.add_metric([*key, "rejected"], row["tried"] - row["accepted"])
            attempts.add_metric([*key, "skipped"], row["skipped"])
        yield attempts

    def _savings(self) -> Iterator[Metric]:
        saved = CounterMetricFamily(
            "hermes_saved_usd",
            "Estimated cost of the cloud calls that local answers stood in for (see the README), all time, "
            "by the cloud model compared with.", labels=["model"])
        answers = CounterMetricFamily("hermes_saved_answers", "Local answers that stood in for a cloud call, all time.",
                                      labels=["model"])
        for row in self.snapshot.saved:
            saved.add_metric([row["model"]], row["saved_usd"])
            answers.add_metric([row["model"]], row["answers"])
        yield saved
        yield answers
        yield GaugeMetricFamily("hermes_saved_today_usd", "What today's local answers saved, at the cloud estimate.",
                                value=self.snapshot.saved_today["today_usd"] or 0.0)

    def _latency(self) -> Metric:
        latency = HistogramMetricFamily("hermes_request_latency_seconds",
                                        "Request latency as each task recorded it (tasks.latency_ms), by route.",
                                        labels=["route"])
        for row in self.snapshot.latency:
            buckets = [(_bound(bound), row[f"le_{i}"]) for i, bound in enumerate(LATENCY_BUCKETS_S)]
            buckets.append(("+Inf", row["requests"]))
            latency.add_metric([row["route"]], buckets, row["sum_ms"] / 1000)
        return latency


async def metrics(request: Request) -> Response:
    """`GET /metrics`: Prometheus text (or OpenMetrics, when the scraper asks for it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(await Snapshot.read(request.app.state.services)))
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)


def _bound(seconds: float) -> str:
    return repr(float(seconds))


routes: list[BaseRoute] = [Route("/metrics", metrics)]
