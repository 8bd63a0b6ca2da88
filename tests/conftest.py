"""Shared fixtures: real servers on 127.0.0.1, a clean environment, temp databases.

- `embedded_model`: the real SmolLM2 model, loaded once per test session;
  `ollama_url` serves it over the Ollama protocol in a thread.
- `openrouter`: the OpenRouter-shaped stub (see openrouter_stub.py).
- `database`: where a test's store lives: a SQLite file in tmp_path, or, with
  HERMES_TEST_DB=postgresql, a fresh database on a throw-away PostgreSQL
  server (`postgres`, tests/postgres.py). The whole suite runs both ways.
- `make_config`: the shipped YAML files, optionally patched, loaded with the
  environment pointing at the servers above and at `database`.
- `hermes_url`: the Hermes app itself, under uvicorn in a thread.
"""

from __future__ import annotations

import atexit
import copy
import functools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import pytest
import uvicorn
import yaml

from proxy.config import BUDGETS_FILE, ROUTING_FILE, Config, load_config
from proxy.edge.app import create_app
from proxy.localmodel.model import EmbeddedModel
from proxy.localmodel.server import create_local_model_app
from tests.openrouter_stub import OpenRouterStub
from tests.postgres import PostgresCluster, unavailable_reason

REPO = Path(__file__).resolve().parent.parent
TEST_API_KEY = "sk-or-test-key"
# The cloud models `make_config` gives every test: a fixed list, priced from litellm's table, so that a
# test about budgets, tiers or upgrades does not move when the shipped list (routing_rules.yaml) follows
# what OpenRouter offers; the shipped list has its own tests (test_config.py, money/test_pricing.py).
TEST_CLOUD = {
    "models": [
        {"name": "claude-3.5-sonnet", "slug": "anthropic/claude-3.5-sonnet", "quality_prior": 9.3, "cheap": True},
        {"name": "gpt-4", "slug": "openai/gpt-4", "quality_prior": 8.8},
        {"name": "claude-3-opus", "slug": "anthropic/claude-3-opus", "quality_prior": 9.4,
         "price_model": "claude-3-opus-20240229"},
        {"name": "gemini-flash", "slug": "google/gemini-2.0-flash-001", "quality_prior": 8.0, "cheap": True},
    ],
    "tiers": {"cheap": ["gemini-flash"], "smart": ["claude-3.5-sonnet", "claude-3-opus"], "yolo": ["gemini-flash"],
              "default": "any"},
}
# Which backend `database` gives every test: "sqlite" (the default) or "postgresql".
TEST_BACKEND = os.environ.get("HERMES_TEST_DB", "sqlite")


class ServerThread:
    """Run an ASGI app under uvicorn on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's keys, Ollama address or Hermes settings."""
    for name in list(os.environ):
        if name.startswith("HERMES_") or name in ("OPENROUTER_API_KEY", "OPENROUTER_API_BASE", "OLLAMA_API_BASE"):
            monkeypatch.delenv(name)
    # No Hermes a test starts (in this process or a child) fetches OpenRouter's model list, which would
    # reach the internet; the catalogue's own tests turn it on against the stub.
    monkeypatch.setenv("HERMES_CATALOGUE_REFRESH_H", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under HERMES_TEST_DB=postgresql, run again only what touches the store: every test that has a
    `database` (directly or through `make_config`), except those about SQLite's own file mechanics."""
    if TEST_BACKEND != "postgresql":
        return
    skip = pytest.mark.skip(reason="about SQLite's own file mechanics; PostgreSQL's are in tests/storage/test_postgres.py")
    kept = [item for item in items if "database" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept
    for item in kept:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server for the session, or a skip that says why there cannot be one here."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database(tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """This test's store: a SQLite file in tmp_path, or a fresh PostgreSQL database (HERMES_TEST_DB)."""
    if TEST_BACKEND == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return cluster.new_database()
    return tmp_path / "hermes.db"


@pytest.fixture(scope="session")
def embedded_model() -> EmbeddedModel:
    return EmbeddedModel("smollm2:135m", context_tokens=8192, threads=2)


@pytest.fixture(scope="session")
def ollama_url(embedded_model: EmbeddedModel) -> Iterator[str]:
    with ServerThread(create_local_model_app(embedded_model)) as url:
        yield url


@pytest.fixture(scope="session")
def _openrouter_server() -> Iterator[tuple[OpenRouterStub, str]]:
    stub = OpenRouterStub()
    with ServerThread(stub.app) as url:
        yield stub, url + "/api/v1"


@pytest.fixture
def openrouter(_openrouter_server: tuple[OpenRouterStub, str]) -> Iterator[OpenRouterStub]:
    stub, url = _openrouter_server
    stub.reset()
    stub.url = url  # type: ignore[attr-defined]
    yield stub
    stub.reset()


def with_test_cloud(routing: dict[str, Any]) -> dict[str, Any]:
    """The routing_rules.yaml data `routing` with TEST_CLOUD's models and tiers (and no alias of their names)."""
    routing["cloud"] |= copy.deepcopy(TEST_CLOUD)  # a copy: a test's changes are merged into it in place
    # The shipped list's aliases of its old names are TEST_CLOUD's own model names.
    routing["aliases"] = {pattern: target for pattern, target in routing["aliases"].items() if "*" in pattern}
    return routing


@functools.cache
def fixed_files() -> Path:
    """A folder holding the shipped YAML files with TEST_CLOUD's models: `load_config(fixed_files(), {})` is the
    configuration a test of budgets, prices or tiers reads (see TEST_CLOUD)."""
    folder = Path(tempfile.mkdtemp(prefix="hermes-test-files-"))
    atexit.register(shutil.rmtree, folder, True)
    routing = with_test_cloud(yaml.safe_load((REPO / ROUTING_FILE).read_text()))
    (folder / ROUTING_FILE).write_text(yaml.safe_dump(routing))
    (folder / BUDGETS_FILE).write_text((REPO / BUDGETS_FILE).read_text())
    return folder


def _patch(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _patch(data[key], value)
        else:
            data[key] = value
    return data


@pytest.fixture
def make_config(tmp_path: Path, ollama_url: str, openrouter: OpenRouterStub,
                database: Path | str) -> Callable[..., Config]:
    """Build a Config from the shipped files, `routing` and `budget` changes merged in."""

    def make(routing: dict[str, Any] | None = None, budget: dict[str, Any] | None = None, **env: str) -> Config:
        config_dir = tmp_path / "config"
        config_dir.mkdir(exist_ok=True)
        for name, changes in ((ROUTING_FILE, routing), (BUDGETS_FILE, budget)):
            data = yaml.safe_load((REPO / name).read_text())
            if name == ROUTING_FILE:
                # A test about something else must not depend on how fast this (shared, busy) machine
                # runs the local model: the deadline's own tests set theirs.
                data = _patch(data, {"local": {"deadline_s": 600}})
                data = with_test_cloud(data)
            (config_dir / name).write_text(yaml.safe_dump(_patch(data, changes or {})))
        environ = {
            "OLLAMA_API_BASE": ollama_url,
            "OPENROUTER_API_BASE": openrouter.url,  # type: ignore[attr-defined]
            "OPENROUTER_API_KEY": TEST_API_KEY,
            "HERMES_DB": str(database),
            "HERMES_CATALOGUE_REFRESH_H": "0",  # no fetch of OpenRouter's model list but in its own tests
        } | env
        return load_config(config_dir, {k: v for k, v in environ.items() if v})

    return make


@pytest.fixture
def serve_hermes() -> Iterator[Callable[..., str]]:
    """Start Hermes for a config (and optionally a clock), under uvicorn in a thread."""
    servers: list[ServerThread] = []

    def serve(config: Config, **options: Any) -> str:
        server = ServerThread(create_app(config, **options))
        servers.append(server)
        return server.__enter__()

    yield serve
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def hermes_url(make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]) -> str:
    return serve_hermes(make_config())
