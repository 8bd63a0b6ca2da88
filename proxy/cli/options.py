"""What the `hermes` commands share: the --config-dir option, loading the config it names, and reaching the
running proxy (its address and the key to send it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

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
