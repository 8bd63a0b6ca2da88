"""The dashboard's data: its JSON against the requests sent (test_dashboard_page.py: the page in a browser)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.edge.test_app import HI, chat
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub
from tests.postgres import query

SCRIPT_PROMPT = "<script>alert(1)</script> why does this not run?"


def send_traffic(url: str) -> dict[str, httpx.Response]:
    """Four real requests: local twice (conversation, quick_qa), gpt-4 via the stub, `auto` that must stay local."""
    sent = {
        "local": chat(url, {"model": "local", "messages": HI, "max_tokens": 4}),
        "question": chat(url, {"model": "local", "messages": [{"role": "user", "content": "What is 2+2?"}],
                               "max_tokens": 4}),
        "cloud": chat(url, {"model": "gpt-4", "messages": [{"role": "user", "content": "Fix the typo in my README"}]}),
        "auto": chat(url, {"model": "auto", "messages": HI, "max_tokens": 8},
                     headers={"X-Hermes-Upgrade-Policy": "never"}),
    }
    for name, response in sent.items():
        assert response.status_code == 200, (name, response.text)
    return sent


def dashboard_data(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v1/monitoring/dashboard", timeout=10)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_dashboard_api_matches_the_requests_sent(hermes_url: str, openrouter: OpenRouterStub) -> None:
    sent = send_traffic(hermes_url)
    assert [sent[name].headers["x-hermes-route"] for name in sent] == ["local", "local", "cloud", "local"]
    auto = sent["auto"].json()["hermes"]
    score = auto["quality"]["score"]
    [tried] = [a for a in auto["cascade"]["attempts"] if a["outcome"] in ("accepted", "rejected")]
    accepted = int(tried["outcome"] == "accepted")
    data = dashboard_data(hermes_url)

    budget = data["budget"]
    assert (budget["spent_usd"], budget["reserved_usd"], budget["limit_usd"]) == (COST_PER_CALL_USD, 0, 5.0)
    assert budget["remaining_usd"] == pytest.approx(5.0 - COST_PER_CALL_USD)
    assert budget["tier"] == "normal"
    days = data["spend_by_day"]
    assert [d["day"] for d in days] == [(date.fromisoformat(budget["day"]) - timedelta(days=back)).isoformat()
                                        for back in range(13, -1, -1)]
    assert days[-1] == {"day": budget["day"], "total_usd": COST_PER_CALL_USD, "by_model": {"gpt-4": COST_PER_CALL_USD}}
    assert all(d["total_usd"] == 0 and d["by_model"] == {} for d in days[:-1])
    # Of the three local answers only the `auto` one stood in for a cloud call (the others asked for local).
    assert auto["savings"]["estimated_cost_usd"] > 0
    assert (data["savings"]["today_usd"], data["savings"]["answers"]) == (auto["savings"]["estimated_cost_usd"], 1)

    by_type = {row["task_type"]: row for row in data["by_task_type"]}
    assert by_type["conversation"] == {
        "task_type": "conversation", "requests": 2, "local": 2, "cloud": 0, "local_share": 1.0,
        "local_tried": 1, "local_accepted": accepted, "local_success_rate": float(accepted),
        "mean_quality": round(score, 2),
    }
    assert by_type["quick_qa"] == {
        "task_type": "quick_qa", "requests": 1, "local": 1, "cloud": 0, "local_share": 1.0,
        "local_tried": 0, "local_accepted": 0, "local_success_rate": None, "mean_quality": None,
    }
    assert (by_type["code_generation"]["cloud"], by_type["code_generation"]["local_share"]) == (1, 0.0)
    assert set(by_type) == {"conversation", "quick_qa", "code_generation"}
    assert data["upgrade"] == {"auto_requests": 1, "to_cloud": 0, "rate": 0.0}
    assert data["quality"] == {"scored": 1, "mean": round(score, 2)}
    latency = data["latency_ms"]
    assert latency["requests"] == 4 and 0 < latency["p50"] <= latency["p95"]

    [prediction] = data["predictions"]
    assert (prediction["model"], prediction["task_type"]) == ("gpt-4", "code_generation")
    assert prediction["actual_cost_usd"] == COST_PER_CALL_USD and prediction["error_pct"] >= 0

    latest = data["latest"]
    assert [(t["requested_model"], t["route"], t["model"], t["task_type"]) for t in latest] == [
        ("auto", "local", "smollm2:135m", "conversation"),
        ("gpt-4", "cloud", "gpt-4", "code_generation"),
        ("local", "local", "smollm2:135m", "quick_qa"),
        ("local", "local", "smollm2:135m", "conversation"),
    ]
    assert [t["quality"] for t in latest] == [round(score, 2), None, None, None]
    assert [t["cost_usd"] for t in latest] == [0, COST_PER_CALL_USD, 0, 0]
    assert all(t["prompt"] is None and re.fullmatch(r"[0-9a-f]{12}", t["prompt_hash"]) for t in latest)
    assert latest[0]["prompt_hash"] == latest[3]["prompt_hash"]  # the same "hi"
    assert [t["local_quality"] for t in latest] == [None] * 4  # no cloud answer replaced a local one
    assert [(t["input_tokens"], t["output_tokens"]) for t in latest][1] == (
        sent["cloud"].json()["usage"]["prompt_tokens"], sent["cloud"].json()["usage"]["completion_tokens"])
    assert all("session_id" in t for t in latest)

    auto_row = request_detail(hermes_url, latest[0]["id"])
    assert auto_row["recorded"] is True and auto_row["attempts"] == auto["cascade"]["attempts"]
    assert auto_row["decision"]["reason"] == auto["cascade"]["decision"]
    assert auto_row["decision"]["reason"] == ("smollm2:135m reached the target" if accepted else
                                              "policy never: stayed local: the best local answer (smollm2:135m) "
                                              f"scored {score:.1f}, below the target {auto['quality']['target']:.1f}; "
                                              "task tier default: any cloud model")
    cloud_row = request_detail(hermes_url, latest[1]["id"])
    assert auto_row["quality"] == round(score, 2) and auto_row["local_quality"] is None
    assert (cloud_row["attempts"], cloud_row["decision"]["reason"]) == ([], "gpt-4 requested")
    assert cloud_row["cost_usd"] == COST_PER_CALL_USD and cloud_row["stream"] is False
    for missing in (999, 2**64):
        response = httpx.get(f"{hermes_url}/api/v1/monitoring/requests/{missing}", timeout=10)
        assert response.status_code == 404 and f"#{missing}" in response.json()["error"]["message"]


def request_detail(url: str, task_id: int) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v1/monitoring/requests/{task_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_request_detail_shows_the_recorded_verdict(hermes_url: str, database: Path | str) -> None:
    """Each task row keeps its session and the "hermes" field as sent (m007): the detail's attempts,
    signals and decision are the request's own, not matched from the cascade's log."""
    response = chat(hermes_url, {"model": "auto", "messages": HI, "max_tokens": 8},
                    headers={"X-Hermes-Upgrade-Policy": "never"})
    hermes = response.json()["hermes"]
    [stored] = query(database, "SELECT hermes FROM tasks")
    assert json.loads(stored["hermes"]) == hermes
    [row] = dashboard_data(hermes_url)["latest"]
    assert row["session_id"] == hermes["session"]["id"] == response.headers["x-hermes-session-id"]
    detail = request_detail(hermes_url, row["id"])
    assert detail["recorded"] is True
    assert detail["attempts"] == hermes["cascade"]["attempts"]
    assert detail["signals"] == hermes["quality"]["signals"] and detail["signals"]
    assert detail["decision"] == {"policy": "never", "reason": hermes["cascade"]["decision"]}
    assert detail["quality"] == hermes["quality"]["score"]


def test_dashboard_api_on_an_empty_store_has_no_figures_to_divide(hermes_url: str) -> None:
    data = dashboard_data(hermes_url)
    assert data["budget"]["spent_usd"] == 0 and data["budget"]["remaining_usd"] == 5.0
    assert len(data["spend_by_day"]) == 14 and all(d["total_usd"] == 0 for d in data["spend_by_day"])
    assert (data["by_task_type"], data["predictions"], data["latest"]) == ([], [], [])
    assert data["upgrade"] == {"auto_requests": 0, "to_cloud": 0, "rate": None}
    assert data["quality"] == {"scored": 0, "mean": None}
    assert data["latency_ms"] == {"requests": 0, "p50": None, "p95": None}


def test_dashboard_page_and_assets_are_served_with_a_strict_policy(hermes_url: str) -> None:
    page = httpx.get(f"{hermes_url}/dashboard", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/dashboard/dashboard.js" defer></script>' in page.text
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        response = httpx.get(f"{hermes_url}/dashboard/{name}", timeout=10)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    for path in ("dashboard.html", "..%2Fstore.py", "%2E%2E/store.py"):  # only the two assets, nothing beside them
        assert httpx.get(f"{hermes_url}/dashboard/{path}", timeout=10).status_code == 404


def test_a_cloud_calls_prompt_cache_use_is_in_its_detail_the_totals_and_hermes_stats(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    # OpenRouter's usage for a call that read 8 of its 12 input tokens from the cache and wrote 2.
    openrouter.usage_extra = {"prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 2}}
    assert chat(hermes_url, {"model": "cloud", "messages": HI}).status_code == 200
    data = dashboard_data(hermes_url)
    [row] = data["latest"]
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (12, 8, 2)
    detail = httpx.get(f"{hermes_url}/api/v1/monitoring/requests/{row['id']}", timeout=10).json()
    assert (detail["cache_read_tokens"], detail["cache_write_tokens"]) == (8, 2)
    assert data["prompt_cache"] == {"input_tokens": 12, "read_tokens": 8, "written_tokens": 2, "read_share": 0.6667}
    assert data["prices"]["source"] == "litellm 1.100.5's table (OpenRouter's catalogue has not been fetched yet)"

    from click.testing import CliRunner

    from proxy.cli.main import cli

    shown = CliRunner().invoke(cli, ["stats", "--url", hermes_url], env={"COLUMNS": "200"})
    assert "67% of cloud input read from the cache (8 of 12 tokens), 2 written" in shown.output
    assert "litellm 1.100.5's table" in shown.output
