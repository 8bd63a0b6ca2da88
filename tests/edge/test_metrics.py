"""/metrics: Prometheus text that parses, with counters that match the requests sent."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from proxy.edge.metrics import LATENCY_BUCKETS_S
from tests.edge.test_dashboard import send_traffic
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub

Samples = dict[str, list[Sample]]


def scrape(url: str, accept: str = "") -> tuple[httpx.Response, Samples]:
    response = httpx.get(f"{url}/metrics", headers={"accept": accept} if accept else {}, timeout=10)
    assert response.status_code == 200
    families = {family.name: family.samples for family in text_string_to_metric_families(response.text)}
    return response, families


def values(samples: list[Sample], name: str, *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels[label] for label in labels): s.value for s in samples if s.name == name}


def test_metrics_count_the_requests_sent(hermes_url: str, openrouter: OpenRouterStub) -> None:
    sent = send_traffic(hermes_url)
    auto = sent["auto"].json()["hermes"]
    [tried] = [a for a in auto["cascade"]["attempts"] if a["outcome"] in ("accepted", "rejected")]
    response, metrics = scrape(hermes_url)
    assert response.headers["content-type"].startswith("text/plain; version=")

    assert values(metrics["hermes_requests"], "hermes_requests_total", "route", "model", "status") == {
        ("local", "smollm2:135m", "200"): 3,
        ("cloud", "gpt-4", "200"): 1,
    }
    assert values(metrics["hermes_cloud_spend_usd"], "hermes_cloud_spend_usd_total", "model") == {
        ("gpt-4",): COST_PER_CALL_USD}
    assert values(metrics["hermes_cloud_calls"], "hermes_cloud_calls_total", "model") == {("gpt-4",): 1}
    assert metrics["hermes_spend_today_usd"][0].value == COST_PER_CALL_USD
    assert metrics["hermes_budget_remaining_usd"][0].value == pytest.approx(5.0 - COST_PER_CALL_USD)
    assert metrics["hermes_budget_limit_usd"][0].value == 5.0
    assert values(metrics["hermes_budget_tier"], "hermes_budget_tier", "tier") == {("normal",): 1}
    # Only the `auto` answer stood in for a cloud call; the `local` ones were the user's choice.
    savings = auto["savings"]
    assert values(metrics["hermes_saved_usd"], "hermes_saved_usd_total", "model") == {
        (savings["model"],): pytest.approx(savings["estimated_cost_usd"], abs=1e-8)}
    assert metrics["hermes_saved_today_usd"][0].value == pytest.approx(savings["estimated_cost_usd"], abs=1e-8)

    attempts = values(metrics["hermes_cascade_attempts"], "hermes_cascade_attempts_total", "task_type", "outcome")
    expected = {"accepted": 0, "rejected": 0, "skipped": 0} | {tried["outcome"]: 1}
    assert attempts == {("conversation", outcome): n for outcome, n in expected.items()}

    latency = metrics["hermes_request_latency_seconds"]
    counts = values(latency, "hermes_request_latency_seconds_count", "route")
    assert counts == {("local",): 3, ("cloud",): 1}
    for route in ("local", "cloud"):
        buckets = [s for s in latency if s.name.endswith("_bucket") and s.labels["route"] == route]
        assert [float(s.labels["le"]) for s in buckets] == [*LATENCY_BUCKETS_S, float("inf")]
        assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
        assert buckets[-1].value == counts[(route,)]
    assert all(s.value > 0 for s in latency if s.name.endswith("_sum"))


def test_metrics_of_an_empty_store_parse_and_say_the_whole_budget_is_left(hermes_url: str) -> None:
    _, metrics = scrape(hermes_url)
    assert metrics["hermes_requests"] == [] and metrics["hermes_request_latency_seconds"] == []
    assert metrics["hermes_spend_today_usd"][0].value == 0
    assert metrics["hermes_budget_remaining_usd"][0].value == 5.0


def test_metrics_speak_openmetrics_when_asked(hermes_url: str) -> None:
    response = httpx.get(f"{hermes_url}/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"},
                         timeout=10)
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_metrics_stay_out_of_the_global_registry(hermes_url: str) -> None:
    scrape(hermes_url)
    assert REGISTRY.get_sample_value("hermes_budget_remaining_usd") is None
