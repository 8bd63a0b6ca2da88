"""A client that goes away: every path settles its money once, records the request, and breaks nothing.

Ctrl-C in scripts/yolo, Esc in OpenCode and `stream.close()` in the OpenAI
SDK all look alike from here: the connection closes before the answer ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from proxy.config import Config
from tests.edge.test_app import HI, chat, sse_events
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub
from tests.postgres import query

ONE_TIER = {"tiers": [{"name": "any", "min_remaining_usd": 0.0, "models": "any"}]}


def rows(db: Path | str, sql: str) -> list[tuple[object, ...]]:
    """The rows of `sql` on the store at `db` (either backend), as tuples in the columns' order."""
    return [tuple(row.values()) for row in query(db, sql)]


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Poll `condition` until it holds; the end of a stream is settled just after the client has left."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def read_two_chunks_and_leave(client: httpx.Client, url: str, body: dict[str, object]) -> None:
    with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        seen = 0
        for line in response.iter_lines():
            seen += line.startswith("data: ")
            if seen == 2:
                break  # leaving the block closes the connection mid-stream


def test_twenty_interrupted_cloud_streams_are_charged_their_bills_then_twenty_requests_all_succeed(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    db = database
    url = serve_hermes(make_config(budget=ONE_TIER))
    # Two chunks, then the rest waits for the gate: the clients leave while the answers are still being made.
    openrouter.mode, openrouter.gate = "paced", threading.Event()
    body = {"model": "cloud", "messages": HI, "stream": True, "max_tokens": 100}
    with httpx.Client(timeout=30) as client:
        for _ in range(20):
            read_two_chunks_and_leave(client, url, body)
    assert rows(db, "SELECT state, COUNT(*) AS n FROM ledger GROUP BY state") == [("held", 20)]
    openrouter.gate.set()  # the upstream goes on to the end of each answer, and bills it
    wait_for(lambda: len(rows(db, "SELECT id FROM tasks")) == 20)

    # Hermes read each to its end, unseen: each is charged what the upstream billed, not its reservation.
    assert rows(db, "SELECT state, COUNT(*) AS n FROM ledger GROUP BY state") == [("charged", 20)]
    assert rows(db, f"SELECT COUNT(*) AS n FROM ledger WHERE cost_usd = {COST_PER_CALL_USD}") == [(20,)]
    assert rows(db, "SELECT COUNT(*) AS n FROM ledger WHERE generation_id IS NULL") == [(0,)]
    assert rows(db, "SELECT DISTINCT status, error_code, stream FROM tasks") == [(499, "client_closed", 1)]

    openrouter.mode = "ok"
    statuses = []
    for index in range(20):
        if index % 4 == 0:
            response = httpx.post(f"{url}/api/v1/settings/update-preferences", json={"target_quality": 8.5},
                                  timeout=30)
        elif index % 4 == 1:
            response = chat(url, {"model": "local", "messages": HI, "max_tokens": 8})
        elif index % 4 == 2:
            response = chat(url, {"model": "cloud", "messages": HI})
        else:
            response = chat(url, body)
            assert sse_events(response)[-2]["hermes"]["cost_usd"] == COST_PER_CALL_USD
        statuses.append(response.status_code)
    assert statuses == [200] * 20
    assert rows(db, "SELECT COUNT(*) AS n FROM ledger WHERE state = 'held'") == [(0,)]


def test_a_client_leaving_a_non_streamed_cloud_call_is_charged_the_bill_that_comes_after(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    db = database
    url = serve_hermes(make_config(budget=ONE_TIER))
    openrouter.mode, openrouter.delay_s = "slow", 2.0
    try:
        httpx.post(f"{url}/v1/chat/completions", json={"model": "cloud", "messages": HI}, timeout=0.5)
    except httpx.ReadTimeout:
        pass  # the client gave up, as an impatient user does (OpenCode's title request)
    wait_for(lambda: rows(db, "SELECT status FROM tasks") == [(499,)])
    [(state, cost, reserved)] = rows(db, "SELECT state, cost_usd, reserved_usd FROM ledger")
    assert state == "charged" and cost == COST_PER_CALL_USD < reserved  # the stub's bill, when it came
    openrouter.mode = "ok"
    assert chat(url, {"model": "cloud", "messages": HI}).status_code == 200


def test_a_call_left_by_its_client_that_never_ends_is_charged_its_reservation(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], openrouter: OpenRouterStub,
    database: Path | str,
) -> None:
    db = database
    url = serve_hermes(make_config({"cloud": {"timeout_s": 2}}, budget=ONE_TIER))
    openrouter.mode = "hang"
    try:
        httpx.post(f"{url}/v1/chat/completions", json={"model": "cloud", "messages": HI}, timeout=0.5)
    except httpx.ReadTimeout:
        pass
    wait_for(lambda: rows(db, "SELECT status FROM tasks") == [(499,)])  # once the upstream's timeout ran out
    [(state, cost, reserved)] = rows(db, "SELECT state, cost_usd, reserved_usd FROM ledger")
    assert state == "charged" and cost == reserved > 0  # it may have been served: never free


def test_a_client_leaving_before_a_local_answer_frees_the_model_for_the_next_request(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], database: Path | str
) -> None:
    db = database
    url = serve_hermes(make_config())
    long = {"model": "local", "messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
            "max_tokens": 4000, "temperature": 1.0}
    try:
        httpx.post(f"{url}/v1/chat/completions", json=long, timeout=1.0)
    except httpx.ReadTimeout:
        pass
    wait_for(lambda: rows(db, "SELECT status, error_code FROM tasks") == [(499, "client_closed")])
    # 4000 tokens take the embedded model minutes: queued behind them, this would time out.
    response = httpx.post(f"{url}/v1/chat/completions", json={"model": "local", "messages": HI, "max_tokens": 8},
                          timeout=20)
    assert response.status_code == 200


def test_a_client_leaving_a_local_stream_stops_its_generation(
    make_config: Callable[..., Config], serve_hermes: Callable[..., str], database: Path | str
) -> None:
    db = database
    url = serve_hermes(make_config())
    long = {"model": "local", "messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
            "max_tokens": 4000, "temperature": 1.0, "stream": True}
    with httpx.Client(timeout=30) as client:
        read_two_chunks_and_leave(client, url, long)
    wait_for(lambda: rows(db, "SELECT status, error_code, stream FROM tasks") == [(499, "client_closed", 1)])
    # 4000 tokens take the embedded model minutes: queued behind them, this would time out.
    response = httpx.post(f"{url}/v1/chat/completions", json={"model": "local", "messages": HI, "max_tokens": 8},
                          timeout=20)
    assert response.status_code == 200
