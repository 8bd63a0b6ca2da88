"""What the `hermes` commands share: the --config-dir option, loading the config it names, and reaching the
running proxy (its address, the key to send it, and asking it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from proxy.errors import ConfigError

if TYPE_CHECKING:
    from proxy.config import Config

DEFAULT_PORT = 8088

config_dir_option = click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="HERMES_CONFIG_DIR",
    help="Folder holding routing_rules.yaml and budgets.yaml (default: the current one if it has them, else the checkout).",
)


def load(config_dir: Path | None) -> Config:
    """The two YAML files and the environment as one Config; a bad file is a ClickException naming it."""
    from proxy.config import load_config  # pydantic and yaml, only for the commands that need a config

    try:
        return load_config(config_dir, os.environ)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def proxy_url(url: str | None) -> str:
    """The running proxy's address: `url` (--url, HERMES_URL), else 127.0.0.1 on HERMES_PORT."""
    return (url or f"http://127.0.0.1:{os.environ.get('HERMES_PORT', DEFAULT_PORT)}").rstrip("/")


def auth_headers() -> dict[str, str]:
    """The Authorization header for a proxy started with HERMES_API_KEY."""
    key = os.environ.get("HERMES_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def ask_proxy(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The running proxy's JSON answer to GET `path` (POST `body` when given); a ClickException that says what to
    do when nothing answers at `url`, and one with its answer when it is not a 200."""
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # no "HTTP Request: ..." line above what is printed
    try:
        response = (httpx.get(f"{url}{path}", headers=auth_headers(), timeout=30) if body is None
                    else httpx.post(f"{url}{path}", headers=auth_headers(), timeout=30, json=body))
    except httpx.TransportError:
        raise click.ClickException(f"Hermes is not running at {url}: start it with `hermes serve` "
                                   "(or set HERMES_URL).") from None
    if response.status_code != 200:
        raise click.ClickException(f"Hermes at {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()
