"""What the `hermes` commands share: the --config-dir option, and loading the config it names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from proxy.errors import ConfigError

if TYPE_CHECKING:
    from proxy.config import Config

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
