"""Savings: what each local answer's cloud stand-in would have cost, per answer and summed for the day."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner

from proxy.cli.main import cli
from proxy.config import Config
from proxy.money.estimate import count_input_tokens
from proxy.money.format import usd
from proxy.money.pricing import PriceTable
from proxy.storage import reports
from proxy.storage.store import Store, TaskRecord
from tests.edge.test_app import HI, chat, sse_events
from tests.edge.test_metrics import scrape, values
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

Serve = Callable[..., str]
ROME = [{"role": "user", "content": "Tell me about the history of Rome."}]  # no rule: conversation, tier default
YOLO = [{"role": "user", "content": "fast: name a colour"}]  # rule yolo: unscored, tier yolo (gemini-flash)


def saved_column(location: Path | str) -> list[float | None]:
    return [row["saved_usd"] for row in query(location, "SELECT saved_usd FROM tasks ORDER BY id")]


def final_hermes(response: httpx.Response) -> dict[str, Any]:
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    [hermes] = [e["hermes"] for e in events[:-1] if isinstance(e, dict) and "hermes" in e]
    return hermes  # type: ignore[no-any-return]


def budget_json(*argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["budget", "--json", *argv], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_local_answers_carry_their_savings_and_the_day_sums_them_everywhere(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, tmp_path: Path,
    database: Path | str,
) -> None:
    config = make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask"})
    prices = PriceTable.from_config(config)
    url = serve_hermes(config)

    # An `auto` answer kept local while an upgrade was on offer: it saved what that upgrade would have cost.
    asked = chat(url, {"model": "auto", "messages": ROME, "max_tokens": 8, "temperature": 0})
    assert asked.status_code == 200 and asked.headers["x-hermes-route"] == "local", asked.text
    hermes = asked.json()["hermes"]
    offered = asked.headers["x-hermes-upgrade"].split(";")[0]
    [option] = [o for o in hermes["upgrade_options"] if o["model"] == offered]
    assert hermes["savings"] == {
        "model": offered, "basis": "upgrade", "input_tokens": option["input_tokens"],
        "output_tokens": option["output_tokens"], "estimated_cost_usd": option["estimated_cost_usd"]}
    assert hermes["savings"]["estimated_cost_usd"] > 0

    # A yolo answer (no cascade, streamed live) priced no upgrade: it saved what `cloud` would have cost,
    # the task tier's model (gemini-flash), at the estimate an upgrade option would carry.
    live = chat(url, {"model": "auto", "messages": YOLO, "max_tokens": 8, "stream": True})
    assert live.status_code == 200, live.text
    yolo = final_hermes(live)
    assert yolo["route"] == "local" and yolo["upgrade_options"] == []
    flash = config.find_model("gemini-flash")
    assert flash is not None
    input_tokens = count_input_tokens(flash.litellm_model, YOLO)
    price = prices.price("gemini-flash")
    expected = input_tokens * price.input_usd + 100 * price.output_usd  # quick_qa's prior: 100 output tokens
    assert yolo["savings"] == {"model": "gemini-flash", "basis": "routing", "input_tokens": input_tokens,
                               "output_tokens": 100, "estimated_cost_usd": pytest.approx(expected, abs=1e-8)}
    assert yolo["savings"]["estimated_cost_usd"] > 0

    # The user's own choices save nothing: `local` asked for local, gpt-4 was paid for.
    local = chat(url, {"model": "local", "messages": HI, "max_tokens": 4})
    cloud = chat(url, {"model": "gpt-4", "messages": HI})
    assert local.headers["x-hermes-route"] == "local" and cloud.headers["x-hermes-route"] == "cloud"
    assert local.json()["hermes"]["savings"] is None and cloud.json()["hermes"]["savings"] is None

    per_answer = [hermes["savings"]["estimated_cost_usd"], yolo["savings"]["estimated_cost_usd"]]
    assert saved_column(database) == [pytest.approx(per_answer[0], abs=1e-8), pytest.approx(per_answer[1], abs=1e-8),
                                      None, None]
    total = pytest.approx(sum(per_answer), abs=1e-8)

    analysis = httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()["savings"]
    assert (analysis["today_usd"], analysis["answers"]) == (total, 2)
    assert {row["model"]: row["saved_usd"] for row in analysis["by_model"]} == {
        offered: pytest.approx(per_answer[0], abs=1e-8), "gemini-flash": pytest.approx(per_answer[1], abs=1e-8)}
    dashboard = httpx.get(f"{url}/api/v1/monitoring/dashboard", timeout=10).json()
    assert dashboard["savings"]["today_usd"] == total

    from_proxy = budget_json("--url", url)
    assert from_proxy["source"] == "proxy" and from_proxy["savings"]["today_usd"] == total
    # The configured database read directly (a SQLite file or a PostgreSQL URL), not the proxy.
    from_file = budget_json("--url", url, "--offline", "--config-dir", str(tmp_path / "config"),
                            env={"HERMES_DB": str(database)})
    assert from_file["source"] == "database" and from_file["savings"]["today_usd"] == total
    table = CliRunner().invoke(cli, ["budget", "--url", url], env={"COLUMNS": "200"})
    assert f"│ Saved today │ {usd(sum(per_answer))} by 2 local answers" in table.output

    _, metrics = scrape(url)
    assert metrics["hermes_saved_today_usd"][0].value == total
    assert values(metrics["hermes_saved_usd"], "hermes_saved_usd_total", "model") == {
        (offered,): pytest.approx(per_answer[0], abs=1e-8), ("gemini-flash",): pytest.approx(per_answer[1], abs=1e-8)}
    assert values(metrics["hermes_saved_answers"], "hermes_saved_answers_total", "model") == {
        (offered,): 1, ("gemini-flash",): 1}


def test_a_local_answer_then_replaced_by_an_accepted_upgrade_saved_nothing(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, database: Path | str,
) -> None:
    url = serve_hermes(make_config({"cascade": {"target_quality": 10.0}, "upgrade_policy": "ask"}))
    session = {"X-Session-Id": "yolo-run"}
    asked = chat(url, {"model": "auto", "messages": ROME, "max_tokens": 8}, headers=session)
    assert asked.headers["x-hermes-route"] == "local" and asked.json()["hermes"]["savings"] is not None
    other = chat(url, {"model": "auto", "messages": HI, "max_tokens": 4}, headers={"X-Session-Id": "other"})
    assert other.json()["hermes"]["savings"] is not None  # another session's local answer: it still saved
    offered = asked.headers["x-hermes-upgrade"].split(";")[0]
    paid = chat(url, {"model": "auto", "messages": ROME, "max_tokens": 8}, headers=session | {"X-Hermes-Upgrade": offered})
    assert paid.headers["x-hermes-route"] == "cloud"
    # The person paid to replace the local answer: it stood in for nothing.
    assert saved_column(database)[0] is None and saved_column(database)[1] is not None
    analysis = httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()["savings"]
    assert analysis["answers"] == 1


def test_without_a_cloud_key_nothing_is_saved_and_nothing_is_claimed(
    make_config: Callable[..., Config], serve_hermes: Serve, database: Path | str
) -> None:
    url = serve_hermes(make_config(OPENROUTER_API_KEY=""))
    response = chat(url, {"model": "auto", "messages": HI, "max_tokens": 4})
    assert response.status_code == 200 and response.headers["x-hermes-route"] == "local", response.text
    assert response.json()["hermes"]["savings"] is None
    assert saved_column(database) == [None]
    analysis = httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()
    assert analysis["savings"] == {"today_usd": None, "answers": 0, "by_model": []}
    assert httpx.get(f"{url}/api/v1/monitoring/dashboard", timeout=10).json()["savings"]["today_usd"] is None
    table = CliRunner().invoke(cli, ["budget", "--url", url], env={"COLUMNS": "200"})
    assert "│ Saved today │ nothing yet" in table.output
    _, metrics = scrape(url)
    assert metrics["hermes_saved_today_usd"][0].value == 0
    assert values(metrics["hermes_saved_usd"], "hermes_saved_usd_total", "model") == {}


@pytest.mark.asyncio
async def test_the_day_is_the_budget_day_in_its_time_zone(database: Path | str) -> None:
    # A budget day in Tokyo runs from 15:00 to 15:00 UTC: an answer at 14:59 UTC belongs to the day before.
    store = await Store.open(database)
    try:
        for saved in (0.25, 0.5, 1.0, None):
            await store.record_task(TaskRecord(
                requested_model="auto", route="local", model="smollm2:135m", stream=False, status=200,
                error_code=None, messages=HI, input_tokens=1, output_tokens=1, cost_usd=0.0, latency_ms=1.0,
                hermes={"savings": None if saved is None else {"model": "gpt-4"}}, saved_usd=saved))
    finally:
        await store.close()
    for task_id, at in ((1, "2026-03-09T14:59:59.999999+00:00"), (2, "2026-03-09T15:00:00+00:00"),
                        (3, "2026-03-10T14:59:59+00:00"), (4, "2026-03-10T12:00:00+00:00")):
        query(database, "UPDATE tasks SET created_at = ? WHERE id = ?", (at, task_id))
    store = await Store.open(database)
    try:
        resets_at = datetime(2026, 3, 11, tzinfo=ZoneInfo("Asia/Tokyo"))
        assert await reports.saved_today(store, resets_at) == {
            "today_usd": 1.5, "answers": 2, "by_model": [{"model": "gpt-4", "answers": 2, "saved_usd": 1.5}]}
        assert (await reports.saved_today(store, resets_at - timedelta(days=1)))["today_usd"] == 0.25
        assert (await reports.saved_today(store, resets_at + timedelta(days=1)))["today_usd"] is None
    finally:
        await store.close()
