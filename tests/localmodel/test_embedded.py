"""The embedded model's supervisor: a real `hermes serve` whose model child is killed, restarted, then stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from proxy.config import BUDGETS_FILE, ROUTING_FILE
from proxy.localmodel.embedded import free_port
from tests.conftest import REPO

HI = [{"role": "user", "content": "hi"}]


def children(pid: int) -> list[int]:
    """The child processes of `pid`, from /proc (no psutil)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def embedded_child(serve_pid: int) -> int:
    [pid] = [child for child in children(serve_pid)
             if b"local-model" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return pid


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def local_answers(url: str) -> bool:
    try:
        response = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                              json={"model": "local", "messages": HI, "max_tokens": 4})
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def wait_until(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_killed_embedded_model_is_restarted_and_stopped_with_hermes(tmp_path: Path) -> None:
    for name in (ROUTING_FILE, BUDGETS_FILE):
        shutil.copy(REPO / name, tmp_path / name)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_") and not k.startswith("OPENROUTER_")}
    env |= {"OLLAMA_API_BASE": f"http://127.0.0.1:{free_port()}", "HERMES_DB": str(tmp_path / "hermes.db"),
            "HERMES_PORT": str(port)}
    log = tmp_path / "hermes.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "hermes"), "serve", "--config-dir", str(tmp_path)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: local_answers(url), 180), log.read_text()
        first = embedded_child(process.pid)
        embedded_url = log.read_text().split("serving the Ollama API at ")[1].split()[0]

        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not alive(first), 10)
        assert wait_until(lambda: local_answers(url), 120), log.read_text()  # back without restarting Hermes
        second = embedded_child(process.pid)
        assert second != first
        # The supervisor says so once its own readiness check passes, which may come just after the first answer.
        restarted = f"serving the Ollama API at {embedded_url} again (restart 1)"  # the same port
        assert wait_until(lambda: restarted in log.read_text(), 30), log.read_text()
        assert f"The embedded model at {embedded_url} exited with code -9; restarting it" in log.read_text()
        assert wait_until(lambda: httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok", 30)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert wait_until(lambda: not alive(second), 15), "the restarted model outlived hermes serve"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
