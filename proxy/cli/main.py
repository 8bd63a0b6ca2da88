"""The `hermes` command: serve the proxy, or serve the embedded local model alone.

Each command imports what it needs inside itself: litellm alone takes about
4 s to import, and `hermes --version`, `budget`, `stats` and `yolo` answer in
a fraction of a second because they never import it (nor tiktoken, starlette,
uvicorn or llama.cpp). tests/cli/test_cli.py checks this.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from proxy.cli import keys_cli, settings_cli
from proxy.cli.options import DEFAULT_PORT, ask_proxy, auth_headers, config_dir_option, load, proxy_url
from proxy.errors import ConfigError

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from proxy.config import Config
    from proxy.money.pricing import PriceTable

log = logging.getLogger("hermes")

DEFAULT_LOCAL_MODEL_PORT = 11435
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

@click.group()
@click.version_option(package_name="hermes-proxy")
def cli() -> None:
    """Hermes: a local-first, budget-aware, OpenAI-compatible proxy for AI coding assistants."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=DEFAULT_PORT, envvar="HERMES_PORT", show_default=True, type=int, help="Port (HERMES_PORT).")
@click.option("--workers", default=1, envvar="HERMES_WORKERS", show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the port, the database and one embedded model (HERMES_WORKERS).")
@config_dir_option
def serve(host: str, port: int, workers: int, config_dir: Path | None) -> None:
    """Serve the OpenAI-compatible API at http://HOST:PORT/v1.

    Uses Ollama at local.api_base (or OLLAMA_API_BASE) when it answers;
    otherwise starts the embedded SmolLM2 model on a port of its own.
    """
    from proxy.localmodel.embedded import embedded_model_process
    from proxy.money.pricing import PriceTable
    from proxy.storage.database import describe
    from proxy.upstreams.ollama import ollama_answers

    config = load(config_dir)
    try:
        prices = PriceTable.from_config(config)  # before anything starts: no price, no start
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not _is_loopback(host) and config.api_key is None:
        raise click.ClickException(f"Binding {host} exposes Hermes beyond this machine: set HERMES_API_KEY first.")
    _check_port(host, port)  # before the embedded model starts: a busy port is one clear line
    # uvicorn re-raises SIGTERM once it has shut down; turned into SystemExit
    # here, it unwinds the ExitStack so the embedded model stops with us.
    signal.signal(signal.SIGTERM, _exit_quietly)
    with ExitStack() as stack:
        if ollama_answers(config.ollama_api_base):
            log.info("Using Ollama at %s", config.ollama_api_base)
        elif config.routing.embedded_model.enabled:
            log.info("Nothing answers at %s; starting the embedded model %s",
                     config.ollama_api_base, config.routing.embedded_model.name)
            try:
                base = stack.enter_context(embedded_model_process(config))
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            log.info("Embedded model %s is serving the Ollama API at %s", config.routing.embedded_model.name, base)
            config = dataclasses.replace(config, ollama_api_base=base)
        else:
            log.warning("Nothing answers at %s and the embedded model is disabled: local routes will fail",
                        config.ollama_api_base)
        _run_uvicorn(config, prices, host, port, workers,
                     f"Hermes is serving http://{host}:{port}/v1, its dashboard at http://{host}:{port}/dashboard "
                     f"(database {describe(config.database)})")


def _check_port(host: str, port: int) -> None:
    """ClickException naming --port when `host:port` cannot be bound (another Hermes, another server)."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
            probe.bind(address)
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on {host}:{port} ({exc.strerror or exc}): another Hermes or "
                                   "another server has it. Choose another port with --port N (or HERMES_PORT).") from None


def _run_uvicorn(config: Config, prices: PriceTable, host: str, port: int, workers: int, serving: str) -> None:
    """One process serves the app made here; N workers each make their own (`worker_app`) in a process of its own.

    The workers learn the config folder and the local model's address (the
    embedded one this process started, if any) through the environment they
    inherit, and each opens its own connection to the database: the store
    is safe for several processes on one file (tests/storage/test_shared_file.py).
    """
    import uvicorn

    stack = serving_stack()
    log.info("uvicorn with %s and %s, %d worker process%s", stack["loop"], stack["http"], workers,
             "" if workers == 1 else "es")
    # No access log: every request is in the database already (the dashboard, `hermes stats`),
    # and a log line per request cost about 5% of a relayed call's CPU time.
    options = dict(host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=5, **stack)
    if workers == 1:
        from proxy.edge.app import create_app

        class Server(uvicorn.Server):
            async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
                await super().startup(sockets)
                if self.started:  # the port is bound: only now is it serving
                    log.info("%s", serving)

        Server(uvicorn.Config(create_app(config, prices=prices), **options)).run()
        return
    log.info("%s (once uvicorn has bound the port)", serving)
    os.environ["HERMES_CONFIG_DIR"] = str(config.config_dir)
    os.environ["OLLAMA_API_BASE"] = config.ollama_api_base
    os.environ["HERMES_DB"] = str(config.database)
    from proxy.cli import workers as worker_processes

    worker_processes.run("proxy.cli.main:worker_app", workers, **options)  # each on a socket of its own


def worker_app() -> Starlette:
    """The app of one `hermes serve --workers N` worker; uvicorn calls this in each worker process."""
    from proxy.config import load_config
    from proxy.edge.app import create_app
    from proxy.localmodel.embedded import exit_with_parent
    from proxy.money.pricing import PriceTable

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    exit_with_parent(os.getppid())  # a SIGKILLed `hermes serve` must not leave workers serving its port
    config = load_config(Path(os.environ["HERMES_CONFIG_DIR"]), os.environ)
    return create_app(config, prices=PriceTable.from_config(config))


def serving_stack() -> dict[str, str]:
    """uvicorn's event loop and HTTP parser: uvloop and httptools where they import, else asyncio and h11.

    Measured on /health and on a relayed cloud call (README, "Several workers
    and the serving stack"): httptools halves uvicorn's own time per request,
    uvloop takes another 10-30% off.
    """
    return {"loop": "uvloop" if _importable("uvloop") else "asyncio",
            "http": "httptools" if _importable("httptools") else "h11"}


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@cli.command(name="local-model")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_LOCAL_MODEL_PORT, show_default=True, type=int)
@config_dir_option
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process ends.")
def local_model(host: str, port: int, config_dir: Path | None, parent_pid: int | None) -> None:
    """Serve the embedded SmolLM2 model alone, over the Ollama API."""
    import uvicorn

    from proxy.localmodel.embedded import exit_with_parent
    from proxy.localmodel.model import EmbeddedModel
    from proxy.localmodel.server import create_local_model_app

    if parent_pid is not None:
        exit_with_parent(parent_pid)
    settings = load(config_dir).routing.embedded_model
    model = EmbeddedModel(settings.name, context_tokens=settings.context_tokens, threads=settings.threads)
    log.info("Embedded model %s (%s, context %d tokens) on http://%s:%d",
             settings.name, model.path.name, settings.context_tokens, host, port)
    uvicorn.run(create_local_model_app(model), host=host, port=port, log_level="warning")


@cli.command(name="eval-scorer")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Labelled answers (JSONL); default: the shipped HumanEval set in evals/.")
@click.option("--limit", type=int, default=None, help="Score only the first N items.")
@config_dir_option
def eval_scorer(data: Path | None, limit: int | None, config_dir: Path | None) -> None:
    """Score the labelled answers and print how well the scorer separates good from bad (AUROC, MAE)."""
    from proxy.judgment.scorer_eval import DEFAULT_DATA, evaluate, format_report

    report = evaluate(data or DEFAULT_DATA, load(config_dir).routing.quality, limit=limit)
    click.echo(format_report(report))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--url", envvar="HERMES_URL", default=None, help="The running proxy (default http://127.0.0.1:$HERMES_PORT).")
@click.option("--db", default=None, metavar="FILE|URL",
              help="Read this database (a SQLite file or a postgresql:// URL) instead of asking the proxy.")
@click.option("--offline", is_flag=True,
              help="Read the configured database file (HERMES_DB) instead of asking the proxy.")
@config_dir_option
def budget(as_json: bool, url: str | None, db: str | None, offline: bool, config_dir: Path | None) -> None:
    """Today's spend, what is left, the tier, the reset, spend by model.

    Asks the running proxy; reads its database file instead only with --db or
    --offline, or when the proxy is not running and the file exists (it never
    creates one). Says which it used. Exits with code 2 when the budget is
    spent (cloud requests are refused until the reset).
    """
    import json

    from proxy.money.budget_report import ProxyDown, ReportError, proxy_report

    url = proxy_url(url)
    try:
        if db is not None or offline:
            report = _file_report(config_dir, db, "asked with --db" if db is not None else "asked with --offline")
        else:
            try:
                report = proxy_report(url, auth_headers())
            except ProxyDown as down:
                report = _file_report(config_dir, None, str(down))
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        from rich.console import Console

        from proxy.cli.terminal import render_budget

        render_budget(report, Console())
    if report["tier"] == "blocked":
        sys.exit(2)


def _file_report(config_dir: Path | None, db: str | None, reason: str) -> dict[str, object]:
    """`hermes budget`'s figures from the database file (`db`, else the configured one); `reason`: why the file."""
    import asyncio

    from proxy.money.budget_report import ReportError, budget_report

    logging.getLogger("hermes").setLevel(logging.WARNING)  # the settings' start-up lines are the server's, not ours
    config = load(config_dir)
    if db is not None:  # a URL stays a string: a Path would collapse postgresql:// to postgresql:/
        from proxy.config import is_postgres

        config = dataclasses.replace(config, database=db if is_postgres(db) else Path(db).expanduser())
    try:
        report = asyncio.run(budget_report(config))
    except ReportError:
        if db is None and reason.startswith("Hermes is not running"):
            raise ReportError(f"{reason} There is no database at {config.database} either, so nothing to report: "
                              "start Hermes with scripts/start-proxy, or point --db (or HERMES_DB) at its "
                              "database. No file was created.") from None
        raise
    return report | {"source_reason": reason}


@cli.command()
@click.option("--url", envvar="HERMES_URL", default=None, help="The running proxy (default http://127.0.0.1:$HERMES_PORT).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw figures as JSON.")
def stats(url: str | None, as_json: bool) -> None:
    """The monitoring figures of the running proxy: spend, upgrade rate, quality, latency, by task type."""
    import json

    data = ask_proxy(proxy_url(url), "/api/v1/monitoring/dashboard")
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        from rich.console import Console

        from proxy.cli.terminal import render_stats

        render_stats(data, Console())


@cli.command()
@click.argument("prompt")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", envvar="HERMES_URL", default=None, help="The running proxy (default http://127.0.0.1:$HERMES_PORT).")
@click.option("--wrap", type=click.Choice(["aider", "opencode"]), default=None,
              help="Run that tool one-shot on the prompt, pointed at the proxy, instead.")
@click.option("--policy", type=click.Choice(["auto", "ask", "never"]), default=None,
              help="Upgrade policy for this request (default: ask at a terminal, the proxy's own otherwise).")
@click.option("--upgrade", "upgrade", metavar="MODEL", default=None,
              help="Pay for a cloud answer from MODEL straight away (sends X-Hermes-Upgrade: MODEL).")
def yolo(prompt: str, files: tuple[Path, ...], url: str | None, wrap: str | None, policy: str | None,
         upgrade: str | None) -> None:
    """Send PROMPT (with FILES attached) to the running proxy and stream the answer.

    At a terminal it shows what the proxy is doing while it waits and renders
    the answer as Markdown; piped, it prints the raw text. After each answer,
    one line of tokens, cost (this message, this run) and budget left, and
    one of route, model and quality. When an upgrade is offered (or no local
    model could answer) and a person is at the terminal, asks whether to pay for it.
    """
    from proxy.cli.wrap import wrap_command
    from proxy.cli.yolo import PlainView, View, YoloError, run

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would cut through the status line
    url, headers = proxy_url(url), auth_headers()
    if wrap:
        command, env = wrap_command(wrap, url, prompt, files)
        try:
            os.execvpe(command[0], command, os.environ | env)
        except FileNotFoundError:
            raise click.ClickException(f"{wrap} is not installed (looked for {command[0]!r} on PATH).") from None
    # The question goes to stderr, so `yolo ... > answer.md` still asks the person at the terminal. Not
    # through a pipe (`| cat`, `| less`): what reads it shows the answer when it likes, after the question.
    interactive = sys.stdin.isatty() and sys.stderr.isatty() and not _is_pipe(sys.stdout)
    # Nothing is bought that the person has not accepted: at a terminal yolo asks, piped it says how
    # (--policy, or --upgrade, decides otherwise).
    headers["X-Hermes-Upgrade-Policy"] = policy or "ask"
    view: View = PlainView(sys.stdout)
    if sys.stdout.isatty() or sys.stderr.isatty():
        from proxy.cli.terminal import AnswerView

        view = AnswerView(markdown=sys.stdout.isatty(), status=sys.stderr.isatty())
    try:
        run(url, prompt, list(files), view, interactive, _confirm, headers, upgrade=upgrade)
    except YoloError as exc:
        raise click.ClickException(str(exc)) from None


cli.add_command(keys_cli.keys)
cli.add_command(settings_cli.settings)


def _is_pipe(stream: Any) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def _confirm(question: str) -> bool:
    sys.stdout.flush()  # the answer the question is about comes first
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

