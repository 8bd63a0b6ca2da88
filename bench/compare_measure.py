"""The measurements of bench/proxy_compare.py: wrk runs, a raw-socket stream client, CLI wall times.

The stream client speaks HTTP/1.1 over a plain socket so that its own cost
stays far below what it measures: the time from sending the request to
the first `data:` line, and, for streams whose chunks carry their
send time (`t=<CLOCK_MONOTONIC>;`, bench/paced_upstream.py), how long each
chunk took to reach the client.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
STAMP = re.compile(rb"t=(\d+\.\d+);")
WRK_P50 = re.compile(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
WRK_REQUESTS = re.compile(r"^\s*(\d+) requests in", re.M)
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class WrkResult:
    p50_ms: float
    rps: float
    requests: int
    errors: int  # non-2xx responses plus socket errors


def wrk(url: str, body_file: Path, connections: int, seconds: float) -> WrkResult:
    """One wrk run: one thread, keep-alive, POSTing the body in `body_file`."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
            "-s", str(BENCH / "wrk_post.lua"), url]
    out = subprocess.run(argv, env=os.environ | {"BENCH_BODY_FILE": str(body_file)}, capture_output=True,
                         text=True, timeout=seconds + 60)
    result = parse_wrk(out.stdout) if out.returncode == 0 else None
    if result is None:
        raise RuntimeError(f"wrk failed ({' '.join(argv)}):\n{out.stdout}\n{out.stderr}")
    return result


def parse_wrk(text: str) -> WrkResult | None:
    """The figures of wrk's `--latency` report, or None if it has none."""
    p50, rps, requests = WRK_P50.search(text), WRK_RPS.search(text), WRK_REQUESTS.search(text)
    if not (p50 and rps and requests):
        return None
    non2xx = WRK_NON2XX.search(text)
    sock = WRK_SOCKET.search(text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return WrkResult(float(p50.group(1)) * UNIT_MS[p50.group(2)], float(rps.group(1)), int(requests.group(1)), errors)


@dataclass
class StreamResult:
    status: int
    ttfb_s: float | None  # request sent -> first `data:` line received
    delays_s: list[float] = field(default_factory=list)  # per stamped chunk: received - sent
    done: bool = False  # `data: [DONE]` arrived


def stream_once(port: int, path: str, body: bytes, timeout_s: float = 30.0) -> StreamResult:
    """POST one streamed request on a fresh connection (Connection: close) and read it to the end."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                   f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                   ).encode() + body
        # Taken before sending: the server may run (and answer) before sendall returns to us.
        sent = time.monotonic()
        sock.sendall(request)
        return _read_stream(sock, sent)
    finally:
        sock.close()


def _read_stream(sock: socket.socket, sent: float) -> StreamResult:
    raw, pending = b"", b""
    status, chunked, head_done, finished = 0, False, False, False
    result = StreamResult(0, None)
    while not finished:
        data = sock.recv(65536)
        now = time.monotonic()
        if not data:
            break
        raw += data
        if not head_done:
            if b"\r\n\r\n" not in raw:
                continue
            head, raw = raw.split(b"\r\n\r\n", 1)
            status = int(head.split(b" ", 2)[1])
            chunked = b"transfer-encoding: chunked" in head.lower()
            head_done = True
        if chunked:
            piece, raw, finished = _dechunk(raw)
        else:
            piece, raw = raw, b""
        pending += piece
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            if result.ttfb_s is None:
                result.ttfb_s = now - sent
            if line.strip() == b"data: [DONE]":
                result.done = True
            stamp = STAMP.search(line)
            if stamp:
                result.delays_s.append(now - float(stamp.group(1)))
    result.status = status
    return result


def _dechunk(raw: bytes) -> tuple[bytes, bytes, bool]:
    """(decoded bytes, what is left undecoded, whether the last chunk came) of chunked-encoded `raw`."""
    out = b""
    while b"\r\n" in raw:
        size_line, rest = raw.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            return out, b"", True
        if len(rest) < size + 2:
            break
        out += rest[:size]
        raw = rest[size + 2:]
    return out, raw, False


@dataclass
class StreamPhase:
    ttfb_ms: float  # median
    samples: int
    delays_ms: list[float]
    errors: int


def stream_phase(port: int, path: str, body: bytes, seconds: float, max_samples: int) -> StreamPhase:
    """Streamed requests one after another for `seconds` (at least 3, at most `max_samples`)."""
    ttfbs: list[float] = []
    delays: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    while len(ttfbs) + errors < max_samples and (time.monotonic() < deadline or len(ttfbs) + errors < 3):
        try:
            result = stream_once(port, path, body)
        except OSError:
            errors += 1
            continue
        if result.status != 200 or result.ttfb_s is None or not result.done:
            errors += 1
            continue
        ttfbs.append(result.ttfb_s * 1000)
        delays += [d * 1000 for d in result.delays_s]
    if not ttfbs:
        raise RuntimeError(f"no streamed request to 127.0.0.1:{port}{path} succeeded ({errors} failed)")
    return StreamPhase(statistics.median(ttfbs), len(ttfbs), delays, errors)


def wall_time(argv: list[str], env: dict[str, str], runs: int = 5) -> tuple[float, list[float]]:
    """Median wall time in seconds of `argv` over `runs` runs, and all of them; a failed run is an error."""
    times = []
    for _ in range(runs):
        started = time.monotonic()
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        times.append(time.monotonic() - started)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}:\n{out.stdout[-1000:]}{out.stderr[-2000:]}")
    return statistics.median(times), times
