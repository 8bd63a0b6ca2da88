"""Migrations m017 onwards: OpenRouter's catalogue, prompt caching, retention, the prompt hash.

migrations.py applies them in order.

As in migrations.py: written in SQLite's terms, each released one never changed.
"""

from __future__ import annotations

from proxy.storage.database import Schema


async def m017_catalogue(db: Schema) -> None:
    # The last copy of OpenRouter's model list, with when it was fetched (store_catalogue.py): prices come
    # from it, and a start without the network still has them.
    await db.execute("CREATE TABLE catalogue (source TEXT PRIMARY KEY, fetched_at REAL NOT NULL, body TEXT NOT NULL)")


async def m018_cache_use(db: Schema) -> None:
    # Of each call's input tokens, those read from the provider's prompt cache and those written to it:
    # each has its own price, and the estimator learns what share of an agent's turn they are.
    await db.execute("ALTER TABLE tasks ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0")
    await db.execute("ALTER TABLE tasks ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0")
    await db.execute("ALTER TABLE sessions ADD COLUMN client TEXT")  # its agent: the User-Agent, digested
    # How each agent (its User-Agent, digested) uses a model's cache, learned turn by turn (money/cache_use.py).
    await db.execute(
        """
        CREATE TABLE cache_use (
            client TEXT NOT NULL,
            model TEXT NOT NULL,
            turns INTEGER NOT NULL,
            read_ratio REAL NOT NULL,
            write_ratio REAL NOT NULL,
            PRIMARY KEY (client, model)
        )
        """
    )
    # How many input tokens a model's provider counts for each one Hermes's tokenizer counts (meter.py): the
    # two tokenizers differ, and an estimate is of the bill.
    await db.execute("CREATE TABLE input_counts (model TEXT PRIMARY KEY, samples INTEGER NOT NULL, "
                     "ratio REAL NOT NULL)")


async def m019_retention(db: Schema) -> None:
    # Request detail older than `server.retention_days` is folded into daily totals and deleted (retention.py);
    # the reports add the totals to what is kept. Keys are '' where the detail row has NULL (PostgreSQL's
    # primary keys allow no NULL); `latency_le` counts the requests at most each of retention.LATENCY_BOUNDS_MS.
    await db.execute(
        """
        CREATE TABLE task_days (
            day TEXT NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            task_type TEXT NOT NULL,
            auto INTEGER NOT NULL,
            status INTEGER NOT NULL,
            saved_model TEXT NOT NULL,
            requests INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            latency_ms REAL NOT NULL,
            latency_le TEXT NOT NULL,
            saved_answers INTEGER NOT NULL,
            saved_usd REAL NOT NULL,
            PRIMARY KEY (day, route, model, task_type, auto, status, saved_model)
        )
        """
    )
    # Charged calls per budget day, model and team key (0: none); day_totals keeps its sums as they were.
    await db.execute(
        """
        CREATE TABLE ledger_days (
            day TEXT NOT NULL,
            model TEXT NOT NULL,
            key_id INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            PRIMARY KEY (day, model, key_id)
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE attempt_days (
            day TEXT NOT NULL,
            model TEXT NOT NULL,
            task_type TEXT NOT NULL,
            tools INTEGER NOT NULL,
            tried INTEGER NOT NULL,
            accepted INTEGER NOT NULL,
            skipped INTEGER NOT NULL,
            scored INTEGER NOT NULL,
            score_sum REAL NOT NULL,
            PRIMARY KEY (day, model, task_type, tools)
        )
        """
    )
    # Sessions and cost predictions folded away: how many, and (sessions) their turns, for the learned means.
    await db.execute("CREATE TABLE session_totals (id INTEGER PRIMARY KEY, sessions INTEGER NOT NULL, "
                     "turns INTEGER NOT NULL)")
    await db.execute("CREATE TABLE prediction_totals (task_type TEXT NOT NULL, model TEXT NOT NULL, "
                     "predictions INTEGER NOT NULL, PRIMARY KEY (task_type, model))")


async def m020_prompt_hash(db: Schema) -> None:
    # A task's prompt hash is XXH3-128 of its messages' fingerprints from here on (fingerprint.py), no longer
    # SHA-256; rows written before keep theirs, so a prompt sent on both sides of the upgrade shows two hashes.
    await db.execute("ALTER TABLE tasks RENAME COLUMN prompt_sha256 TO prompt_hash")
