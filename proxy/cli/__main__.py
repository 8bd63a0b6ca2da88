"""`python -m proxy.cli`: the `hermes` command, as `hermes serve` starts its embedded model."""

from proxy.cli.main import cli

cli()
