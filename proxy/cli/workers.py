"""`hermes serve --workers N`: uvicorn's supervisor, each worker listening on a socket of its own.

uvicorn's workers share one listening socket, and the one that wakes first
accepts a whole burst of new connections: with 32 keep-alive connections one
worker took 96% of the requests, and two workers relayed fewer calls than
one. Here every worker gets its own socket, all bound to the port with
SO_REUSEPORT, so the kernel spreads new connections across them by address.
uvicorn's supervisor does the rest as before (a worker that dies is started
again, on its own socket; SIGTERM stops them all). Where SO_REUSEPORT does not
exist, `sockets` says so and the shared socket is used.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("hermes")


def sockets(host: str, port: int, count: int) -> list[socket.socket] | None:
    """`count` sockets bound to `host:port` with SO_REUSEPORT, or None where the system has no SO_REUSEPORT."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    made: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.set_inheritable(True)
    except OSError:
        for sock in made:
            sock.close()
        raise
    return made


class SocketPerWorker(Multiprocess):
    """Multiprocess, with worker i always on socket i (uvicorn gives every worker all of them)."""

    def init_processes(self) -> None:
        self.processes = [self._start(index) for index in range(self.processes_num)]

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == uvicorn.config.STARTUP_FAILURE:  # it would fail the same way again
                log.error("Worker process [%s] failed to start; stopping.", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("Worker process [%s] died; starting another", process.pid)
            self.processes[index] = self._start(index)

    def restart_all(self) -> None:  # SIGHUP: each worker replaced in turn, on its own socket
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def handle_ttin(self) -> None:  # a worker more or less would need a socket more or less: not offered
        log.info("Received SIGTTIN: the number of workers is fixed at start (--workers)")

    def handle_ttou(self) -> None:
        log.info("Received SIGTTOU: the number of workers is fixed at start (--workers)")


def run(app: str, workers: int, **options: object) -> None:
    """Serve the app factory `app` ("module:function") from `workers` processes, each on its own socket."""
    config = uvicorn.Config(app, factory=True, workers=workers, **options)  # type: ignore[arg-type]
    made = sockets(config.host, config.port, workers)
    if made is None:
        uvicorn.run(app, factory=True, workers=workers, **options)  # type: ignore[arg-type]
        return
    try:
        SocketPerWorker(config, sockets=made).run()
    finally:
        for sock in made:
            sock.close()
