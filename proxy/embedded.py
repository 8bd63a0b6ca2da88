"""Start and stop the embedded model server as a child process of `hermes serve`.

A process of its own keeps llama.cpp's work (and any crash of it) away from
the proxy's event loop; the child exits by itself if its parent dies.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from proxy.config import Config
from proxy.errors import ConfigError
from proxy.ollama import ollama_answers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_model_process(config: Config) -> Iterator[str]:
    """Run `hermes local-model` on 127.0.0.1 for the block; yield its base URL."""
    settings = config.routing.embedded_model
    port = settings.port or free_port()
    command = [
        sys.executable, "-m", "proxy.cli", "local-model",
        "--host", "127.0.0.1", "--port", str(port),
        "--config-dir", str(config.config_dir),
        "--parent-pid", str(os.getpid()),
    ]
    child = subprocess.Popen(command)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(child, base, settings.startup_timeout_s)
        yield base
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _wait_until_ready(child: subprocess.Popen[bytes], base: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise ConfigError(f"The embedded model exited with code {child.returncode} before it was ready.")
        if ollama_answers(base):
            return
        time.sleep(0.1)
    raise ConfigError(f"The embedded model was not ready within {timeout_s:g}s (embedded_model.startup_timeout_s).")


def exit_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` is gone, even if it was SIGKILLed."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
