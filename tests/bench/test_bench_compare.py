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


# The two-version comparison: each LiteLLM version its own target, ratios against each, targets judged against one.

def _figures(p50: float, p50_long: float, rps: float, ttfb: float, errors: int = 0) -> dict:
    return {"p50_ms": p50, "p50_long_ms": p50_long, "rps": rps, "ttfb_sse_ms": ttfb, "ttfb_paced_ms": ttfb * 2,
            "delays_ms": [0.5, 1.0], "errors": errors}


def _run(litellm: dict[str, dict]) -> dict[str, dict]:
    """One run's figures, in the order proxy_compare measures them: direct, each LiteLLM, Hermes."""
    return {"direct": _figures(0.2, 0.4, 5000, 0.3), **litellm, "hermes": _figures(0.6, 1.4, 2000, 0.8)}


def _summary(litellm: dict[str, dict]) -> dict:
    import compare_report

    return compare_report.summarize([_run(litellm)], {"hermes --version": [0.2]})


def _render(summary: dict) -> str:
    import argparse

    import compare_report

    args = argparse.Namespace(runs=1, seconds=3.0, interval=0.02, hermes_workers=1)
    versions = [t.removeprefix("litellm-") for t in summary["targets"] if t.startswith("litellm-")]
    return compare_report.render(summary, compare_report.metadata("working tree", versions, args, 60, 0.1))


def test_each_litellm_version_gets_its_own_columns_and_its_own_ratios() -> None:
    # Hermes adds 0.4 ms; 1.100.5 adds 4.0 ms (0.10x), 1.108.7 adds 2.0 ms (0.20x, over the 0.15 target).
    summary = _summary({"litellm-1.100.5": _figures(4.2, 8.4, 190, 4.0),
                        "litellm-1.108.7": _figures(2.2, 5.4, 250, 2.0, errors=3)})
    ratios = summary["ratios"]
    assert ratios["litellm-1.100.5"]["added_latency"] == pytest.approx(0.10)
    assert ratios["litellm-1.108.7"]["added_latency"] == pytest.approx(0.20)
    assert ratios["litellm-1.100.5"]["throughput"] == pytest.approx(2000 / 190)
    assert summary["litellm-1.108.7"]["errors"] == 3

    table = _render(summary)
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| | direct"))
    assert header == ("| | direct to upstream | LiteLLM proxy 1.100.5 | LiteLLM proxy 1.108.7 | Hermes "
                      "| Hermes / LiteLLM 1.100.5 | Hermes / LiteLLM 1.108.7 | target |")
    assert lines[lines.index(header) + 1].count("|") == header.count("|")
    added = next(line for line in lines if line.startswith("| c=1 added latency p50 (over direct)"))
    assert "| 4.00 ms | 2.00 ms | 0.40 ms | 0.10× | 0.20× |" in added
    # Latency is judged against the newest version (FAIL at 0.20x though 1.100.5's 0.10x would pass) ...
    assert added.endswith("≤ 0.15× of LiteLLM 1.108.7 FAIL |")
    # ... throughput against the pinned one (10.5x of 1.100.5 passes though 8x of 1.108.7 would not).
    throughput = next(line for line in lines if line.startswith("| throughput at c=32"))
    assert throughput.endswith("≥ 10× of LiteLLM 1.100.5 PASS |")
    assert "LiteLLM proxy 1.100.5 and 1.108.7 (1 worker each)" in lines[0]
    assert "Failed requests (the figures above count only the answered ones): LiteLLM 1.108.7 3" in table
    assert "Chunks timed on the paced stream: direct 2, LiteLLM 1.100.5 2, LiteLLM 1.108.7 2, Hermes 2" in table


def test_targets_are_judged_against_the_newest_version_and_throughput_against_the_pinned_or_oldest() -> None:
    import compare_report

    both = compare_report.judged_against(["direct", "litellm-1.108.7", "litellm-1.100.5", "hermes"])
    assert both == {"added_latency": "litellm-1.108.7", "added_latency_long": "litellm-1.108.7",
                    "throughput": "litellm-1.100.5", "ttfb_sse": "litellm-1.108.7", "ttfb_paced": "litellm-1.108.7"}
    unpinned = compare_report.judged_against(["direct", "litellm-1.108.7", "litellm-1.99.0", "hermes"])
    assert (unpinned["throughput"], unpinned["added_latency"]) == ("litellm-1.99.0", "litellm-1.108.7")
    alone = compare_report.judged_against(["direct", "litellm-1.100.5", "hermes"])
    assert set(alone.values()) == {"litellm-1.100.5"}


def test_a_single_version_renders_one_litellm_column() -> None:
    table = _render(_summary({"litellm-1.100.5": _figures(4.2, 8.4, 190, 4.0)}))
    assert "| | direct to upstream | LiteLLM proxy 1.100.5 | Hermes | Hermes / LiteLLM 1.100.5 | target |" in table
    assert "LiteLLM proxy 1.100.5 (1 worker) ·" in table


def test_litellm_option_defaults_to_both_versions_and_sorts_by_release() -> None:
    import proxy_compare

    assert proxy_compare.parse_args([]).litellm == ["1.100.5", "1.108.7"]
    assert proxy_compare.parse_args(["--litellm", "1.108.7"]).litellm == ["1.108.7"]
    asked = ["--litellm", "1.108.7", "--litellm", "1.99.0", "--litellm", "1.108.7", "--quick"]
    assert proxy_compare.parse_args(asked).litellm == ["1.99.0", "1.108.7"]  # numerically, once each
    with pytest.raises(SystemExit):
        proxy_compare.parse_args(["--litellm", "latest"])


def test_each_litellm_version_has_its_own_venv_and_the_pinned_one_keeps_its_old_place() -> None:
    import compare_procs

    assert compare_procs.litellm_venv("1.100.5") == compare_procs.REPO / ".bench" / "litellm-venv"
    assert compare_procs.litellm_venv("1.108.7") == compare_procs.REPO / ".bench" / "litellm-1.108.7-venv"
