"""`hermes keys create | list | revoke`: team keys, each with a daily limit inside the global budget.

They act on the configured database (HERMES_DB: the SQLite file, or the
team's PostgreSQL), which every replica reads on each request: a key made or
revoked here counts at once, with no restart.

    hermes keys create --name alice --daily-limit 2.00
    hermes keys list
    hermes keys revoke alice
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

T = TypeVar("T")

config_dir_option = click.option(
    "--config-dir", type=click.Path(file_okay=False, path_type=Path), envvar="HERMES_CONFIG_DIR",
    help="Folder holding routing_rules.yaml and budgets.yaml.")


@click.group()
def keys() -> None:
    """Team keys: who may use this Hermes, and how much of the day's budget each may spend."""


@keys.command()
@click.option("--name", required=True, help="Whose key (a person, a project): shown in the dashboard and reports.")
@click.option("--daily-limit", type=float, default=None,
              help="USD this key may spend a day, within the global limit (default: only the global limit).")
@config_dir_option
def create(name: str, daily_limit: float | None, config_dir: Path | None) -> None:
    """Make a key; it is printed once, and stored only as a hash."""
    from proxy.money.keys import key_sha256, new_key

    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    if daily_limit is not None and not (math.isfinite(daily_limit) and daily_limit >= 0):
        raise click.BadParameter("must be a number of USD, 0 or more", param_hint="--daily-limit")
    key = new_key()
    made = _with_store(config_dir, lambda store, config: store.create_key(name, key_sha256(key), daily_limit),
                       create=True)
    if not made:
        raise click.ClickException(f"A key named {name!r} is in use: revoke it first (hermes keys revoke {name}).")
    limit = f"${daily_limit:.2f} a day" if daily_limit is not None else "the global daily limit"
    click.echo(f"Key for {name} ({limit}). It is shown only this once:", err=True)
    click.echo(key)


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@config_dir_option
def list_keys(as_json: bool, config_dir: Path | None) -> None:
    """Every key, with what it spent today (never the key itself)."""
    rows = _with_store(config_dir, _keys_today, absent=[])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Name", "Daily limit", "Spent today", "Created", "State")
    for row in rows:
        limit = "global" if row["daily_limit_usd"] is None else f"${row['daily_limit_usd']:.2f}"
        state = f"revoked {row['revoked_at'][:16]}" if row["revoked_at"] else "in use"
        table.add_row(row["name"], limit, f"${row['spent_usd']:.4f}", row["created_at"][:16], state)
    Console().print(table if rows else "No keys: anyone who can reach this Hermes draws on the global budget.")


@keys.command()
@click.argument("name")
@config_dir_option
def revoke(name: str, config_dir: Path | None) -> None:
    """Revoke NAME's key: its next request gets a 401."""
    if not _with_store(config_dir, lambda store, config: store.revoke_key(name), absent=False):
        raise click.ClickException(f"No key named {name!r} is in use (hermes keys list).")
    click.echo(f"Revoked {name}'s key.", err=True)


async def _keys_today(store: Any, config: Any) -> list[dict[str, Any]]:
    from proxy.money.budget import budget_day

    return [row | {"spent_usd": round(float(row["spent_usd"]), 6)} for row in await store.keys(budget_day(config.budget))]


def _with_store(config_dir: Path | None, work: Callable[[Any, Any], Awaitable[T]], create: bool = False,
                absent: Any = None) -> T:
    """`work(store, config)` on the configured database, opened and closed around it. A file that is not there
    is made only when `create` (making a key); a command that reads gets `absent` instead."""
    from proxy.cli.options import load
    from proxy.config import is_postgres
    from proxy.errors import HermesError
    from proxy.storage.store import Store

    config = load(config_dir)
    if not create and not is_postgres(config.database) and not Path(config.database).is_file():
        return absent  # nothing was ever recorded there: no keys, and no empty file made by looking

    async def run() -> T:
        store = await Store.open(config.database)
        try:
            return await work(store, config)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except HermesError as exc:
        raise click.ClickException(exc.message) from None
