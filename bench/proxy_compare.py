"""`make bench`: Hermes's own cost next to LiteLLM's proxy and the upstream itself, in one interleaved run.

    .venv/bin/python bench/proxy_compare.py [--runs 3] [--seconds 10] [--quick] [--hermes-rev REV]
                                            [--litellm VERSION ...]

Everything runs on 127.0.0.1 and stops by itself: an nginx mock OpenRouter
(instant answers, and whole SSE streams sent at once), a paced mock
(bench/paced_upstream.py, chunks 20 ms apart, each stamped with its send
time), LiteLLM's proxy in two versions by default, the project's pinned
1.100.5 and the current 1.108.7 (each in its own venv in .bench/, one worker,
no database, no master key), and Hermes (a budget too large to bind, no local
model, a concrete cloud model requested so the cascade is not involved; one
process per mock, since Hermes has one OpenRouter base). Each run measures
every point for direct, each LiteLLM and Hermes in turn; the table shows
medians of the runs and the ratios issues 9 and 31 ask for, against each
LiteLLM version. The c=1 latency is measured twice: on a one-message body
and on an OpenCode-sized conversation (100 messages, 10 tools, about 33k
tokens, 135 KB; bench/long_body.py), since coding agents resend their whole
history every turn. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import compare_procs as procs
import compare_report as report
import long_body
import mock_bodies
from compare_measure import stream_phase, wall_time, wrk

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello."}]
STREAM_SHARE = 0.3  # each stream point runs for this share of --seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs; the table shows their medians")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk point (streams: 0.3 of it)")
    parser.add_argument("--quick", action="store_true", help="one short run (1 run of 3 s), to check it works")
    parser.add_argument("--hermes-rev", help="bench this git revision of Hermes (exported with git archive) "
                                             "instead of the working tree")
    parser.add_argument("--interval", type=float, default=0.02, help="the paced mock's seconds between chunks")
    parser.add_argument("--json", type=Path, help="also write every figure, run by run, to this file")
    parser.add_argument("--hermes-workers", type=int, default=1,
                        help="`hermes serve --workers N` for the JSON point (LiteLLM stays at one worker)")
    parser.add_argument("--litellm", action="append", metavar="VERSION", type=_version,
                        help="a LiteLLM proxy version to measure, in its own venv in .bench/ (repeatable; default: "
                             + " and ".join(procs.LITELLM_VERSIONS) + ")")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 1, 3.0
    # Oldest first, once each: the table's columns read in release order whatever order they were asked in.
    args.litellm = sorted(set(args.litellm or procs.LITELLM_VERSIONS), key=report.version_key)
    return args


def _version(text: str) -> str:
    """A release number such as 1.108.7: it names a venv directory and is pinned with `==` for pip."""
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise argparse.ArgumentTypeError(f"not a release number: {text!r}")
    return text


def hermes_source(rev: str | None, tmp: Path) -> tuple[Path, str]:
    """Where Hermes's code comes from, and a label naming it."""
    git = ["git", "-C", str(procs.REPO)]
    if rev is None:
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "proxy"], capture_output=True, text=True).stdout
        return procs.REPO, f"working tree at {head}" + (" with uncommitted changes to proxy/" if dirty.strip() else "")
    short = subprocess.run(git + ["rev-parse", "--short", rev], capture_output=True, text=True, check=True).stdout.strip()
    src = tmp / "hermes-src"
    src.mkdir()
    archive = subprocess.run(git + ["archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src, f"revision {short}"


def start_everything(children: procs.Children, tmp: Path, src: Path, interval: float, litellm: list[str],
                     workers: int = 1) -> tuple[dict[str, dict], Path]:
    """Start the mocks, then every LiteLLM version and the Hermes processes side by side.

    Returns each target's endpoints, in the order every point measures them (direct, each LiteLLM
    version oldest first, Hermes), and Hermes's config dir.
    """
    nginx = procs.start_nginx(children, tmp)
    paced = procs.start_paced(children, tmp, interval, chunks=10)
    bases = {"json": f"http://127.0.0.1:{nginx}/api/v1", "sse": f"http://127.0.0.1:{nginx}/sse/api/v1",
             "paced": f"http://127.0.0.1:{paced}/api/v1"}
    config_dir, model = procs.hermes_config(tmp, src)
    pool = ThreadPoolExecutor(len(litellm) + len(bases))
    try:
        litellm_started = {version: pool.submit(procs.start_litellm, children, tmp, bases, version)
                           for version in litellm}
        hermes = {kind: pool.submit(procs.start_hermes, children, tmp, config_dir, src, kind, base,
                                    workers if kind == "json" else 1)
                  for kind, base in bases.items()}
        litellm_ports = {version: f.result() for version, f in litellm_started.items()}
        hermes_ports = {kind: f.result() for kind, f in hermes.items()}
    except BaseException:
        procs.STOP.set()  # the other waits give up, so Ctrl-C or a failure stops everything at once
        raise
    finally:
        pool.shutdown(wait=True)
    direct = {"json": (nginx, "/api/v1/chat/completions", mock_bodies.MODEL),
              "sse": (nginx, "/sse/api/v1/chat/completions", mock_bodies.MODEL),
              "paced": (paced, "/api/v1/chat/completions", mock_bodies.MODEL)}
    endpoints = {"direct": direct}
    # Every LiteLLM version has the same three models (compare_procs.start_litellm): only the port differs.
    endpoints |= {report.litellm_target(version): {kind: (port, CHAT, f"bench-{kind}") for kind in bases}
                  for version, port in litellm_ports.items()}
    endpoints["hermes"] = {kind: (hermes_ports[kind], CHAT, model) for kind in bases}
    return endpoints, config_dir


def body(model: str, stream: bool, size: str = "small") -> bytes:
    """The request: one short message, or (`long`) an OpenCode-sized conversation (bench/long_body.py)."""
    if size == "long":
        return json.dumps(long_body.conversation(model, stream=stream)).encode()
    value: dict = {"model": model, "messages": MESSAGES, "max_tokens": 16}
    if stream:
        value |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(value).encode()


# The non-streamed points: (connections, body, the figure kept).
POINTS = ((1, "small", "p50_ms"), (1, "long", "p50_long_ms"), (32, "small", "rps"))


def measure_run(endpoints: dict, tmp: Path, seconds: float) -> dict[str, dict]:
    """One run: every point, each for every target in turn (direct, each LiteLLM, Hermes).

    Interleaved point by point, so a slow minute of a shared machine falls on all targets alike.
    """
    figures: dict[str, dict] = {t: {"errors": 0} for t in endpoints}
    for connections, size, key in POINTS:
        for target in endpoints:
            port, path, model = endpoints[target]["json"]
            body_file = tmp / f"body-{target}-{size}.json"
            body_file.write_bytes(body(model, stream=False, size=size))
            result = wrk(f"http://127.0.0.1:{port}{path}", body_file, connections, seconds)
            figures[target][key] = result.rps if key == "rps" else result.p50_ms
            figures[target]["errors"] += result.errors
            _progress(f"{target} c={connections} ({size} body): p50 {result.p50_ms:.3f} ms, {result.rps:.1f} req/s"
                      + (f", {result.errors} errors" if result.errors else ""))
    for kind, max_samples in (("sse", 300), ("paced", 30)):
        for target in endpoints:
            port, path, model = endpoints[target][kind]
            phase = stream_phase(port, path, body(model, stream=True), seconds * STREAM_SHARE, max_samples)
            figures[target][f"ttfb_{kind}_ms"] = phase.ttfb_ms
            figures[target]["errors"] += phase.errors
            if kind == "paced":
                figures[target]["delays_ms"] = phase.delays_ms
            _progress(f"{target} stream ({kind}): first data {phase.ttfb_ms:.2f} ms over {phase.samples} streams"
                      + (f", {phase.errors} errors" if phase.errors else ""))
    return figures


def warm_up(endpoints: dict, tmp: Path) -> None:
    """A second of load and a few streams for each target, so no run pays for first-call set-up."""
    for target in endpoints:
        port, path, model = endpoints[target]["json"]
        for size in ("small", "long"):
            body_file = tmp / f"body-{target}-{size}.json"
            body_file.write_bytes(body(model, stream=False, size=size))
            wrk(f"http://127.0.0.1:{port}{path}", body_file, 4, 1)
        for kind in ("sse", "paced"):
            port, path, model = endpoints[target][kind]
            stream_phase(port, path, body(model, stream=True), 0, 3)


def cli_times(tmp: Path, src: Path, config_dir: Path, runs: int, hermes_port: int) -> dict[str, list[float]]:
    """`--version`, and `budget --json` as a user runs it: asking the running Hermes (the bench's own)."""
    env = procs.hermes_env(tmp, config_dir, src, "cli", "http://127.0.0.1:9")
    env["HERMES_URL"] = f"http://127.0.0.1:{hermes_port}"
    hermes = str(procs.hermes_binary())
    return {" ".join(["hermes", *argv]): wall_time([hermes, *argv], env, runs)[1]
            for argv in (["--version"], ["budget", "--json"])}


def prepare_litellm(versions: list[str]) -> None:
    """Each version's venv, made if missing (one at a time: pip on 2 cores), and checked to hold that version.

    The table's columns are named by the version asked for; a venv holding another would mislabel them.
    """
    for version in versions:
        procs.ensure_litellm_venv(version)
        if (found := procs.litellm_version(version)) != version:
            raise SystemExit(f"{procs.litellm_venv(version)} holds litellm {found}, not {version}; "
                             "remove it to have it installed again")


def _progress(line: str) -> None:
    print(f"  {line}", flush=True)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds to the finally that stops every child


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    started, load_before = time.monotonic(), os.getloadavg()[0]
    if load_before > 1.5:
        print(f"Warning: the load average is {load_before:.1f} on {os.cpu_count()} cores; something else is running "
              "and the figures will be slower and noisier than on a quiet machine.", flush=True)
    with tempfile.TemporaryDirectory(prefix="hermes-bench-") as tmp_name:
        tmp = Path(tmp_name)
        children = procs.Children()
        try:
            src, label = hermes_source(args.hermes_rev, tmp)
            prepare_litellm(args.litellm)
            print(f"Starting the mocks, LiteLLM's proxy {' and '.join(args.litellm)} and Hermes ({label}) ...",
                  flush=True)
            endpoints, config_dir = start_everything(children, tmp, src, args.interval, args.litellm,
                                                     args.hermes_workers)
            print(f"[{time.monotonic() - started:.0f} s] Timing the CLI (median of {3 if args.quick else 5}) ...",
                  flush=True)
            cli = cli_times(tmp, src, config_dir, 3 if args.quick else 5, endpoints["hermes"]["json"][0])
            warm_up(endpoints, tmp)
            runs = []
            for number in range(1, args.runs + 1):
                print(f"[{time.monotonic() - started:.0f} s] Run {number} of {args.runs} ({args.seconds:g} s per wrk "
                      "point) ...", flush=True)
                runs.append(measure_run(endpoints, tmp, args.seconds))
        except KeyboardInterrupt:
            print("Interrupted; stopping everything.", file=sys.stderr)
            raise SystemExit(130) from None
        finally:
            children.stop_all()
    summary = report.summarize(runs, cli)
    meta = report.metadata(label, args.litellm, args, time.monotonic() - started, load_before)
    print()
    print(report.render(summary, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs, "cli_s": cli}, indent=2))


if __name__ == "__main__":
    main()
