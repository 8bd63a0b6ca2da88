"""Several Hermes replicas on one PostgreSQL database: one budget, exact across processes, through a kill.

Real `hermes serve` processes, a real PostgreSQL server (tests/postgres.py),
the OpenRouter stub on loopback. These run whichever backend the rest of the
suite uses; they skip, saying why, only where PostgreSQL cannot be started.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from proxy.errors import StoreUnavailable
from proxy.localmodel.embedded import free_port
from proxy.money.keys import key_sha256
from proxy.storage.store import Store
from tests.money.test_budget_under_load import HI, ONE_TIER, cloud_only_home, start_hermes
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import PostgresCluster, _in_own_loop, query

# Each call reserves about 0.0094 USD (a few input tokens and 520 output at claude-3.5-sonnet's
# prices, plus the 20% margin): ten fit in 0.10 (tests/storage/test_shared_file.py says the same of SQLite).
BODY = {"model": "cloud", "messages": HI, "max_tokens": 520}


def ledger(url: str) -> dict[str, dict[str, float]]:
    rows = query(url, "SELECT state, COUNT(*) AS calls, COALESCE(SUM(cost_usd), 0) AS usd FROM ledger GROUP BY state")
    return {row["state"]: row for row in rows}


def fire(ports: list[int], count: int, headers: list[dict[str, str]] | None = None) -> list[int]:
    """`count` concurrent cloud requests spread over the replicas (and over `headers`, if given)."""

    async def run() -> list[int]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:
            calls = [client.post(f"http://127.0.0.1:{ports[i % len(ports)]}/v1/chat/completions", json=BODY,
                                 headers=headers[i % len(headers)] if headers else None) for i in range(count)]
            return [response.status_code for response in await asyncio.gather(*calls)]

    return asyncio.run(run())


def stop(processes: list) -> None:  # type: ignore[type-arg]
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(timeout=30)


def test_three_replicas_on_one_database_never_spend_past_the_limit(
    tmp_path: Path, openrouter: OpenRouterStub, postgres: PostgresCluster
) -> None:
    url = postgres.new_database()
    home = cloud_only_home(tmp_path, {"daily_limit_usd": 0.10, **ONE_TIER})
    # Slow calls, so all 300 arrive while the first ones are in flight. The stub charges 0.009 a
    # call, a little under each reservation: ten fit while in flight, and once they are settled
    # the room they leave fits at most one more.
    openrouter.delay_s, openrouter.mode, openrouter.cost_usd = 0.5, "slow", 0.009
    ports = [free_port() for _ in range(3)]
    processes = [start_hermes(home, port, openrouter.url, db=url) for port in ports]  # type: ignore[attr-defined]
    try:
        statuses = fire(ports, 300)
    finally:
        stop(processes)
    assert sorted(set(statuses)) == [200, 429], statuses
    answered = statuses.count(200)
    assert answered == openrouter.answered and 10 <= answered <= 11
    after = ledger(url)
    assert set(after) == {"charged"} and after["charged"]["calls"] == answered  # nothing stays held
    assert after["charged"]["usd"] == pytest.approx(answered * 0.009)  # the ledger is the stub's bill
    assert after["charged"]["usd"] <= 0.10


def test_two_keys_limits_bind_first_across_replicas(
    tmp_path: Path, openrouter: OpenRouterStub, postgres: PostgresCluster
) -> None:
    url = postgres.new_database()
    home = cloud_only_home(tmp_path, {"daily_limit_usd": 0.10, **ONE_TIER})
    openrouter.delay_s, openrouter.mode, openrouter.cost_usd = 0.5, "slow", 0.009
    # alice's 0.02 fits two calls' reservations, bob's 0.035 three, and what they leave once
    # settled fits no more; the global 0.10 would fit ten.
    keys = {"alice": ("hk-test-alice", 0.02), "bob": ("hk-test-bob", 0.035)}

    async def make_keys() -> None:
        store = await Store.open(url)
        try:
            for name, (key, limit) in keys.items():
                assert await store.create_key(name, key_sha256(key), limit)
        finally:
            await store.close()

    _in_own_loop(make_keys())
    ports = [free_port() for _ in range(3)]
    processes = [start_hermes(home, port, openrouter.url, db=url) for port in ports]  # type: ignore[attr-defined]
    headers = [{"Authorization": f"Bearer {key}"} for key, _ in keys.values()]
    try:
        statuses = fire(ports, 300, headers)
    finally:
        stop(processes)
    assert statuses.count(200) == openrouter.answered == 2 + 3
    spent = {row["name"]: row for row in query(url, """
        SELECT k.name, COUNT(l.id) AS calls, COALESCE(SUM(l.cost_usd), 0) AS usd,
               SUM(CASE WHEN l.state = 'held' THEN 1 ELSE 0 END) AS held
        FROM api_keys k LEFT JOIN ledger l ON l.key_id = k.id GROUP BY k.name""")}
    assert (spent["alice"]["calls"], spent["bob"]["calls"]) == (2, 3)
    assert not spent["alice"]["held"] and not spent["bob"]["held"]
    assert spent["alice"]["usd"] == pytest.approx(2 * 0.009) and spent["bob"]["usd"] == pytest.approx(3 * 0.009)
    assert ledger(url)["charged"]["usd"] == pytest.approx(openrouter.answered * 0.009)  # the stub's bill


def test_a_killed_replicas_reservations_are_charged_by_the_others_which_keep_serving(
    tmp_path: Path, openrouter: OpenRouterStub, postgres: PostgresCluster
) -> None:
    url = postgres.new_database()
    home = cloud_only_home(tmp_path)
    openrouter.delay_s, openrouter.mode = 2.0, "slow"
    ports = [free_port() for _ in range(3)]
    processes = [start_hermes(home, port, openrouter.url, db=url) for port in ports]  # type: ignore[attr-defined]
    victim = processes[0]
    cut: list[int] = []

    def call_victim() -> None:
        try:
            httpx.post(f"http://127.0.0.1:{ports[0]}/v1/chat/completions", json=BODY, timeout=30)
        except httpx.HTTPError:
            cut.append(1)

    callers = [threading.Thread(target=call_victim) for _ in range(4)]
    try:
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 20
        while ledger(url).get("held", {}).get("calls", 0) < 4:
            assert time.monotonic() < deadline, ledger(url)
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        for caller in callers:
            caller.join(timeout=30)
        assert len(cut) == 4
        openrouter.delay_s = 0.0
        assert fire(ports[1:], 20) == [200] * 20  # the others keep serving meanwhile
        # A running replica finds the dead one's holds at its next heartbeat (owner.HEARTBEAT_S).
        deadline = time.monotonic() + 40
        while "held" in ledger(url):
            assert time.monotonic() < deadline, ledger(url)
            time.sleep(0.2)
    finally:
        stop(processes)
    unknown = query(url, "SELECT COUNT(*) AS n, SUM(cost_usd - reserved_usd) AS gap FROM ledger "
                         "WHERE note LIKE 'outcome unknown%'")
    assert unknown[0]["n"] == 4 and unknown[0]["gap"] == pytest.approx(0.0)  # charged at their worst case


def test_migrations_are_recorded_once_and_the_money_columns_are_double_precision(postgres: PostgresCluster) -> None:
    url = postgres.new_database()  # already migrated from the template; opening again applies nothing
    _in_own_loop(_open_and_close(url))
    names = [row["name"] for row in query(url, "SELECT name FROM migrations ORDER BY name")]
    assert names[0] == "m001_initial" and len(names) == len(set(names))
    types = {row["column_name"]: row["data_type"] for row in query(
        url, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'ledger'")}
    assert types["cost_usd"] == types["reserved_usd"] == "double precision"
    assert types["id"] == "bigint"


def test_an_unreachable_server_is_a_store_unavailable_error_that_hides_the_password() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreUnavailable) as raised:
        _in_own_loop(_open_and_close(f"postgresql://hermes:hunter2@127.0.0.1:{port}/hermes"))
    assert "hunter2" not in raised.value.message and "unavailable" in raised.value.message


async def _open_and_close(url: str) -> None:
    store = await Store.open(url)
    await store.close()
