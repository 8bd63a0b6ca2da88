"""Do real coding agents finish a one-file edit through Hermes? (issue 9)

    .venv/bin/python bench/agents.py                      # all six agents against Hermes
    .venv/bin/python bench/agents.py --clients claude,codex,gemini   # the three other dialects
    .venv/bin/python bench/agents.py --model cloud        # every agent on `cloud`, skipping the local models
    .venv/bin/python bench/agents.py --clients opencode --limit 400
    .venv/bin/python bench/agents.py --direct             # control: the agents straight at the cloud stub
    .venv/bin/python bench/agents.py --direct --comments 5 --comment-gap 2   # SSE comment lines first
    .venv/bin/python bench/agents.py --clients aider,opencode,continue --model cloud --aider-tests \
        --record tests/clients/sessions    # each agent's requests, for tests/pipeline/test_recorded_sessions.py
    .venv/bin/python bench/agents.py --clients claude --model cloud --task long --record /tmp/rec-long
        # nine files read and fixed one by one, then the tests: 20+ turns of one session (rename to claude-long.json)

Per client: a scripted cloud on loopback (bench/agents_servers.py, OpenRouter's
wire format, answering as a capable model would), a fresh `hermes serve` (its
own database, the embedded model since no Ollama answers, policy auto,
OPENROUTER_API_BASE at the stub), a recording tap in front of Hermes, a
throw-away project holding greet.py with a typo, and the agent run headless
on "fix the typo in greet.py" (bench/agents_clients.py: versions, configs,
their own timeouts). It succeeds when greet.py ends up exactly fixed and the
agent exits 0 before `--limit`. The clients are installed on first use into
`--clients-dir`. Results also go to a JSON file (`--json`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_clients import CHECK_ONCE, CLIENTS, TASKS, install
from bench.agents_servers import Edit, ScriptedCloud, Served, Tap
from proxy.localmodel.embedded import free_port

REPO = Path(__file__).resolve().parent.parent
GAVE_UP = ("timed out", "timeout", "aborted", "econnreset", "socket hang up", "premature close")
# A request whose connection closed this close to the agent's exit was left unanswered by an agent that had
# finished (OpenCode's run exits without waiting for its title request), not given up on mid-task.
EXIT_SLACK_S = 1.0


def start_hermes(src: Path, work: Path, cloud_url: str, key: bool = True,
                 policy: str | None = None) -> tuple[subprocess.Popen[bytes], str, float]:
    """`hermes serve` from the source tree `src`: embedded model, the shipped policy (auto) or `policy`, the cloud
    at `cloud_url` with a key (`key`) or without one."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HERMES_", "OPENROUTER_", "OLLAMA_"))}
    env |= {"PYTHONPATH": str(src), "HERMES_DB": str(work / "hermes.db"), "HERMES_PORT": str(port),
            "OLLAMA_API_BASE": f"http://127.0.0.1:{free_port()}",  # nothing answers there: the embedded model
            "OPENROUTER_API_BASE": f"{cloud_url}/api/v1"} | ({"OPENROUTER_API_KEY": "test"} if key else {})
    config_dir = src
    if policy is not None:  # the shipped files, with another upgrade policy
        config_dir = work / "config"
        config_dir.mkdir()
        shutil.copy(src / "budgets.yaml", config_dir / "budgets.yaml")
        rules = (src / "routing_rules.yaml").read_text()
        (config_dir / "routing_rules.yaml").write_text(re.sub(r"(?m)^upgrade_policy: \w+", f"upgrade_policy: {policy}",
                                                              rules))
    started = time.monotonic()
    log = open(work / "hermes.log", "wb")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen([sys.executable, "-c", "from proxy.cli.main import cli; cli()", "serve",
                                "--config-dir", str(config_dir)], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < 240:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url, time.monotonic() - started
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"hermes serve did not become healthy; see {work / 'hermes.log'}")


def stop(process: subprocess.Popen[bytes], grace_s: float = 15) -> None:
    """End a child we started, and its process group (the embedded model, an agent's helpers)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def hermes_tasks(db: Path) -> list[dict[str, Any]]:
    """What Hermes recorded of each request (the tasks table), oldest first."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(
            "SELECT id, created_at, requested_model, route, model, stream, status, error_code, input_tokens,"
            " output_tokens, cost_usd, latency_ms, task_type, session_id FROM tasks ORDER BY id")]


def run_client(name: str, args: argparse.Namespace) -> dict[str, Any]:
    client = CLIENTS[name]
    work = Path(tempfile.mkdtemp(prefix=f"hermes-agents-{name}-"))
    project, home = work / "project", work / "home"
    project.mkdir()
    task = TASKS[args.task]
    for fix in task.fixes:
        (project / fix.name).write_text(fix.before)
    for file_name, content in task.extra_files:
        (project / file_name).write_text(content)
    test_cmd = task.test_cmd if name == "aider" else None  # aider runs it itself (--auto-test), after its edit
    if args.aider_tests and name == "aider":
        (project / "check.py").write_text(CHECK_ONCE)
        test_cmd = f"{sys.executable} check.py"
    edits = [Edit(str(project / fix.name), fix.old, fix.new, fix.before, fix.after) for fix in task.fixes]
    cloud = ScriptedCloud(edits, comments=args.comments, comment_interval_s=args.comment_gap,
                          test_command=task.test_cmd)
    served: list[Served] = [Served(cloud.app, free_port())]
    hermes: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {"client": name, "version": client.version, "own_timeout": client.own_timeout,
                              "via": "direct" if args.direct else f"hermes, {args.model}", "work": str(work)}
    try:
        upstream = served[0].url
        if not args.direct:
            hermes, upstream, result["hermes_start_s"] = start_hermes(args.hermes_src, work, served[0].url,
                                                                      key=not args.no_key, policy=args.policy)
        tap = Tap(upstream)
        served.append(Served(tap.app, free_port()))
        argv, env = client.command(args.clients_dir, project, home, f"{served[1].url}/v1", args.model, test_cmd, task)
        started, result["load_before"] = time.monotonic(), round(os.getloadavg()[0], 1)
        with open(work / "client.out", "wb") as out, open(work / "client.err", "wb") as err:
            agent = subprocess.Popen(argv, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     start_new_session=True)
            try:
                result["exit_code"] = agent.wait(timeout=args.limit)
            except subprocess.TimeoutExpired:
                result["exit_code"] = None  # still running at --limit
            finally:
                exited = time.monotonic()
                stop(agent, grace_s=5)
        result["wall_s"], result["load_after"] = round(time.monotonic() - started, 1), round(os.getloadavg()[0], 1)
        result["file_fixed"] = all((project / fix.name).read_text() == fix.after for fix in task.fixes)
        result["exchanges"] = [asdict(exchange) | {"left_at_exit": exchange.client_hung_up_s is not None and
                                                   exchange.started + exchange.client_hung_up_s >= exited - EXIT_SLACK_S}
                               for exchange in tap.exchanges]
        abandoned = any(e["client_hung_up_s"] is not None and not e["left_at_exit"] for e in result["exchanges"])
        result["success"] = result["file_fixed"] and result["exit_code"] == 0 and not abandoned
        output = ((work / "client.out").read_text(errors="replace") + (work / "client.err").read_text(errors="replace"))
        result["client_said"] = [line.strip()[:200] for line in output.splitlines()
                                 if any(word in line.lower() for word in GAVE_UP) or "error" in line.lower()][-6:]
        result["cloud_calls"] = cloud.log
        if args.record:
            args.record.mkdir(parents=True, exist_ok=True)
            (args.record / f"{name}.json").write_text(json.dumps({
                "client": client.version, "recorded": time.strftime("%Y-%m-%d"), "model": args.model,
                "task": args.task, "edit_paths": [edit.path for edit in edits], "requests": tap.recorded},
                indent=1) + "\n")
    finally:
        for server in reversed(served):
            server.stop()
        if hermes is not None:
            stop(hermes)
    result["hermes_tasks"] = hermes_tasks(work / "hermes.db")  # once Hermes has settled what was still open
    return result


def describe(exchange: dict[str, Any]) -> str:
    """One line per request: what the client sent, when it got bytes, what Hermes did."""
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    line = (f"    {exchange['client_tokens'] / 1000:.1f}k tok, {exchange['tools']} tools, {exchange['messages']} msgs:"
            f" status {exchange['status']}, first byte {secs(exchange['first_byte_s'])},"
            f" first data {secs(exchange['first_data_s'])}, end {secs(exchange['ended_s'])}")
    if exchange["comment_lines"]:
        line += f", {exchange['comment_lines']} comment lines first"
    if exchange["client_hung_up_s"] is not None:
        line += f", CLIENT HUNG UP at {secs(exchange['client_hung_up_s'])}"
        line += " (as it exited, its task done)" if exchange.get("left_at_exit") else ""
    if exchange["error"]:
        line += f", error {exchange['error']}"
    hermes = exchange.get("hermes") or {}
    headers = exchange.get("headers") or {}
    route = hermes.get("route") or headers.get("x-hermes-route")
    if route:
        line += f"\n      hermes: route={route} model={hermes.get('model') or headers.get('x-hermes-model')}"
        cascade = hermes.get("cascade") or {}
        for attempt in cascade.get("attempts") or []:
            score = f" {attempt['score']:.1f}" if attempt.get("score") is not None else ""
            line += f"; {attempt['model']} {attempt['outcome']}{score} {attempt.get('detail', '')}".rstrip()
        if cascade.get("decision"):
            line += f"; {cascade['decision']}"
    return line


def summary(results: list[dict[str, Any]]) -> str:
    rows = [("| client | via | result | wall | requests (client/hermes/cloud), sessions | longest wait for a first byte |"
             " first request; first with tools | own timeout | load |"), "|---|---|---|---:|---|---:|---|---|---|"]
    details = []
    for r in results:
        if "error" in r:
            rows.append(f"| {r['client']} | {r['via']} | could not run: {r['error']} | | | | | | |")
            continue
        exchanges = r["exchanges"]
        hung = sum(1 for e in exchanges if e["client_hung_up_s"] is not None and not e.get("left_at_exit"))
        pending = sum(1 for e in exchanges if e.get("left_at_exit"))
        if r["success"]:
            verdict = "OK" + (f" ({pending} request(s) still unanswered when it exited)" if pending else "")
        elif r["file_fixed"] and r["exit_code"] == 0:
            verdict = f"fixed, after {hung} request(s) timed out at the client"
        else:
            verdict = f"FAILED (exit {r['exit_code'] if r['exit_code'] is not None else 'none: stopped at --limit'})"
        sizes = [e for e in exchanges[:1]] + [e for e in exchanges if e["tools"]][:1]
        first = "; ".join(f"{e['client_tokens'] / 1000:.1f}k tok, {e['tools']} tools" for e in sizes) or "-"
        waits = [e["first_byte_s"] if e["first_byte_s"] is not None else (e["client_hung_up_s"] or 0) for e in exchanges]
        sessions = len({t["session_id"] for t in r["hermes_tasks"] if t.get("session_id")})
        counts = f"{len(exchanges)}/{len(r['hermes_tasks'])}/{len(r['cloud_calls'])}, {sessions} session(s)"
        rows.append(f"| {r['version']} | {r['via']} | {verdict} | {r['wall_s']:.1f}s | {counts} |"
                    f" {max(waits, default=0):.1f}s | {first} | {r['own_timeout']} | {r['load_before']}-{r['load_after']} |")
        details.append(f"{r['client']} ({r['work']}):")
        details += [describe(e) for e in exchanges]
        details += [f"    hermes task {t['id']}: route={t['route']} model={t['model']} status={t['status']}"
                    f" {t['input_tokens']} in / {t['output_tokens']} out, {t['latency_ms'] / 1000:.1f}s,"
                    f" ${t['cost_usd']:.6f}{' ' + t['error_code'] if t['error_code'] else ''}" for t in r["hermes_tasks"]]
        details += [f"    client said: {line}" for line in r["client_said"]]
    return "\n".join(rows + [""] + details)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="opencode,continue,aider,claude,codex,gemini",
                        help="comma-separated: opencode,continue,aider,claude,codex,gemini")
    parser.add_argument("--limit", type=float, default=900, help="seconds one agent may run before it is stopped")
    parser.add_argument("--model", default="auto",
                        help="what the agents ask for: auto (Claude Code, Codex and Gemini CLI keep their own names, "
                             "aliased to auto), local or cloud")
    parser.add_argument("--direct", action="store_true", help="point the agents at the cloud stub, not at Hermes")
    parser.add_argument("--comments", type=int, default=0, help="SSE comment lines the stub sends before its answer")
    parser.add_argument("--comment-gap", type=float, default=0.5, help="seconds between those comment lines")
    parser.add_argument("--hermes-src", type=Path, default=REPO, help="the Hermes source tree to serve (default: this one)")
    parser.add_argument("--clients-dir", type=Path, default=Path(tempfile.gettempdir()) / "hermes-agents")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results (default: in the temp dir)")
    parser.add_argument("--record", type=Path, default=None,
                        help="write each agent's requests, as sent, to RECORD/<client>.json (for the session tests)")
    parser.add_argument("--aider-tests", action="store_true",
                        help="aider runs a test command that fails once: a second turn with a traceback")
    parser.add_argument("--no-key", action="store_true", help="Hermes without OPENROUTER_API_KEY")
    parser.add_argument("--policy", choices=("auto", "ask", "never"), default=None,
                        help="Hermes's upgrade_policy (default: the shipped one, auto)")
    parser.add_argument("--task", choices=tuple(TASKS), default="one",
                        help="one: fix a typo in greet.py; multi: read and fix two files, run the tests, answer; "
                             "long: the same with nine files (20 turns or more)")
    parser.add_argument("--modes", default=None,
                        help="compare: run each client in each of these (e.g. direct,cloud,auto) and print per agent "
                             "the time of each, and auto's extra time per request over cloud's")
    args = parser.parse_args()
    names = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLIENTS]
    if unknown:
        parser.error(f"unknown client(s): {', '.join(unknown)}")
    args.hermes_src = args.hermes_src.resolve()
    print(f"installing into {args.clients_dir} what is missing ...", flush=True)
    problems = install(args.clients_dir, names)
    results: list[dict[str, Any]] = []
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else [None]
    for name in names:
        if name in problems:
            results.append({"client": name, "via": "-", "error": problems[name]})
            continue
        for mode in modes:
            run_args = argparse.Namespace(**vars(args))
            if mode is not None:
                run_args.direct, run_args.model = mode == "direct", args.model if mode == "direct" else mode
            print(f"running {name} ({'direct' if run_args.direct else 'via Hermes from ' + str(args.hermes_src)},"
                  f" {run_args.model}, limit {args.limit:.0f}s) ...", flush=True)
            try:
                results.append(run_client(name, run_args) | {"mode": mode})
            except Exception as exc:  # noqa: BLE001 - one client's failure to start is its row, not the end
                results.append({"client": name, "via": "direct" if run_args.direct else "hermes",
                                "error": repr(exc)[:300]})
            print(summary(results[-1:]), flush=True)
    path = args.json or Path(tempfile.gettempdir()) / f"hermes-agents-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    print("\n== summary ==\n" + summary(results) + (compared(results) if args.modes else "") + f"\n\nresults: {path}")


def compared(results: list[dict[str, Any]]) -> str:
    """Per agent, its wall time in each mode, and auto's extra time per request over cloud's."""
    rows = ["", "| agent | requests | direct | cloud | auto | auto - cloud, per request | sessions (auto) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name in dict.fromkeys(r["client"] for r in results):
        runs = {r.get("mode"): r for r in results if r["client"] == name and "error" not in r}
        def wall(mode: str) -> str:
            run = runs.get(mode)
            return "-" if run is None else f"{run['wall_s']:.1f}s" + ("" if run["success"] else " (FAILED)")
        auto, cloud = runs.get("auto"), runs.get("cloud")
        turns = len(auto["exchanges"]) if auto else 0
        extra = f"{(auto['wall_s'] - cloud['wall_s']) / turns:+.2f}s" if auto and cloud and turns else "-"
        sessions = len({t["session_id"] for t in auto["hermes_tasks"] if t.get("session_id")}) if auto else "-"
        rows.append(f"| {name} | {turns} | {wall('direct')} | {wall('cloud')} | {wall('auto')} | {extra} | {sessions} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
