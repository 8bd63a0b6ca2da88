"""The dashboard: its JSON against the requests sent, and the page in a real headless Chromium."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.config import Config
from proxy.store import Prediction, Store, TaskRecord
from tests.conftest import REPO
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub
from tests.test_app import HI, chat

Serve = Callable[..., str]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the page is tested in headless Chromium, and none is installed (apt-get install -y chromium)")
SCRIPT_PROMPT = "<script>alert(1)</script> why does this not run?"
SCREENSHOT = REPO / "docs" / "dashboard.png"
SCREENSHOT_MAX_BYTES = 300_000


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


# -- in a real browser -----------------------------------------------------------


def browse(url: str, tmp_path: Path, *flags: str, virtual_ms: int = 3000) -> tuple[str, list[str]]:
    """Open `url` in headless Chromium for `virtual_ms` of page time, with `flags` saying what to do with it;
    (stdout, console messages).

    The page may reach 127.0.0.1 only: no proxy, and every host name resolves to nothing.
    """
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={virtual_ms}",
        *flags, url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    # Chromium logs each console message and uncaught error as ...:CONSOLE...] "text", source: ...
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def text_of(dom: str, element_id: str) -> str:
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', dom)
    assert match, f"no #{element_id} in the page"
    return match.group(1)


def refreshes(dom: str) -> int:
    match = re.search(r'<body data-refreshes="(\d+)"', dom)
    assert match
    return int(match.group(1))


@needs_chromium
def test_dashboard_page_shows_the_api_figures_and_prompts_only_as_text(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, tmp_path: Path
) -> None:
    url = serve_hermes(make_config({"server": {"store_prompts": True}}))
    dom, console = browse(f"{url}/dashboard", tmp_path, "--dump-dom")
    assert console == []
    assert refreshes(dom) == 1
    assert text_of(dom, "budget-spent") == "$0.00" and text_of(dom, "budget-limit") == "$5.00"
    assert text_of(dom, "kpi-requests") == "0"
    assert "No requests yet." in dom

    send_traffic(url)
    assert chat(url, {"model": "local", "messages": [{"role": "user", "content": SCRIPT_PROMPT}], "max_tokens": 4}
                ).status_code == 200
    data = dashboard_data(url)
    # Long enough in page time for the 5 s refresh to run twice more.
    dom, console = browse(f"{url}/dashboard", tmp_path, "--dump-dom", virtual_ms=11_000)
    assert console == []
    assert refreshes(dom) >= 3
    assert text_of(dom, "budget-spent") == f"${data['budget']['spent_usd']}" == "$0.00125"
    assert text_of(dom, "budget-tier") == "normal"
    assert text_of(dom, "kpi-requests") == str(sum(row["requests"] for row in data["by_task_type"])) == "5"
    assert text_of(dom, "kpi-upgrade-rate") == "0%"
    assert text_of(dom, "kpi-quality") == f"{data['quality']['mean']:.1f} / 10"
    assert dom.count("data-task-id=") == len(data["latest"]) == 5
    assert re.search(r'data-task-id="5".*?>\$0\.00<', dom)  # the newest row: local, free
    # The prompt is text in a cell; the only script element is the page's own.
    assert "<td class=\"prompt\">&lt;script&gt;alert(1)&lt;/script&gt; why does this not run?</td>" in dom
    assert dom.count("<script") == 1


@needs_chromium
def test_dashboard_screenshot_with_two_weeks_of_history(
    make_config: Callable[..., Config], serve_hermes: Serve, openrouter: OpenRouterStub, tmp_path: Path
) -> None:
    """Writes docs/dashboard.png: two weeks of recorded history (through the Store), then real requests."""
    config = make_config({"server": {"store_prompts": True}})
    seeded_usd = asyncio.run(_seed_history(config))
    url = serve_hermes(config)
    send_traffic(url)
    chat(url, {"model": "local", "messages": [{"role": "user", "content": SCRIPT_PROMPT}], "max_tokens": 4})
    data = dashboard_data(url)
    assert sum(d["total_usd"] for d in data["spend_by_day"]) == pytest.approx(seeded_usd + COST_PER_CALL_USD)

    dom, console = browse(f"{url}/dashboard", tmp_path, "--dump-dom")
    assert console == []
    assert text_of(dom, "spend-total").startswith(f"${seeded_usd + COST_PER_CALL_USD:.2f} in 14 days")
    assert dom.count("data-task-id=") == len(data["latest"])

    shot = tmp_path / "dashboard.png"
    _, console = browse(f"{url}/dashboard", tmp_path, f"--screenshot={shot}", "--window-size=1280,1600",
                        "--hide-scrollbars")
    assert console == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 1600)
    assert len(png) < SCREENSHOT_MAX_BYTES, f"{len(png)} bytes: too big to commit"
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)


# (task type, local score range, the cascade's target there, prompts a user might send)
HISTORY = (
    ("quick_qa", (7.5, 10.0), 9.0, ("What does x-should-retry do?", "Which Python has TaskGroup?")),
    ("code_generation", (5.0, 9.6), 7.0, ("Add a docstring to Meter.finish", "Fix the typo in cli.py")),
    ("conversation", (6.0, 9.8), 9.0, ("thanks, that works", "Let us continue with the budget tiers")),
    ("debugging", (3.0, 9.4), 9.0, ("Why does test_budget_under_load crash with a traceback on CI?",)),
    ("analysis", (2.0, 9.3), 9.0, ("Refactor the session module so identify() takes the headers only",)),
)


async def _seed_history(config: Config) -> float:
    """Two weeks of cloud spend, and today's cascades (scores, tasks, predictions); the USD seeded."""
    rng = random.Random(14)
    store = await Store.open(config.database, store_prompts=True)
    try:
        today = datetime.now().astimezone().date()
        total = 0.0
        for back in range(13, 0, -1):
            day = (today - timedelta(days=back)).isoformat()
            for model, scale in (("claude-3.5-sonnet", 0.30), ("gpt-4", 0.45), ("gemini-flash", 0.04)):
                if rng.random() < 0.8:
                    cost = round(scale * rng.uniform(0.2, 1.6), 4)
                    await store.charge(day, model, cost)
                    total += cost
        for index in range(40):
            task_type, (low, high), target, prompts = rng.choice(HISTORY)
            score = round(rng.uniform(low, high), 1)
            messages = [{"role": "user", "content": rng.choice(prompts)}]
            await store.record_attempt("smollm2:135m", task_type, score, score >= target)
            if score >= target:
                await store.record_task(TaskRecord("auto", "local", "smollm2:135m", True, 200, None, messages,
                                                   900, 120, 0.0, rng.uniform(400, 3000), task_type))
                continue
            model = rng.choice(("claude-3.5-sonnet", "gpt-4", "gemini-flash"))
            actual = round(rng.uniform(0.01, 0.09), 4)
            drift = 0.6 * 0.93 ** index  # the estimator learns: early guesses are far off
            predicted = actual * (1 + rng.choice((-1, 1)) * drift * rng.uniform(0.3, 1.0))
            await store.charge(today.isoformat(), model, actual)
            total += actual
            await store.record_prediction(Prediction(task_type, model, 900, 400, 380, predicted, actual, 0.8))
            await store.record_task(TaskRecord("auto", "cloud", model, True, 200, None, messages, 900, 380, actual,
                                               rng.uniform(1500, 9000), task_type))
        return total
    finally:
        await store.close()
