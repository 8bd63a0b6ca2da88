"""The `hermes` command: serve, local-model, budget, stats, settings, keys, yolo and eval-scorer.

main.py holds the click group and its commands (options.py what they share,
keys_cli.py `hermes keys`, settings_cli.py `hermes settings`, workers.py `serve --workers`); yolo.py and wrap.py are `hermes yolo`;
terminal.py draws what they print. Each command imports the engine it needs
inside itself, so quick commands never load the serving stack.

May import: everything.
"""

from proxy.cli.main import cli as cli  # the console script `hermes = "proxy.cli:cli"`
