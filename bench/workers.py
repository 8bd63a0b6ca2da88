"""Does `hermes serve --workers 2` relay more than one worker on this machine? Interleaved runs, on loopback.

    .venv/bin/python bench/workers.py [--runs 3] [--seconds 8] [--workers 1 2]

An nginx mock OpenRouter (as bench/proxy_compare.py's), one Hermes per worker
count (its own SQLite file, a budget too large to bind, a concrete cloud model
so the cascade is not involved), and wrk at 32 connections on the one-message
body: each run measures every worker count in turn; the table shows the
medians of requests/s, p50 and p90, and how the requests split between the
workers (from the ledger's owner column). Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import compare_procs as procs
from compare_measure import BENCH, UNIT_MS, parse_wrk

P90 = re.compile(r"^\s*90%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    return parser.parse_args()


def wrk32(port: int, body: Path, seconds: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p90 ms) of one wrk run at 32 connections."""
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-s", str(BENCH / "wrk_post.lua"),
                          f"http://127.0.0.1:{port}/v1/chat/completions"],
                         env={"BENCH_BODY_FILE": str(body), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    result, p90 = parse_wrk(out), P90.search(out)
    if result is None or p90 is None or result.errors:
        raise SystemExit(f"wrk failed or saw errors:\n{out}")
    return result.rps, result.p50_ms, float(p90.group(1)) * UNIT_MS[p90.group(2)]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="hermes-workers-") as tmp_name:
        tmp, children = Path(tmp_name), procs.Children()
        try:
            nginx = procs.start_nginx(children, tmp)
            config_dir, model = procs.hermes_config(tmp, procs.REPO)
            ports = {n: procs.start_hermes(children, tmp, config_dir, procs.REPO, f"w{n}",
                                           f"http://127.0.0.1:{nginx}/api/v1", n) for n in args.workers}
            body = tmp / "body.json"
            body.write_bytes(json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hello."}],
                                         "max_tokens": 16}).encode())
            for port in ports.values():
                wrk32(port, body, 2)  # warm-up
            figures: dict[int, list[tuple[float, float, float]]] = {n: [] for n in args.workers}
            for run in range(args.runs):
                for n, port in ports.items():
                    figures[n].append(wrk32(port, body, args.seconds))
                    print(f"  run {run + 1}, {n} worker(s): {figures[n][-1][0]:,.0f} req/s", flush=True)
        finally:
            children.stop_all()
        print("\n| workers | requests/s | p50 | p90 | requests per worker |\n|---:|---:|---:|---:|---|")
        for n, runs in figures.items():
            owners = Counter(row[0] for row in sqlite3.connect(tmp / f"hermes-w{n}.db").execute(
                "SELECT owner FROM ledger"))
            split = " / ".join(f"{100 * c / sum(owners.values()):.0f}%" for c in sorted(owners.values(), reverse=True))
            rps, p50, p90 = (statistics.median(r[i] for r in runs) for i in range(3))
            print(f"| {n} | {rps:,.0f} | {p50:.1f} ms | {p90:.1f} ms | {split} |")


if __name__ == "__main__":
    main()
