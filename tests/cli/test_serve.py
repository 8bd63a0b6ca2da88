"""End to end: the real `hermes serve` process, with no Ollama, driven by the official openai client."""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from proxy.config import BUDGETS_FILE, ROUTING_FILE
from proxy.localmodel.embedded import free_port
from tests.conftest import REPO, TEST_API_KEY
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import query

TOOLS = [
    {"type": "function", "function": {
        "name": "read_file", "description": "Read a file from the project",
        "parameters": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                       "properties": {"path": {"type": "string"}}, "required": ["path"]}}},
    {"type": "function", "function": {
        "name": "run_shell", "description": "Run a shell command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}},
]
HI = [{"role": "user", "content": "hi"}]


class HermesProcess:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log


@pytest.fixture(scope="module")
def hermes(tmp_path_factory: pytest.TempPathFactory, _openrouter_server: tuple[OpenRouterStub, str]) -> Iterator[HermesProcess]:
    home = tmp_path_factory.mktemp("serve")
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, home / name)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HERMES_") and k not in ("OPENROUTER_API_KEY", "OPENROUTER_API_BASE")}
    env |= {
        "OLLAMA_API_BASE": f"http://127.0.0.1:{free_port()}",  # nothing listens there: no Ollama
        "OPENROUTER_API_BASE": _openrouter_server[1],
        "OPENROUTER_API_KEY": TEST_API_KEY,
        "HERMES_DB": str(home / "hermes.db"),
        "HERMES_PORT": str(port),
    }
    hermes_script = Path(sys.executable).parent / "hermes"
    log = home / "hermes.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(hermes_script), "serve", "--config-dir", str(home)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("hermes serve did not become healthy:\n" + log.read_text())
        time.sleep(0.1)
    yield HermesProcess(url, process, log)
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def client(hermes: HermesProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{hermes.url}/v1", api_key="unused", max_retries=0, timeout=120) as client:
        yield client


def test_the_readme_curl_request_gets_a_real_local_answer(hermes: HermesProcess) -> None:
    # What the README's `curl -H 'Content-Type: application/json' -d '{...}'` sends.
    response = httpx.post(
        f"{hermes.url}/v1/chat/completions",
        content='{"model":"local","messages":[{"role":"user","content":"hi"}]}',
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert response.status_code == 200
    assert response.headers["x-hermes-route"] == "local"
    assert response.json()["choices"][0]["message"]["content"].strip()
    log = hermes.log.read_text()
    assert "starting the embedded model smollm2:135m" in log
    assert "serving the Ollama API at http://127.0.0.1:" in log
    # "serving", with the dashboard's address, only once uvicorn has bound the port; LiteLLM's line once a call.
    serving = f"Hermes is serving {hermes.url}/v1, its dashboard at {hermes.url}/dashboard"
    assert log.index("Uvicorn running on") < log.index(serving)
    assert log.count("LiteLLM completion() model= smollm2:135m") == log.count("INFO LiteLLM:") >= 1


def test_a_busy_port_is_one_line_that_names_the_port_option(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([str(Path(sys.executable).parent / "hermes"), "serve", "--port", str(port),
                               "--config-dir", str(REPO)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HERMES_DB": str(tmp_path / "hermes.db")})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: Cannot listen on 127.0.0.1:{port} (Address already in use): another Hermes or another server "
        "has it. Choose another port with --port N (or HERMES_PORT).")
    assert "starting the embedded model" not in done.stderr  # nothing was started for a port it cannot have


# These show the local side of `auto`: the fixture has a cloud key, and the default policy would upgrade.
NEVER_UPGRADE = {"X-Hermes-Upgrade-Policy": "never"}


def test_openai_client_plain(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="local", messages=HI, max_tokens=20)
    assert raw.headers["x-hermes-route"] == "local"
    completion = raw.parse()
    assert completion.choices[0].message.content.strip()
    assert completion.model == "smollm2:135m"
    assert completion.usage.completion_tokens > 0


def test_openai_client_streamed_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="auto", messages=HI, max_tokens=16, stream=True,
                                            stream_options={"include_usage": True}, extra_headers=NEVER_UPGRADE)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage.completion_tokens > 0
    assert chunks[-1].model_extra["hermes"]["route"] == "local"


def test_openai_client_local_request_with_tools_like_opencode(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="auto", stream=True, stream_options={"include_usage": True}, tools=TOOLS, tool_choice="auto",
        max_tokens=32000, temperature=0, extra_headers=NEVER_UPGRADE,
        messages=[{"role": "system", "content": "You are a coding agent. Use the tools."},
                  {"role": "user", "content": "Read the file README.md"}],
    )
    chunks = list(stream)
    assert chunks[-1].usage.completion_tokens <= 512  # OpenCode's 32000 reached the local model as local.max_tokens
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish and finish[-1] in ("stop", "length", "tool_calls")
    calls = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() or calls[0].function.name in ("read_file", "run_shell")


def test_openai_client_cloud_tool_call(client: openai.OpenAI, openrouter: OpenRouterStub) -> None:
    completion = client.chat.completions.create(model="claude-3.5-sonnet", messages=HI, tools=TOOLS)
    [call] = completion.choices[0].message.tool_calls
    assert call.function.name == "read_file"
    assert json.loads(call.function.arguments) == {"path": "README.md"}
    assert completion.choices[0].finish_reason == "tool_calls"
    assert openrouter.requests[0]["json"]["tools"] == TOOLS


def test_openai_client_cloud_tool_call_streamed(client: openai.OpenAI, openrouter: OpenRouterStub) -> None:
    stream = client.chat.completions.create(model="cloud", messages=HI, tools=TOOLS, stream=True)
    fragments = [call for c in stream if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert fragments[0].id == "call_stub_1" and fragments[0].function.name == "read_file"
    assert json.loads("".join(f.function.arguments or "" for f in fragments)) == {"path": "README.md"}


def test_openai_client_sees_errors_as_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-9", messages=HI)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="local", messages=[])


def test_sighup_rereads_the_configuration_files(hermes: HermesProcess) -> None:
    hermes.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while "Re-read routing_rules.yaml and budgets.yaml" not in hermes.log.read_text():
        assert time.monotonic() < deadline, hermes.log.read_text()[-2000:]
        time.sleep(0.1)
    assert hermes.process.poll() is None  # still serving, on the files as they are
    assert httpx.get(f"{hermes.url}/health", timeout=10).status_code == 200


def test_sigterm_stops_hermes_and_its_embedded_model(hermes: HermesProcess) -> None:
    # Runs last in this module: it ends the shared process.
    log = hermes.log.read_text()
    embedded_url = log.split("serving the Ollama API at ")[1].split()[0]
    hermes.process.send_signal(signal.SIGTERM)
    assert hermes.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{embedded_url}/api/version", timeout=1)
        except httpx.HTTPError:
            return
        time.sleep(0.2)
    pytest.fail("the embedded model outlived hermes serve")


def test_two_workers_share_one_embedded_model_and_one_budget(
    tmp_path: Path, openrouter: OpenRouterStub, database: Path | str
) -> None:
    # Twenty calls' worth of budget (each reserves about 0.0094 USD, see
    # test_shared_file.py: 20 x 0.0094 = 0.188), two hundred requests in flight
    # together on one port: both worker processes spend, and together exactly what fits.
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, tmp_path / name)
    budgets = yaml.safe_load((tmp_path / BUDGETS_FILE).read_text())
    budgets |= {"daily_limit_usd": 0.19, "tiers": [{"name": "any", "min_remaining_usd": 0.0, "models": "any"}]}
    (tmp_path / BUDGETS_FILE).write_text(yaml.safe_dump(budgets))
    openrouter.delay_s, openrouter.mode, openrouter.cost_usd = 0.5, "slow", 0.009  # within each reservation
    process, port, log = _two_workers(tmp_path, openrouter, database)
    url = f"http://127.0.0.1:{port}"
    try:
        local = httpx.post(f"{url}/v1/chat/completions", timeout=120,
                           json={"model": "local", "messages": HI, "max_tokens": 4})
        assert local.headers["x-hermes-route"] == "local"
        statuses = asyncio.run(_post_together(f"{url}/v1/chat/completions", 200,
                                              {"model": "cloud", "messages": HI, "max_tokens": 520}))
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    printed = log.read_text()
    assert code == 0, printed
    assert printed.count("starting the embedded model") == 1  # in the parent, once, for both workers
    assert "2 worker processes" in printed
    assert sorted(set(statuses)) == [200, 429], statuses
    # Twenty fit while all are in flight; one that starts after some settled may use the room their
    # bills left under their reservations.
    assert 20 <= statuses.count(200) == openrouter.answered <= 21
    rows = query(database, "SELECT state, cost_usd, owner FROM ledger")
    assert {row["state"] for row in rows} == {"charged"}
    spent = sum(row["cost_usd"] for row in rows)
    assert spent == pytest.approx(openrouter.answered * 0.009) and spent <= 0.19  # the stub's bill, within the limit
    assert len({row["owner"] for row in rows}) == 2  # each worker reserved through its own connection
    embedded_url = printed.split("serving the Ollama API at ")[1].split()[0]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{embedded_url}/api/version", timeout=1)  # stopped with the parent


def test_two_workers_split_a_burst_of_connections_between_them(
    tmp_path: Path, openrouter: OpenRouterStub, database: Path | str
) -> None:
    # uvicorn's workers share one listening socket, and the one that woke first took a burst of new connections
    # whole (96% of them under wrk's 32): each worker now listens on a socket of its own (SO_REUSEPORT).
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, tmp_path / name)
    openrouter.delay_s, openrouter.mode = 0.2, "slow"
    process, port, log = _two_workers(tmp_path, openrouter, database)
    try:
        statuses = _burst(port, 64, json.dumps({"model": "cloud", "messages": HI, "max_tokens": 16}).encode())
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()
    assert statuses == [200] * 128
    served = Counter(row["owner"] for row in query(database, "SELECT owner FROM ledger"))
    assert len(served) == 2 and min(served.values()) >= 32, served  # even: 64 each; under 32: 1 in 25,000


def _two_workers(config_dir: Path, openrouter: OpenRouterStub,
                 database: Path | str) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`hermes serve --workers 2` on a free port, healthy: (the process, its port, its log)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    env |= {"OLLAMA_API_BASE": f"http://127.0.0.1:{free_port()}", "OPENROUTER_API_BASE": openrouter.url,  # type: ignore[attr-defined]
            "OPENROUTER_API_KEY": TEST_API_KEY, "HERMES_DB": str(database)}
    log = config_dir / "hermes.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "hermes"), "serve", "--port", str(port),
                                    "--workers", "2", "--config-dir", str(config_dir)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_healthy(f"http://127.0.0.1:{port}", process, log, workers=2)
    return process, port, log


def _burst(port: int, connections: int, body: bytes) -> list[int]:
    """As wrk opens its connections: all at once (a tight loop, no request yet), then two requests on each."""
    opened = [socket.socket() for _ in range(connections)]
    for sock in opened:  # non-blocking: the connects go out together, before any is accepted
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
    for sock in opened:
        select.select([], [sock], [], 60)
        sock.setblocking(True)
        sock.settimeout(60)
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    statuses = []
    try:
        for _ in range(2):
            for sock in opened:
                sock.sendall(request)
            for sock in opened:
                reader = sock.makefile("rb")
                statuses.append(int(reader.readline().split()[1]))
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                reader.read(length)
    finally:
        for sock in opened:
            sock.close()
    return statuses


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until /health answers and every worker has started (one alone would take every connection)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            started = log.read_text().count("Application startup complete.")
            if started >= workers and httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("hermes serve did not become healthy:\n" + log.read_text())


async def _post_together(url: str, count: int, body: dict[str, object], gap_s: float = 0.01) -> list[int]:
    """`count` requests, each on a connection of its own, started `gap_s` apart and all in flight together.

    With a gap, some settle while others start.
    """
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        async def post(i: int) -> int:
            await asyncio.sleep(i * gap_s)
            return (await client.post(url, json=body)).status_code

        return list(await asyncio.gather(*(post(i) for i in range(count))))
