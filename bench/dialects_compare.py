"""Do the other dialects' cloud relays cost what the chat relay does? Hermes beside LiteLLM's proxy, interleaved.

    .venv/bin/python bench/dialects_compare.py [--runs 3] [--seconds 5] [--quick]

On 127.0.0.1 only, stopping by itself: the nginx mock OpenRouter of bench/proxy_compare.py answers
`/chat/completions`, `/messages` and `/responses` at once (bench/mock_bodies.py); LiteLLM's proxy (its own
venv in .bench/, one worker) and Hermes (embedded model off, a concrete cloud model requested) each serve
the three doors: OpenAI chat, Anthropic Messages, OpenAI Responses. wrk measures each door at one
connection, non-streamed; each run goes through every door of the mock, LiteLLM and Hermes in turn. A
door's added latency is its p50 less the mock's own at the matching path; the table shows the medians of
the runs, and the ratio to LiteLLM's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import compare_procs as procs
import httpx
import mock_bodies
from compare_measure import wrk

DOORS = {
    "chat": ("/v1/chat/completions", "/api/v1/chat/completions"),
    "messages": ("/v1/messages", "/api/v1/messages"),
    "responses": ("/v1/responses", "/api/v1/responses"),
}
ASK = "Say hello."


def body(door: str, model: str) -> bytes:
    if door == "chat":
        value: dict = {"model": model, "messages": [{"role": "user", "content": ASK}], "max_tokens": 16}
    elif door == "messages":
        value = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": ASK}]}
    else:
        value = {"model": model, "input": ASK, "max_output_tokens": 16}
    return json.dumps(value).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk point")
    parser.add_argument("--quick", action="store_true", help="one run of 2 s points, to check it works")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seconds = 1, 2.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hermes-dialects-") as tmp_name:
        tmp = Path(tmp_name)
        children = procs.Children()
        try:
            procs.ensure_litellm_venv()
            nginx = procs.start_nginx(children, tmp)
            base = f"http://127.0.0.1:{nginx}/api/v1"
            litellm = procs.start_litellm(children, tmp, {"json": base})
            config_dir, model = procs.hermes_config(tmp, procs.REPO)
            hermes = procs.start_hermes(children, tmp, config_dir, procs.REPO, "json", base)
            targets = {"mock": (nginx, mock_bodies.MODEL, 1), "litellm": (litellm, "bench-json", 0),
                       "hermes": (hermes, model, 0)}
            for target, (port, name, which) in targets.items():  # each door answers before it is timed
                for door, paths in DOORS.items():
                    response = httpx.post(f"http://127.0.0.1:{port}{paths[which]}", content=body(door, name),
                                          headers={"content-type": "application/json"}, timeout=30)
                    if response.status_code != 200:
                        raise SystemExit(f"{target} {paths[which]}: {response.status_code} {response.text[:300]}")
            p50s: dict[str, dict[str, list[float]]] = {t: {d: [] for d in DOORS} for t in targets}
            for run in range(1, args.runs + 1):
                print(f"[{time.monotonic() - started:.0f} s] run {run} of {args.runs} ...", flush=True)
                for door, paths in DOORS.items():
                    for target, (port, name, which) in targets.items():
                        body_file = tmp / f"{target}-{door}.json"
                        body_file.write_bytes(body(door, name))
                        result = wrk(f"http://127.0.0.1:{port}{paths[which]}", body_file, 1, args.seconds)
                        if result.errors:
                            print(f"  {target} {door}: {result.errors} errors", flush=True)
                        p50s[target][door].append(result.p50_ms)
                        print(f"  {target} {door}: p50 {result.p50_ms:.3f} ms", flush=True)
        finally:
            children.stop_all()
    print(render(p50s, args, time.monotonic() - started))


def render(p50s: dict[str, dict[str, list[float]]], args: argparse.Namespace, elapsed_s: float) -> str:
    median = {t: {d: statistics.median(v) for d, v in doors.items()} for t, doors in p50s.items()}
    rows = ["| door | mock p50 | LiteLLM added | Hermes added | Hermes / LiteLLM |", "|---|---:|---:|---:|---:|"]
    for door in DOORS:
        mock = median["mock"][door]
        litellm, hermes = median["litellm"][door] - mock, median["hermes"][door] - mock
        rows.append(f"| {door} | {mock:.3f} ms | {litellm:.2f} ms | {hermes:.2f} ms | {hermes / litellm:.2f}x |")
    chat = median["hermes"]["chat"] - median["mock"]["chat"]
    rows.append("")
    rows += [f"Hermes's {door} relay adds {median['hermes'][door] - median['mock'][door]:.2f} ms where its chat "
             f"relay adds {chat:.2f} ms." for door in ("messages", "responses")]
    rows.append(f"\n{args.runs} interleaved run(s), {args.seconds:g} s per point, c=1, non-streamed; medians; "
                f"LiteLLM {procs.litellm_version()}; {elapsed_s:.0f} s in all.")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
