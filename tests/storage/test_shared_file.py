"""Several `hermes serve` processes on one SQLite file: one budget, exact, and no process frees another's money.

A user who starts Hermes in a second terminal, or runs `make run` twice, gets
processes that share the default database. Real processes, a real file, the
OpenRouter stub on loopback.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from proxy.localmodel.embedded import free_port
from tests.money.test_budget_under_load import HI, ONE_TIER, cloud_only_home, start_hermes
from tests.openrouter_stub import OpenRouterStub

# Several processes on one SQLite file (its locking); the same on one PostgreSQL database is tests/storage/test_postgres.py.
pytestmark = pytest.mark.sqlite_only


def test_three_processes_on_one_file_never_spend_past_the_limit(tmp_path: Path, openrouter: OpenRouterStub) -> None:
    # Each call reserves about 0.0094 USD (a few input tokens and 520 output at
    # claude-3.5-sonnet's prices, plus the 20% margin): ten fit in 0.10. The
    # stub charges 0.01 a call, more than was reserved: the ledger holds each
    # call to its reservation, so what fits is still ten calls, 0.10 at most.
    home = cloud_only_home(tmp_path, {"daily_limit_usd": 0.10, **ONE_TIER})
    openrouter.delay_s, openrouter.mode, openrouter.cost_usd = 0.5, "slow", 0.01
    ports = [free_port() for _ in range(3)]
    processes = [start_hermes(home, port, openrouter.url) for port in ports]  # type: ignore[attr-defined]

    async def fire() -> list[int]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            body = {"model": "cloud", "messages": HI, "max_tokens": 520}
            calls = [client.post(f"http://127.0.0.1:{ports[i % 3]}/v1/chat/completions", json=body)
                     for i in range(300)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    try:
        statuses = asyncio.run(fire())
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert sorted(set(statuses)) == [200, 429], statuses
    assert statuses.count(200) == openrouter.answered == 10
    assert openrouter.answered * openrouter.cost_usd <= 0.10 + 1e-9  # the stub's bill
    with sqlite3.connect(home / "hermes.db") as db:
        [(state, calls, spent)] = db.execute(
            "SELECT state, COUNT(*), SUM(cost_usd) FROM ledger GROUP BY state").fetchall()
    assert (state, calls) == ("charged", 10) and spent <= 0.10


def test_a_second_process_leaves_the_first_ones_reservation_alone(tmp_path: Path, openrouter: OpenRouterStub) -> None:
    home = cloud_only_home(tmp_path)
    db = home / "hermes.db"
    openrouter.mode = "hang"  # the first process's call stays in flight
    first_port, second_port = free_port(), free_port()
    first = start_hermes(home, first_port, openrouter.url)  # type: ignore[attr-defined]
    second = None
    answers: list[int] = []
    caller = threading.Thread(target=lambda: answers.append(httpx.post(
        f"http://127.0.0.1:{first_port}/v1/chat/completions",
        json={"model": "cloud", "messages": HI}, timeout=60).status_code))
    try:
        caller.start()
        deadline = time.monotonic() + 20
        while not openrouter.requests:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = start_hermes(home, second_port, openrouter.url)  # type: ignore[attr-defined]
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT state, note FROM ledger").fetchall() == [("held", None)]
        openrouter.reset()  # the hung call now ends (a 504): its own process settles its reservation
        caller.join(timeout=60)
    finally:
        for process in (first, second):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    assert answers == [504]
    with sqlite3.connect(db) as conn:
        [(state, note)] = conn.execute("SELECT state, note FROM ledger").fetchall()
    # Settled by the process that made the call (a timed-out call may have been
    # served, so it is charged), not taken over by the second one.
    assert state == "charged" and note == "usage unknown: charged the reservation"
