"""Hermes: a local-first, budget-aware, OpenAI-compatible proxy for AI coding assistants.

The package, one concern a folder, imports pointing down this list:

    cli/         the `hermes` command, yolo, terminal rendering
    edge/        the Starlette app, routes, guard, auth, the JSON API, dashboard, metrics
    localmodel/  the embedded model and its Ollama-protocol server
    pipeline/    understand, plan, respond, record: classification, sessions, the cascade, upgrades
    money/       prices, estimates, the meter, the budget, reconciliation, team keys
    judgment/    the 0-10 scorer and its checks
    upstreams/   the cloud relay, LiteLLM's local calls, stream guards, error mapping
    storage/     the database interface, SQLite, PostgreSQL, migrations, the store
    wire/        each dialect's wire format: requests checked, answers, errors and SSE written

and beside them the modules every package may import, which import none of
them: errors.py (every error Hermes raises on purpose), config.py and
config_schema.py (the YAML files and the environment as one typed Config),
chat.py (the validated request every step reads) and fingerprint.py (its
messages' fingerprints, which the token counts and the prompt hash are keyed
by). Each package's docstring
says what it may import; tests/test_layout.py holds the tree to it.
"""

import os

# LiteLLM fetches its price table from the internet at import unless told
# not to, and waits for it; Hermes never reaches the internet on its own.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
