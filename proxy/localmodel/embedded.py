"""Start, supervise and stop the embedded model server as a child process of `hermes serve`.

A process of its own keeps llama.cpp's work (and any crash of it) away from
the proxy's event loop; the child exits by itself if its parent dies, and a
watchdog thread restarts it on the same port if it dies first.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from proxy.config import Config
from proxy.errors import ConfigError
from proxy.upstreams.ollama import ollama_answers

log = logging.getLogger("hermes")

WATCH_INTERVAL_S = 0.5
RESTART_BACKOFF_S = 0.5  # doubled after each restart that fails to come up
MAX_RESTART_BACKOFF_S = 30.0
# A model that crashes on every request must not become a fork loop: at most
# this many restarts in any minute, then wait for the oldest to age out.
MAX_RESTARTS_PER_MINUTE = 5
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_model_process(config: Config) -> Iterator[str]:
    """Run `hermes local-model` on 127.0.0.1 for the block, restarted whenever it dies; yield its base URL.

    Raises ConfigError when the first start fails; later failures are logged and retried.
    """
    settings = config.routing.embedded_model
    port = settings.port or free_port()
    command = [
        sys.executable, "-m", "proxy.cli", "local-model",
        "--host", "127.0.0.1", "--port", str(port),
        "--config-dir", str(config.config_dir),
        "--parent-pid", str(os.getpid()),
    ]
    supervisor = _Supervisor(command, f"http://127.0.0.1:{port}", settings.startup_timeout_s)
    try:
        supervisor.start()
        yield supervisor.base
    finally:
        supervisor.stop()


class _Supervisor:
    """Keep one child server running at `base`: start it, restart it when it exits, stop it."""

    def __init__(self, command: list[str], base: str, startup_timeout_s: float) -> None:
        self.base = base
        self.restarts = 0
        self._command = command
        self._startup_timeout_s = startup_timeout_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards `child` against stop() racing a restart
        self._recent: deque[float] = deque()
        self.child = subprocess.Popen(command)
        self._thread = threading.Thread(target=self._watch, daemon=True, name="embedded-model-watchdog")

    def start(self) -> None:
        """Wait for the first child to answer (ConfigError if it does not), then watch it."""
        try:
            _wait_until_ready(self.child, self.base, self._startup_timeout_s)
        except ConfigError:
            self.stop()
            raise
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and end the child: SIGTERM, then SIGKILL after STOP_TIMEOUT_S."""
        self._stopping.set()
        with self._lock:
            _end(self.child)
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_TIMEOUT_S)

    def _watch(self) -> None:
        backoff_s = RESTART_BACKOFF_S
        while not self._stopping.wait(WATCH_INTERVAL_S):
            code = self.child.poll()
            if code is None:
                continue
            delay_s = max(backoff_s, self._rate_limit_delay_s())
            log.warning("The embedded model at %s exited with code %s; restarting it in %.1fs", self.base, code, delay_s)
            if self._stopping.wait(delay_s):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.child = subprocess.Popen(self._command)
            self._recent.append(time.monotonic())
            self.restarts += 1
            try:
                _wait_until_ready(self.child, self.base, self._startup_timeout_s)
            except ConfigError as exc:
                if self._stopping.is_set():
                    return  # stop() ended it
                log.error("Restarting the embedded model failed: %s", exc)
                with self._lock:
                    _end(self.child)  # a child that never got ready is killed and tried again
                backoff_s = min(backoff_s * 2, MAX_RESTART_BACKOFF_S)
                continue
            log.info("The embedded model is serving the Ollama API at %s again (restart %d)", self.base, self.restarts)
            backoff_s = RESTART_BACKOFF_S

    def _rate_limit_delay_s(self) -> float:
        now = time.monotonic()
        while self._recent and now - self._recent[0] > 60.0:
            self._recent.popleft()
        if len(self._recent) < MAX_RESTARTS_PER_MINUTE:
            return 0.0
        return 60.0 - (now - self._recent[0])


def _end(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=STOP_TIMEOUT_S)
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
