"""The budget under load and through a crash: loopback only, bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from proxy.config import BUDGETS_FILE, ROUTING_FILE, Config
from proxy.localmodel.embedded import free_port
from tests.conftest import REPO, TEST_API_KEY, with_test_cloud
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

HI = [{"role": "user", "content": "hi"}]
ONE_TIER = {"tiers": [{"name": "any", "min_remaining_usd": 0.0, "models": "any"}]}


def ledger(db: Path | str) -> dict[str, tuple[int, float]]:
    rows = query(db, "SELECT state, COUNT(*) AS n, COALESCE(SUM(cost_usd), 0) AS total FROM ledger GROUP BY state")
    return {row["state"]: (row["n"], row["total"]) for row in rows}


def test_200_concurrent_cloud_requests_never_overspend(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    # Each request reserves about 0.01802 USD (8 input tokens, 1000 output at
    # claude-3.5-sonnet's prices, plus the 20% margin): ten fit in 0.19, an eleventh does not.
    url = serve_hermes(make_config(budget={"daily_limit_usd": 0.19, **ONE_TIER}))
    openrouter.delay_s, openrouter.mode = 0.5, "slow"  # all 200 arrive while the first ones are in flight
    openrouter.cost_usd = 0.0135

    async def fire() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            body = {"model": "cloud", "messages": HI, "max_tokens": 1000}
            calls = [client.post(f"{url}/v1/chat/completions", json=body) for _ in range(200)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(fire())
    ok = statuses.count(200)
    # Ten fit while all are in flight; a call that starts after some have settled (for 0.0135, less than
    # they reserved) may use the room they left, never more: charged + one reservation <= 0.19.
    assert 10 <= ok <= 1 + int((0.19 - 0.01802) / 0.0135), statuses
    assert statuses.count(429) == 200 - ok
    charged_calls, charged_usd = ledger(database)["charged"]
    assert charged_calls == ok == openrouter.answered
    assert charged_usd == pytest.approx(openrouter.answered * openrouter.cost_usd)  # the ledger is the stub's bill
    assert charged_usd <= 0.19
    assert "held" not in ledger(database)


def cloud_only_home(home: Path, budget: dict[str, object] | None = None) -> Path:
    """A config dir with the embedded model off (no local model to wait for) and `budget` merged in."""
    routing = with_test_cloud(yaml.safe_load((REPO / ROUTING_FILE).read_text()))
    routing["embedded_model"]["enabled"] = False
    (home / ROUTING_FILE).write_text(yaml.safe_dump(routing))
    budgets = yaml.safe_load((REPO / BUDGETS_FILE).read_text()) | (budget or {})
    (home / BUDGETS_FILE).write_text(yaml.safe_dump(budgets))
    return home


def start_hermes(home: Path, port: int, openrouter_url: str,
                 db: Path | str | None = None) -> subprocess.Popen[bytes]:
    """`hermes serve` as a user starts it, on `port`, with the database `db` (home/hermes.db by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    env |= {"OLLAMA_API_BASE": f"http://127.0.0.1:{free_port()}", "OPENROUTER_API_BASE": openrouter_url,
            "OPENROUTER_API_KEY": TEST_API_KEY, "HERMES_DB": str(db or home / "hermes.db"), "HERMES_PORT": str(port)}
    process = subprocess.Popen([str(Path(sys.executable).parent / "hermes"), "serve", "--config-dir", str(home)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("hermes serve did not start")


def test_sigkill_under_streaming_load_loses_no_spend(
    tmp_path: Path, openrouter: OpenRouterStub, database: Path | str
) -> None:
    home = cloud_only_home(tmp_path)
    openrouter.delay_s, openrouter.mode = 0.2, "slow"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_hermes(home, port, openrouter.url, db=database)  # type: ignore[attr-defined]

    completed: list[int] = []

    def worker() -> None:
        body = {"model": "gpt-4", "messages": HI, "max_tokens": 100, "stream": True}
        with httpx.Client(timeout=10) as client:
            for _ in range(15):
                try:
                    with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
                        text = response.read()
                except httpx.HTTPError:
                    return  # the server is gone
                if b"[DONE]" in text:
                    completed.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=30)

    assert completed and all(status == 200 for status in completed)
    in_flight = ledger(database).get("held", (0, 0.0))[0]
    assert in_flight > 0  # the kill did land mid-call

    process = start_hermes(home, port, openrouter.url, db=database)  # type: ignore[attr-defined]
    try:
        analysis = httpx.get(f"{url}/api/v1/costs/analysis", timeout=10).json()
    finally:
        process.terminate()
        process.wait(timeout=30)
    after = ledger(database)
    charged_calls, charged_usd = after["charged"]
    assert "held" not in after and "released" not in after
    # Every call a client saw complete is charged, and so is every call cut by
    # the kill: its outcome is unknown, so it counts at its worst case.
    assert charged_calls - in_flight >= len(completed)
    assert charged_usd >= openrouter.answered * openrouter.cost_usd
    [unknown] = query(database, "SELECT COUNT(*) AS n FROM ledger WHERE note LIKE 'outcome unknown%'")
    assert unknown["n"] == in_flight
    assert analysis["reserved_usd"] == 0
    assert analysis["spent_usd"] == pytest.approx(charged_usd)
    assert analysis["remaining_usd"] == pytest.approx(5.0 - charged_usd)


def test_a_stream_cut_by_a_crash_is_charged_what_openrouter_says_it_cost(
    tmp_path: Path, openrouter: OpenRouterStub, database: Path | str
) -> None:
    # The stream starts (OpenRouter has billed it and knows its generation id),
    # then Hermes is killed. At start-up the call is charged its worst case,
    # then OpenRouter's record of that generation replaces the worst case.
    home = cloud_only_home(tmp_path)
    openrouter.mode, openrouter.cost_usd = "stall", 0.0042
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_hermes(home, port, openrouter.url, db=database)  # type: ignore[attr-defined]
    body = {"model": "gpt-4", "messages": HI, "max_tokens": 100, "stream": True}
    with httpx.Client(timeout=30) as client, client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        while "Hello" not in next(lines):
            pass  # the first words are here: the call is in flight
        [held] = query(database, "SELECT generation_id FROM ledger WHERE state = 'held'")
        assert held["generation_id"] in openrouter.generations
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    restart_until_charged(home, port, openrouter, database, 0.0042)
    [row] = query(database, "SELECT cost_usd, reserved_usd, note FROM ledger")
    assert row["cost_usd"] == pytest.approx(0.0042) and row["cost_usd"] < row["reserved_usd"]
    assert row["note"] == "outcome unknown, then reconciled with the upstream's record"


def test_a_stream_cut_by_a_shutdown_ends_with_an_error_event_and_is_reconciled_at_the_next_start(
    tmp_path: Path, openrouter: OpenRouterStub, database: Path | str
) -> None:
    # SIGTERM mid-stream: the client is told why its answer stops (an SSE error event, not a dropped
    # connection), the call is charged its worst case with its generation id, and the next start
    # replaces that with what OpenRouter says the generation cost, as after a crash.
    home = cloud_only_home(tmp_path)
    openrouter.mode, openrouter.cost_usd = "stall", 0.0042
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_hermes(home, port, openrouter.url, db=database)  # type: ignore[attr-defined]
    body = {"model": "gpt-4", "messages": HI, "max_tokens": 100, "stream": True}
    with httpx.Client(timeout=30) as client, client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        while "Hello" not in next(lines):
            pass  # the first words are here: the call is in flight
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        rest = [line for line in lines if line.startswith("data: ")]
    assert time.monotonic() - signalled < 5.0  # within uvicorn's graceful shutdown: not cut by it
    assert process.wait(timeout=30) == 0
    assert rest[-1] == "data: [DONE]"
    error = json.loads(rest[-2].removeprefix("data: "))["error"]
    assert error["code"] == "shutting_down" and "shutting down" in error["message"]
    [row] = query(database, "SELECT state, cost_usd, reserved_usd, note, generation_id FROM ledger")
    assert row["state"] == "charged" and row["cost_usd"] == row["reserved_usd"]
    assert row["note"] == "usage unknown: charged the reservation" and row["generation_id"] in openrouter.generations
    [task] = query(database, "SELECT status, error_code FROM tasks")
    assert (task["status"], task["error_code"]) == (503, "shutting_down")
    restart_until_charged(home, port, openrouter, database, 0.0042)


def restart_until_charged(home: Path, port: int, openrouter: OpenRouterStub, database: Path | str,
                          usd: float) -> None:
    """Start Hermes again and wait (20 s at most) until the day's charges are `usd`: OpenRouter's record."""
    process = start_hermes(home, port, openrouter.url, db=database)  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 20
        while ledger(database)["charged"][1] != pytest.approx(usd):
            assert time.monotonic() < deadline, ledger(database)
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
