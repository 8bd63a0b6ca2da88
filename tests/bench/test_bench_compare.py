"""bench/proxy_compare.py's own parts: wrk's report, chunked decoding, the paced mock and the stream client.

No figure is asserted on (no timed test): only that the bench reads what it measures correctly.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import compare_measure  # noqa: E402
import mock_bodies  # noqa: E402

WRK_REPORT = """Running 10s test @ http://127.0.0.1:8080/v1/chat/completions
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   530.12ms   40.00ms 900.00ms   90.00%
    Req/Sec    60.00     10.00    80.00     70.00%
  Latency Distribution
     50%  527.31ms
     75%  550.00ms
     90%  600.00ms
     99%    1.20s
  603 requests in 10.01s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:     60.24
Transfer/sec:    102.30KB
"""


def test_wrk_report_is_read_with_its_units_and_errors() -> None:
    result = compare_measure.parse_wrk(WRK_REPORT)
    assert result is not None
    assert result.p50_ms == pytest.approx(527.31)
    assert (result.rps, result.requests, result.errors) == (60.24, 603, 7)
    assert compare_measure.parse_wrk(WRK_REPORT.replace("527.31ms", "12.00us")).p50_ms == pytest.approx(0.012)
    assert compare_measure.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused") is None


def test_chunked_body_split_anywhere_decodes_once() -> None:
    encoded = b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
    for cut in range(len(encoded)):
        first, rest, done = compare_measure._dechunk(encoded[:cut])
        if done:  # the last chunk's size line was whole: the reader stops here
            assert first == b"hello, world"
            continue
        second, _, done = compare_measure._dechunk(rest + encoded[cut:])
        assert (first + second, done) == (b"hello, world", True)


@pytest.fixture
def paced_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(BENCH / "paced_upstream.py"), "--port", str(port),
                                "--interval", "0.001", "--chunks", "4"])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_paced_stream_is_read_to_done_with_every_chunk_stamped(paced_port: int) -> None:
    result = compare_measure.stream_once(paced_port, "/api/v1/chat/completions", b'{"stream": true}')
    assert (result.status, result.done) == (200, True)
    assert result.ttfb_s is not None and result.ttfb_s >= 0
    assert len(result.delays_s) == 4 and all(delay >= 0 for delay in result.delays_s)


def test_paced_mock_answers_a_plain_request_with_the_canned_completion(paced_port: int) -> None:
    with socket.create_connection(("127.0.0.1", paced_port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\n{}")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(mock_bodies.completion())


def test_instant_stream_ends_with_usage_cost_and_done() -> None:
    events = mock_bodies.instant_stream().decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert '"cost":0.000171' in events[-3]


def test_the_dialect_mock_bodies_are_what_the_vendors_sdks_read() -> None:
    # bench/dialects_compare.py times Hermes's relays against these: they must be real answers of each dialect.
    import anthropic.types
    import openai.types.responses

    message = anthropic.types.Message.model_validate(json.loads(mock_bodies.message()))
    response = openai.types.responses.Response.model_validate(json.loads(mock_bodies.response()))

    assert message.content[0].text == response.output_text == "".join(mock_bodies.WORDS)  # type: ignore[union-attr]
