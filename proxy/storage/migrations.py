"""The database schema as numbered migrations, applied in order and recorded (as in simonw/llm).

A migration never changes once released: a new schema change is a new function
(from m017 on, in migrations_later.py).
Both backends apply the same migrations, written in SQLite's terms; the
PostgreSQL backend reads `INTEGER PRIMARY KEY` as an identity column and
`REAL` as double precision (postgres_db.py), and the few statements that
differ (triggers) say so by `db.dialect`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from proxy.storage.database import Schema
from proxy.storage.migrations_later import m017_catalogue, m018_cache_use, m019_retention, m020_prompt_hash


async def m001_initial(db: Schema) -> None:
    await db.execute(
        """
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            route TEXT,
            model TEXT,
            stream INTEGER NOT NULL,
            status INTEGER NOT NULL,
            error_code TEXT,
            prompt_sha256 TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL
        )
        """
    )


async def m002_money(db: Schema) -> None:
    await db.execute("ALTER TABLE tasks ADD COLUMN task_type TEXT")
    await db.execute("ALTER TABLE tasks ADD COLUMN prompt TEXT")
    # A reservation is 'held' until the call ends, then 'charged' with the
    # actual cost or 'released'. Spend today = charged + held, for `day`.
    await db.execute(
        """
        CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            created_at TEXT NOT NULL,
            settled_at TEXT,
            model TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('held', 'charged', 'released')),
            reserved_usd REAL NOT NULL,
            cost_usd REAL NOT NULL DEFAULT 0
        )
        """
    )
    await db.execute("CREATE INDEX ledger_day_state ON ledger (day, state)")
    await db.execute(
        """
        CREATE TABLE estimates (
            task_type TEXT NOT NULL,
            model TEXT NOT NULL,
            samples INTEGER NOT NULL,
            mean_output_tokens REAL NOT NULL,
            variance REAL NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (task_type, model)
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE cost_predictions (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            task_type TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            predicted_output_tokens INTEGER NOT NULL,
            actual_output_tokens INTEGER NOT NULL,
            predicted_cost_usd REAL NOT NULL,
            actual_cost_usd REAL NOT NULL,
            confidence REAL NOT NULL
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            turns INTEGER NOT NULL DEFAULT 0,
            cloud_model TEXT,
            cost_usd REAL NOT NULL DEFAULT 0
        )
        """
    )


async def m003_cascade(db: Schema) -> None:
    await db.execute("ALTER TABLE sessions ADD COLUMN context_tokens INTEGER NOT NULL DEFAULT 0")
    await db.execute("ALTER TABLE sessions ADD COLUMN mean_user_tokens INTEGER NOT NULL DEFAULT 0")
    await db.execute("ALTER TABLE sessions ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0")
    # One row per local model per cascade: its score and whether it was
    # accepted, or a skip (accepted NULL) when its record kept it out.
    await db.execute(
        """
        CREATE TABLE local_attempts (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            model TEXT NOT NULL,
            task_type TEXT NOT NULL,
            score REAL,
            accepted INTEGER
        )
        """
    )
    await db.execute("CREATE INDEX local_attempts_key ON local_attempts (model, task_type, id)")


async def m004_preferences(db: Schema) -> None:
    await db.execute("CREATE TABLE preferences (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)")


async def m005_reservation_owners(db: Schema) -> None:
    # Which process holds a reservation (proxy/storage/owner.py), so a process
    # starting on a shared file settles only those of processes that are gone;
    # the upstream's id for the call (OpenRouter's generation id, by which
    # its cost can be looked up after a crash); what the upstream reported
    # when it was not believed; and why.
    await db.execute("ALTER TABLE ledger ADD COLUMN owner TEXT")
    await db.execute("ALTER TABLE ledger ADD COLUMN generation_id TEXT")
    await db.execute("ALTER TABLE ledger ADD COLUMN reported_cost_usd REAL")
    await db.execute("ALTER TABLE ledger ADD COLUMN note TEXT")
    # Spend recorded before costs were bounded may be infinite (SQLite keeps
    # NaN as NULL): count such a call at its reservation, as an unknown cost.
    await db.execute("""UPDATE ledger SET cost_usd = reserved_usd, note = 'cost was not a finite number'
                        WHERE cost_usd IS NULL OR cost_usd > 1e300 OR cost_usd < -1e300""")
    await db.execute("UPDATE ledger SET cost_usd = 0 WHERE cost_usd < 0")


async def m006_day_totals(db: Schema) -> None:
    # What each budget day has charged, kept by triggers in the transaction
    # of every ledger write (whichever process or statement makes it), so the
    # budget status reads one row instead of summing the day's calls, which
    # took a millisecond by 2,000 calls. Held reservations are few and
    # indexed: they are still summed.
    await db.execute("CREATE TABLE day_totals (day TEXT PRIMARY KEY, charged_usd REAL NOT NULL)")
    await db.execute("""INSERT INTO day_totals (day, charged_usd)
                        SELECT day, SUM(cost_usd) FROM ledger WHERE state = 'charged' GROUP BY day""")
    if db.dialect == "postgresql":
        await _m006_postgres_triggers(db)
        return
    add_new = """INSERT INTO day_totals (day, charged_usd) SELECT NEW.day, NEW.cost_usd WHERE NEW.state = 'charged'
                 ON CONFLICT (day) DO UPDATE SET charged_usd = charged_usd + excluded.charged_usd;"""
    take_old = "UPDATE day_totals SET charged_usd = charged_usd - OLD.cost_usd WHERE day = OLD.day AND OLD.state = 'charged';"
    await db.execute(f"CREATE TRIGGER ledger_insert_totals AFTER INSERT ON ledger BEGIN {add_new} END")
    await db.execute("CREATE TRIGGER ledger_update_totals AFTER UPDATE OF day, state, cost_usd ON ledger "
                     f"BEGIN {take_old} {add_new} END")
    await db.execute(f"CREATE TRIGGER ledger_delete_totals AFTER DELETE ON ledger BEGIN {take_old} END")


async def _m006_postgres_triggers(db: Schema) -> None:
    # The same three triggers as SQLite's, as one PL/pgSQL function (PostgreSQL's triggers call functions).
    await db.execute(
        """
        CREATE FUNCTION ledger_day_totals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'charged' THEN
                UPDATE day_totals SET charged_usd = charged_usd - OLD.cost_usd WHERE day = OLD.day;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'charged' THEN
                INSERT INTO day_totals (day, charged_usd) VALUES (NEW.day, NEW.cost_usd)
                ON CONFLICT (day) DO UPDATE SET charged_usd = day_totals.charged_usd + excluded.charged_usd;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    await db.execute("""CREATE TRIGGER ledger_day_totals AFTER INSERT OR DELETE OR UPDATE OF day, state, cost_usd
                        ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_day_totals()""")


async def m007_task_detail(db: Schema) -> None:
    # What the dashboard's detail view shows of a request: its session and its "hermes" field (JSON).
    await db.execute("ALTER TABLE tasks ADD COLUMN session_id TEXT")
    await db.execute("ALTER TABLE tasks ADD COLUMN hermes TEXT")


async def m008_savings(db: Schema) -> None:
    # What a local answer saved: the estimated cost of the cloud model it stood in for (savings.py); NULL otherwise.
    await db.execute("ALTER TABLE tasks ADD COLUMN saved_usd REAL")


async def m009_session_links(db: Schema) -> None:
    # Each answer Hermes gave, as the digest of the conversation through it (session.py): the next
    # turn finds its session here. `cloud_model`: the upgrade that conversation accepted, kept from
    # here on; `next_thread`: the first turn that went on from it (another one forks).
    await db.execute(
        """
        CREATE TABLE session_links (
            thread_sha256 TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            cloud_model TEXT,
            next_thread_sha256 TEXT,
            created_at TEXT NOT NULL
        )
        """
    )


async def m010_keys(db: Schema) -> None:
    # Team keys (keys.py): stored only as hashes; `daily_limit_usd` NULL draws on the global budget alone.
    # Each reservation names the key it was made for, so a key's spend today is one indexed sum.
    await db.execute(
        """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            key_sha256 TEXT NOT NULL UNIQUE,
            daily_limit_usd REAL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )
        """
    )
    await db.execute("ALTER TABLE ledger ADD COLUMN key_id INTEGER")
    await db.execute("CREATE INDEX ledger_key_day ON ledger (key_id, day, state)")
    # Each running replica's last sign of life: how one on another host is known to be gone (owner.py).
    await db.execute("CREATE TABLE replicas (owner TEXT PRIMARY KEY, seen_at TEXT NOT NULL)")


async def m011_outcomes(db: Schema) -> None:
    # What the next turn said of an answer (outcome.py): 'failed' or 'continued', and why. A local
    # attempt accepted and then shown to fail keeps its score but no longer counts as accepted.
    await db.execute("ALTER TABLE tasks ADD COLUMN outcome TEXT")
    await db.execute("ALTER TABLE tasks ADD COLUMN outcome_reason TEXT")
    await db.execute("ALTER TABLE local_attempts ADD COLUMN outcome_reason TEXT")
    await db.execute("CREATE INDEX tasks_session ON tasks (session_id, id)")


async def m012_ledger_indexes(db: Schema) -> None:
    # The heartbeat looks for reservations still held every few seconds (charge_abandoned_reservations):
    # an index of only those makes that a look at the calls in flight, not a scan of every call ever made.
    await db.execute("CREATE INDEX ledger_held ON ledger (owner) WHERE state = 'held'")
    # Only a team key's calls are looked up by key: the others need no entry, which each reservation and
    # each settlement would otherwise write (a page each, on the hot path).
    await db.execute("DROP INDEX ledger_key_day")
    await db.execute("CREATE INDEX ledger_key_day ON ledger (key_id, day, state) WHERE key_id IS NOT NULL")


async def m013_price_corrections(db: Schema) -> None:
    # A model found to bill more than its table price (store_prices.py): its reservations scale by
    # `factor` for as long as its table price stays the one the bill was measured on.
    await db.execute(
        """
        CREATE TABLE price_corrections (
            model TEXT PRIMARY KEY,
            input_usd REAL NOT NULL,
            output_usd REAL NOT NULL,
            factor REAL NOT NULL,
            bill_usd REAL NOT NULL,
            reserved_usd REAL NOT NULL,
            found_at TEXT NOT NULL
        )
        """
    )


async def m014_tool_turns(db: Schema) -> None:
    # Whether a local attempt was at an agent's turn (the request offered tools, or asked for aider's edit
    # formats): a model that never passed one sits such turns out (pipeline/skips.py).
    await db.execute("ALTER TABLE local_attempts ADD COLUMN tools INTEGER NOT NULL DEFAULT 0")
    await db.execute("CREATE INDEX local_attempts_tools ON local_attempts (model, id) WHERE tools = 1")


async def m015_answer_links(db: Schema) -> None:
    # Each answer Hermes gave, linked by what agents do not rewrite: the answer itself (session.py), no
    # longer the whole history before it, which aider reorders every turn. The same answer in two
    # conversations is two rows; `next_sha256`: the turn that went on from it.
    await db.execute(
        """
        CREATE TABLE answer_links (
            link_sha256 TEXT NOT NULL,
            session_id TEXT NOT NULL,
            cloud_model TEXT,
            next_sha256 TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (link_sha256, session_id)
        )
        """
    )
    await db.execute("DROP TABLE session_links")


async def m016_preference_overrides(db: Schema) -> None:
    # One row per setting changed through the API, stamped when (preferences.py: the newest change wins,
    # in the files or through the API), where there was one row holding all three at once.
    for row in await db.fetch("SELECT value, updated_at FROM preferences WHERE key = 'settings'"):
        for key, value in json.loads(row["value"]).items():
            await db.execute("INSERT INTO preferences (key, value, updated_at) VALUES (?, ?, ?)",
                             (key, json.dumps(value), row["updated_at"]))
    await db.execute("DELETE FROM preferences WHERE key = 'settings'")


MIGRATIONS: list[Callable[[Schema], Awaitable[None]]] = [
    m001_initial, m002_money, m003_cascade, m004_preferences, m005_reservation_owners, m006_day_totals,
    m007_task_detail, m008_savings, m009_session_links, m010_keys,
    m011_outcomes, m012_ledger_indexes, m013_price_corrections, m014_tool_turns,
    m015_answer_links, m016_preference_overrides, m017_catalogue, m018_cache_use, m019_retention,
    m020_prompt_hash]


async def migrate(db: Schema) -> None:
    """Apply every migration this database has not had yet; call inside one unit, which holds the
    backend's lock, so that processes starting together take turns and each sees what the one before
    it applied (and every schema change and its record commit together, or none)."""
    await db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row["name"] for row in await db.fetch("SELECT name FROM migrations")}
    for migration in MIGRATIONS:
        if migration.__name__ not in applied:
            await migration(db)
            await db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                             (migration.__name__, datetime.now(timezone.utc).isoformat()))
