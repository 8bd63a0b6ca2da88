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


def test_three_processes_on_one_file_charge_the_bill_and_stop_at_a_stale_price(
        tmp_path: Path, openrouter: OpenRouterStub) -> None:
    # Each call reserves about 0.0094 USD (a few input tokens and 520 output at
    # claude-3.5-sonnet's prices, plus the 20% margin): ten fit in 0.10. The
    # stub bills 0.01 a call, more than was reserved: the ledger charges the
    # bill, marks the price stale, and no reservation made after the first bill
    # fits any more. What the stub billed is within the limit plus the calls
    # in flight when the first bill arrived (all ten, as they run together).
    home = cloud_only_home(tmp_path, {"daily_limit_usd": 0.10, **ONE_TIER})
    openrouter.delay_s, openrouter.mode, openrouter.cost_usd = 0.5, "slow", 0.01
    ports = [free_port() for _ in range(3)]
    processes = [start_hermes(home, port, openrouter.url) for port in ports]  # type: ignore[attr-defined]

    async def fire(calls: int) -> list[int]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            body = {"model": "cloud", "messages": HI, "max_tokens": 520}
            sent = [client.post(f"http://127.0.0.1:{ports[i % 3]}/v1/chat/completions", json=body)
                    for i in range(calls)]
            return [r.status_code for r in await asyncio.gather(*sent)]

    try:
        statuses = asyncio.run(fire(300))
        with sqlite3.connect(home / "hermes.db") as db:
            [(first_bill,)] = db.execute("SELECT MIN(settled_at) FROM ledger WHERE state = 'charged'").fetchall()
            [(in_flight,)] = db.execute("SELECT COUNT(*) FROM ledger WHERE created_at <= ?", (first_bill,)).fetchall()
        after = asyncio.run(fire(3))  # the price is now known to be stale: nothing fits
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert sorted(set(statuses)) == [200, 429], statuses
    assert statuses.count(200) == openrouter.answered == 10 == in_flight
    assert after == [429, 429, 429]
    with sqlite3.connect(home / "hermes.db") as db:
        [(state, calls, spent)] = db.execute(
            "SELECT state, COUNT(*), SUM(cost_usd) FROM ledger GROUP BY state").fetchall()
        [(factor,)] = db.execute("SELECT factor FROM price_corrections WHERE model = 'claude-3.5-sonnet'").fetchall()
    assert (state, calls) == ("charged", 10)
    assert spent == pytest.approx(openrouter.answered * 0.01)  # the ledger is the stub's bill
    assert spent <= 0.10 + in_flight * 0.01
    assert factor > 0.01 / 0.0094  # the next reservations cover such a bill


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
