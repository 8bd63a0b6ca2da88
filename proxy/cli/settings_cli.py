"""`hermes settings`: the running proxy's settings, and those changed through the API over the files.

It asks the proxy (its settings are in force there, overrides included);
`--reset` drops overrides through `POST /api/v1/settings/reset-preferences`
(money/preferences.py).
"""

from __future__ import annotations

import click

from proxy.cli.options import ask_proxy, proxy_url
from proxy.money.format import override_line, shown_setting

SETTINGS = ("target_quality", "upgrade_policy", "daily_limit_usd")


@click.command()
@click.option("--url", envvar="HERMES_URL", default=None, help="The running proxy (default http://127.0.0.1:$HERMES_PORT).")
@click.option("--reset", "reset", multiple=True, is_flag=False, flag_value="all", default=None,
              type=click.Choice([*SETTINGS, "all"]), metavar="[SETTING]",
              help="Drop the override of SETTING (target_quality, upgrade_policy, daily_limit_usd), or of every "
                   "one: the files' values are in force again.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def settings(url: str | None, reset: tuple[str, ...], as_json: bool) -> None:
    """The running proxy's settings, and those changed through the API over the YAML files (overrides)."""
    import json

    url = proxy_url(url)
    if reset:
        data = ask_proxy(url, "/api/v1/settings/reset-preferences", {} if "all" in reset else {"keys": list(reset)})
    else:
        data = ask_proxy(url, "/api/v1/route/status")
    if as_json:
        click.echo(json.dumps({"preferences": data["preferences"], "overrides": data["overrides"]}, indent=2))
        return
    for name, value in data["preferences"].items():
        click.echo(f"{name}: {shown_setting(name, value)}")
    for row in data["overrides"]:
        click.echo(f"Override: {override_line(row)}")
    if not data["overrides"]:
        click.echo("no overrides: every setting is the files' own")
